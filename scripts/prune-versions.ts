import { parseArgs } from 'node:util';
import { DeleteFunctionCommand } from '@aws-sdk/client-lambda';
import { DeleteStateMachineVersionCommand } from '@aws-sdk/client-sfn';
import { STAGE_CONTEXT_KEY, type StageConfig, stageConfig } from '../lib/stages.js';
import { defaultClients, gatherFacts, type PruneClients } from './prune/facts.js';
import { type PrunePlan, planPrune } from './prune/plan.js';

const USAGE = `Usage: npm run prune:versions -- [-c stage=<name>] [--keep-previous <n>] [--dry-run]
  Removes the Lambda and state machine versions of a deployed stage that nothing can run any more: no alias
  routes to them, they are not among the newest (1 + keep-previous) of their machine, and no execution that is
  running or still redrivable (14 days after it stopped) runs their definition.
  -c stage=<name>     the stage (default dev), as for npm run deploy
  --keep-previous <n> rollback targets kept behind each machine's newest version (default 2)
  --dry-run           print the plan, delete nothing`;

export interface PruneArgs {
  stage: StageConfig;
  keepPrevious: number;
  dryRun: boolean;
}

export function parsePruneArgs(args: string[]): PruneArgs {
  const { values } = parseArgs({
    args,
    options: {
      context: { type: 'string', short: 'c', multiple: true },
      'keep-previous': { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
  });
  const stageNames = (values.context ?? [])
    .filter((value) => value.startsWith(`${STAGE_CONTEXT_KEY}=`))
    .map((value) => value.slice(STAGE_CONTEXT_KEY.length + 1));
  if (new Set(stageNames).size > 1) throw new Error(`Conflicting stages: ${stageNames.join(', ')}`);
  const keepPrevious = Number(values['keep-previous'] ?? '2');
  if (!Number.isInteger(keepPrevious) || keepPrevious < 0)
    throw new Error(`--keep-previous must be a whole number, got "${values['keep-previous']}"`);
  return { stage: stageConfig(stageNames[0]), keepPrevious, dryRun: values['dry-run'] ?? false };
}

export function describePlan(plan: PrunePlan): string {
  const lines = [...plan.kept].map(([arn, reason]) => `keep    ${arn} (${reason})`);
  lines.push(...plan.deleteMachineVersions.map((arn) => `delete  ${arn}`));
  lines.push(...plan.deleteFunctionVersions.map((arn) => `delete  ${arn}`));
  return lines.join('\n');
}

/** Machine versions first: once no kept definition names a function version, that version can go. */
export async function applyPlan(clients: PruneClients, plan: PrunePlan): Promise<void> {
  for (const stateMachineVersionArn of plan.deleteMachineVersions)
    await clients.sfn.send(new DeleteStateMachineVersionCommand({ stateMachineVersionArn }));
  for (const arn of plan.deleteFunctionVersions) {
    const at = arn.lastIndexOf(':');
    await clients.lambda.send(
      new DeleteFunctionCommand({ FunctionName: arn.slice(0, at), Qualifier: arn.slice(at + 1) }),
    );
  }
}

async function main(): Promise<number> {
  let args: PruneArgs;
  try {
    args = parsePruneArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const clients = defaultClients();
  const { stage } = args;
  const facts = await gatherFacts(clients, {
    stackName: stage.stackName,
    keepPrevious: args.keepPrevious,
  });
  const plan = planPrune(facts);
  console.log(describePlan(plan));
  const count = plan.deleteMachineVersions.length + plan.deleteFunctionVersions.length;
  if (args.dryRun || count === 0) {
    console.log(
      `${count} version(s) to delete in ${stage.stackName}${args.dryRun ? ' (dry run: nothing deleted)' : ''}`,
    );
    return 0;
  }
  await applyPlan(clients, plan);
  console.log(`Deleted ${count} version(s) in ${stage.stackName}; ${plan.kept.size} kept.`);
  return 0;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/scripts\//, '/scripts/'))) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`prune:versions failed: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
