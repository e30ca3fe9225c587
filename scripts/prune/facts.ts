import { CloudFormationClient, paginateListStackResources } from '@aws-sdk/client-cloudformation';
import { LambdaClient, paginateListAliases, paginateListVersionsByFunction } from '@aws-sdk/client-lambda';
import {
  DescribeStateMachineAliasCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  type ExecutionListItem,
  ListStateMachineAliasesCommand,
  type ListStateMachineAliasesCommandOutput,
  ListStateMachineVersionsCommand,
  paginateListExecutions,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { FunctionFacts, MachineFacts, MachineVersion, PruneFacts, ReachableExecution } from './plan.js';

/** Step Functions redrives a closed execution for 14 days after it stopped. */
export const REDRIVE_WINDOW_MS = 14 * 24 * 3600 * 1000;

export interface PruneClients {
  cloudformation: CloudFormationClient;
  sfn: SFNClient;
  lambda: LambdaClient;
}

export function defaultClients(): PruneClients {
  return {
    cloudformation: new CloudFormationClient({}),
    sfn: new SFNClient({}),
    lambda: new LambdaClient({}),
  };
}

export interface GatherOptions {
  stackName: string;
  keepPrevious: number;
  now?: Date;
}

/** An execution that can still run a task: running, waiting for its redrive, or closed within the window. */
export function isReachable(execution: ExecutionListItem, now: Date): boolean {
  if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') return true;
  if (execution.status === 'SUCCEEDED' || !execution.stopDate) return false;
  return now.getTime() - execution.stopDate.getTime() <= REDRIVE_WINDOW_MS;
}

async function stackResources(clients: PruneClients, stackName: string) {
  const resources: { type: string; physicalId: string }[] = [];
  for await (const page of paginateListStackResources(
    { client: clients.cloudformation },
    { StackName: stackName },
  ))
    for (const summary of page.StackResourceSummaries ?? [])
      if (summary.ResourceType && summary.PhysicalResourceId)
        resources.push({ type: summary.ResourceType, physicalId: summary.PhysicalResourceId });
  return resources;
}

async function machineFacts(clients: PruneClients, machineArn: string): Promise<MachineFacts> {
  const versions: MachineVersion[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn.send(
      new ListStateMachineVersionsCommand({ stateMachineArn: machineArn, nextToken }),
    );
    for (const item of page.stateMachineVersions ?? []) {
      if (!item.stateMachineVersionArn) continue;
      const described = await clients.sfn.send(
        new DescribeStateMachineCommand({ stateMachineArn: item.stateMachineVersionArn }),
      );
      versions.push({
        arn: item.stateMachineVersionArn,
        created: item.creationDate ?? new Date(0),
        definition: described.definition ?? '',
      });
    }
    nextToken = page.nextToken;
  } while (nextToken);

  const aliasTargets: string[] = [];
  nextToken = undefined;
  do {
    const page: ListStateMachineAliasesCommandOutput = await clients.sfn.send(
      new ListStateMachineAliasesCommand({ stateMachineArn: machineArn, nextToken }),
    );
    for (const alias of page.stateMachineAliases ?? []) {
      if (!alias.stateMachineAliasArn) continue;
      const described = await clients.sfn.send(
        new DescribeStateMachineAliasCommand({ stateMachineAliasArn: alias.stateMachineAliasArn }),
      );
      for (const route of described.routingConfiguration ?? [])
        if (route.stateMachineVersionArn) aliasTargets.push(route.stateMachineVersionArn);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return { arn: machineArn, versions, aliasTargets };
}

/**
 * The machine's executions that can still run a task. Every execution Step Functions still lists is judged by
 * its status and its last stop, never by its start: an operator may redrive an execution again and again, each
 * time within 14 days of its last stop, so an old start says nothing. Each comes with the definition it runs: its
 * version's, or for one started on the unqualified ARN (before versions, or by hand), the one Step Functions kept
 * for it. A definition that cannot be read stops the prune: without it, nothing says which versions it needs.
 */
async function reachableExecutions(
  clients: PruneClients,
  machine: MachineFacts,
  options: GatherOptions,
): Promise<ReachableExecution[]> {
  const now = options.now ?? new Date();
  const definitionOf = new Map(machine.versions.map((version) => [version.arn, version.definition]));
  const reachable: ReachableExecution[] = [];
  for await (const page of paginateListExecutions(
    { client: clients.sfn },
    { stateMachineArn: machine.arn },
  )) {
    for (const execution of page.executions ?? []) {
      if (!execution.executionArn || !isReachable(execution, now)) continue;
      const versionArn = execution.stateMachineVersionArn;
      let definition = versionArn ? definitionOf.get(versionArn) : undefined;
      if (definition === undefined) {
        const described = await clients.sfn.send(
          new DescribeStateMachineForExecutionCommand({ executionArn: execution.executionArn }),
        );
        definition = described.definition;
      }
      if (!definition) throw new Error(`No definition for ${execution.executionArn}: nothing pruned`);
      reachable.push({
        executionArn: execution.executionArn,
        ...(versionArn ? { versionArn } : {}),
        definition,
      });
    }
  }
  return reachable;
}

async function functionFacts(clients: PruneClients, functionName: string): Promise<FunctionFacts> {
  let arn = '';
  const versions: string[] = [];
  for await (const page of paginateListVersionsByFunction(
    { client: clients.lambda },
    { FunctionName: functionName },
  ))
    for (const version of page.Versions ?? []) {
      if (version.Version === '$LATEST') arn = version.FunctionArn?.replace(/:\$LATEST$/, '') ?? arn;
      else if (version.Version) versions.push(version.Version);
    }
  const aliasTargets: string[] = [];
  for await (const page of paginateListAliases({ client: clients.lambda }, { FunctionName: functionName }))
    for (const alias of page.Aliases ?? []) {
      if (alias.FunctionVersion) aliasTargets.push(alias.FunctionVersion);
      aliasTargets.push(...Object.keys(alias.RoutingConfig?.AdditionalVersionWeights ?? {}));
    }
  return { arn, versions, aliasTargets };
}

/** Everything planPrune decides with, read from the stage's stack and the services. */
export async function gatherFacts(clients: PruneClients, options: GatherOptions): Promise<PruneFacts> {
  const resources = await stackResources(clients, options.stackName);
  const machines: MachineFacts[] = [];
  const reachable: ReachableExecution[] = [];
  for (const { physicalId } of resources.filter((r) => r.type === 'AWS::StepFunctions::StateMachine')) {
    const machine = await machineFacts(clients, physicalId);
    machines.push(machine);
    reachable.push(...(await reachableExecutions(clients, machine, options)));
  }
  const functions: FunctionFacts[] = [];
  for (const { physicalId } of resources.filter((r) => r.type === 'AWS::Lambda::Function'))
    functions.push(await functionFacts(clients, physicalId));
  return { machines, functions, reachable, keepPrevious: options.keepPrevious };
}
