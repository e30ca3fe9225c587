import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import {
  DeleteFunctionCommand,
  LambdaClient,
  ListAliasesCommand,
  ListVersionsByFunctionCommand,
} from '@aws-sdk/client-lambda';
import {
  DeleteStateMachineVersionCommand,
  DescribeStateMachineAliasCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  ListExecutionsCommand,
  ListStateMachineAliasesCommand,
  ListStateMachineVersionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { STAGES } from '../../lib/stages.js';
import { gatherFacts, isReachable, REDRIVE_WINDOW_MS } from '../../scripts/prune/facts.js';
import { functionVersionsIn, type MachineVersion, planPrune } from '../../scripts/prune/plan.js';
import { applyPlan, parsePruneArgs } from '../../scripts/prune-versions.js';

const machine = 'arn:aws:states:us-east-1:111111111111:stateMachine:OrderSaga';
const reserve = 'arn:aws:lambda:us-east-1:111111111111:function:OrderSaga-Reserve';
const now = new Date('2026-11-25T12:00:00Z');
const daysAgo = (days: number) => new Date(now.getTime() - days * 24 * 3600 * 1000);

/** A definition as a release publishes it: its tasks name the function versions of that release. */
const definitionInvoking = (version: number) =>
  JSON.stringify({
    StartAt: 'Reserve',
    States: { Reserve: { Type: 'Task', Resource: `${reserve}:${version}`, End: true } },
  });

const versions: MachineVersion[] = [1, 2, 3, 4, 5].map((n) => ({
  arn: `${machine}:${n}`,
  created: daysAgo(50 - n),
  definition: definitionInvoking(n),
}));

describe('planPrune', () => {
  const facts = (overrides: Partial<Parameters<typeof planPrune>[0]> = {}) => ({
    machines: [{ arn: machine, versions, aliasTargets: [`${machine}:5`] }],
    functions: [{ arn: reserve, versions: ['1', '2', '3', '4', '5'], aliasTargets: [] }],
    reachable: [],
    keepPrevious: 1,
    ...overrides,
  });

  it('keeps the live version and its rollback targets with the function versions they invoke; deletes the rest', () => {
    const plan = planPrune(facts());
    expect(plan.deleteMachineVersions).toEqual([`${machine}:1`, `${machine}:2`, `${machine}:3`]);
    expect(plan.deleteFunctionVersions).toEqual([`${reserve}:1`, `${reserve}:2`, `${reserve}:3`]);
    expect(plan.kept.get(`${machine}:4`)).toBe('rollback target');
  });

  it('keeps what an execution still running or redrivable runs, through its version or its own definition', () => {
    const plan = planPrune(
      facts({
        reachable: [
          { executionArn: 'e-versioned', versionArn: `${machine}:2`, definition: definitionInvoking(2) },
          // Started on the unqualified machine before versions: only its definition says what it invokes.
          { executionArn: 'e-unversioned', definition: definitionInvoking(1) },
        ],
      }),
    );
    expect(plan.deleteMachineVersions).toEqual([`${machine}:1`, `${machine}:3`]);
    expect(plan.deleteFunctionVersions).toEqual([`${reserve}:3`]);
  });

  it('keeps a version an alias routes to at any weight, the newest function version, and one a function alias names', () => {
    const plan = planPrune(
      facts({
        machines: [{ arn: machine, versions, aliasTargets: [`${machine}:5`, `${machine}:2`] }],
        functions: [{ arn: reserve, versions: ['1', '2', '3', '4', '5', '6'], aliasTargets: ['1'] }],
      }),
    );
    expect(plan.deleteMachineVersions).toEqual([`${machine}:1`, `${machine}:3`]);
    expect(plan.deleteFunctionVersions).toEqual([`${reserve}:3`]);
  });

  it('finds the qualified function ARNs wherever a definition names them', () => {
    const definition = JSON.stringify({
      States: {
        A: { Resource: `${reserve}:7` },
        B: { Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: `${reserve}:live` } },
        C: { Resource: reserve },
      },
    });
    expect(functionVersionsIn(definition)).toEqual([`${reserve}:7`, `${reserve}:live`]);
  });
});

describe('reachable executions', () => {
  it.each([
    ['running', { status: 'RUNNING' as const }, true],
    ['waiting for its redrive', { status: 'PENDING_REDRIVE' as const }, true],
    ['failed within the redrive window', { status: 'FAILED' as const, stopDate: daysAgo(13) }, true],
    ['failed past the redrive window', { status: 'FAILED' as const, stopDate: daysAgo(15) }, false],
    ['timed out yesterday', { status: 'TIMED_OUT' as const, stopDate: daysAgo(1) }, true],
    ['succeeded', { status: 'SUCCEEDED' as const, stopDate: daysAgo(1) }, false],
  ])('an execution %s: %s', (_, execution, reachable) => {
    expect(
      isReachable(
        { executionArn: 'e', stateMachineArn: machine, name: 'e', startDate: daysAgo(20), ...execution },
        now,
      ),
    ).toBe(reachable);
  });
});

describe('prune:versions against the services', () => {
  const cloudformation = mockClient(CloudFormationClient);
  const sfn = mockClient(SFNClient);
  const lambda = mockClient(LambdaClient);
  const clients = {
    cloudformation: new CloudFormationClient({}),
    sfn: new SFNClient({}),
    lambda: new LambdaClient({}),
  };

  beforeEach(() => {
    cloudformation.reset();
    sfn.reset();
    lambda.reset();
    cloudformation.on(ListStackResourcesCommand).resolves({
      StackResourceSummaries: [
        {
          ResourceType: 'AWS::StepFunctions::StateMachine',
          PhysicalResourceId: machine,
          LogicalResourceId: 'M',
          ResourceStatus: 'CREATE_COMPLETE',
          LastUpdatedTimestamp: now,
        },
        {
          ResourceType: 'AWS::Lambda::Function',
          PhysicalResourceId: 'OrderSaga-Reserve',
          LogicalResourceId: 'F',
          ResourceStatus: 'CREATE_COMPLETE',
          LastUpdatedTimestamp: now,
        },
      ],
    });
    sfn.on(ListStateMachineVersionsCommand).resolves({
      stateMachineVersions: versions.map((v) => ({ stateMachineVersionArn: v.arn, creationDate: v.created })),
    });
    for (const version of versions)
      sfn
        .on(DescribeStateMachineCommand, { stateMachineArn: version.arn })
        .resolves({ definition: version.definition });
    sfn.on(ListStateMachineAliasesCommand).resolves({
      stateMachineAliases: [{ stateMachineAliasArn: `${machine}:live`, creationDate: now }],
    });
    sfn.on(DescribeStateMachineAliasCommand).resolves({
      routingConfiguration: [{ stateMachineVersionArn: `${machine}:5`, weight: 100 }],
    });
    sfn.on(ListExecutionsCommand).resolvesOnce({
      nextToken: 'page-2',
      executions: [
        {
          executionArn: 'e-running',
          stateMachineArn: machine,
          name: 'a',
          status: 'RUNNING',
          startDate: daysAgo(0),
          stateMachineVersionArn: `${machine}:3`,
        },
        {
          executionArn: 'e-old',
          stateMachineArn: machine,
          name: 'b',
          status: 'FAILED',
          startDate: daysAgo(13),
          stopDate: daysAgo(13),
        },
        {
          executionArn: 'e-gone',
          stateMachineArn: machine,
          name: 'c',
          status: 'FAILED',
          startDate: daysAgo(30),
          stopDate: daysAgo(30),
        },
      ],
    });
    // Listed after executions long closed: started long ago, but redriven by an operator two days ago.
    sfn.on(ListExecutionsCommand, { nextToken: 'page-2' }).resolves({
      executions: [
        {
          executionArn: 'e-redriven',
          stateMachineArn: machine,
          name: 'd',
          status: 'FAILED',
          startDate: daysAgo(60),
          stopDate: daysAgo(2),
          stateMachineVersionArn: `${machine}:2`,
        },
      ],
    });
    sfn
      .on(DescribeStateMachineForExecutionCommand, { executionArn: 'e-old' })
      .resolves({ definition: definitionInvoking(1) });
    lambda.on(ListVersionsByFunctionCommand).resolves({
      Versions: ['$LATEST', '1', '2', '3', '4', '5'].map((Version) => ({
        Version,
        FunctionArn: `${reserve}:${Version}`,
      })),
    });
    lambda.on(ListAliasesCommand).resolves({ Aliases: [] });
  });

  it('reads the stage, then deletes only what nothing can run, machine versions before function versions', async () => {
    const facts = await gatherFacts(clients, {
      stackName: 'OrderSaga',
      keepPrevious: 1,
      now,
    });
    expect(facts.reachable.map((e) => e.executionArn)).toEqual(['e-running', 'e-old', 'e-redriven']);
    expect(sfn.commandCalls(DescribeStateMachineForExecutionCommand)).toHaveLength(1);
    const plan = planPrune(facts);
    sfn.on(DeleteStateMachineVersionCommand).resolves({});
    lambda.on(DeleteFunctionCommand).resolves({});
    await applyPlan(clients, plan);
    expect(
      sfn.commandCalls(DeleteStateMachineVersionCommand).map((c) => c.args[0].input.stateMachineVersionArn),
    ).toEqual([`${machine}:1`]);
    // Version 1 is invoked by the unversioned e-old, version 2 by e-redriven: every function version stays.
    expect(lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(0);
    expect(REDRIVE_WINDOW_MS).toBe(14 * 24 * 3600 * 1000);
  });

  it('prunes nothing when a reachable execution’s definition cannot be read', async () => {
    sfn.on(DescribeStateMachineForExecutionCommand, { executionArn: 'e-old' }).resolves({});
    await expect(gatherFacts(clients, { stackName: 'OrderSaga', keepPrevious: 1, now })).rejects.toThrow(
      /No definition for e-old: nothing pruned/,
    );
  });
});

describe('prune:versions arguments', () => {
  it('takes the stage as npm run deploy does, and a rollback depth', () => {
    expect(parsePruneArgs(['-c', 'stage=prod', '--keep-previous', '0', '--dry-run'])).toEqual({
      stage: STAGES.prod,
      keepPrevious: 0,
      dryRun: true,
    });
    expect(parsePruneArgs([]).stage).toBe(STAGES.dev);
  });

  it('refuses an unknown stage and a negative depth', () => {
    expect(() => parsePruneArgs(['-c', 'stage=qa'])).toThrow(/Unknown stage "qa"/);
    expect(() => parsePruneArgs(['--keep-previous=-1'])).toThrow(/whole number/);
  });
});
