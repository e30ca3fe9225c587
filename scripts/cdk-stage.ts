import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { STAGE_CONTEXT_KEY, type StageConfig, stageConfig } from '../lib/stages.js';

/** Where `npm run deploy` writes a stage's stack outputs, and where scripts and tests read them. */
export const OUTPUTS_DIR = 'cdk-outputs';

/** Where a deploy goes: the account of your AWS credentials, or a LocalStack (`npm run deploy:localstack`). */
export type DeployTarget = 'aws' | 'localstack';

export function outputsFileOf(stage: StageConfig, target: DeployTarget = 'aws'): string {
  // A LocalStack's outputs get a file of their own, so they never pass for the stage's deploy on AWS.
  return path.join(OUTPUTS_DIR, target === 'localstack' ? 'localstack.json' : `${stage.name}.json`);
}

export type StageCommand = 'deploy' | 'destroy';

export interface StageInvocation {
  stage: StageConfig;
  /** What the cdk CLI is run with: the command, the stage context, the outputs file, then the caller's args. */
  cdkArgs: string[];
  /** The assembly directory cdk synthesizes into (`-o`/`--output`), where the stack's template is read from. */
  outputDir: string;
}

/** The `stage=<name>` of one `-c`/`--context` value, if it is that key's. */
function stageOfContext(value: string | undefined): string | undefined {
  const prefix = `${STAGE_CONTEXT_KEY}=`;
  return value?.startsWith(prefix) ? value.slice(prefix.length) : undefined;
}

/**
 * Reads the stage from the args as the cdk CLI would (`-c stage=prod`, `--context stage=prod`,
 * `--context=stage=prod`; dev without one) and passes every arg through, so `npm run deploy -- <cdk args>`
 * takes any cdk option. The stage context is always explicit in what cdk gets: the app and this script
 * cannot disagree about the stage.
 */
export function stageInvocation(
  command: StageCommand,
  args: readonly string[],
  target: DeployTarget = 'aws',
): StageInvocation {
  const named: string[] = [];
  let outputDir = 'cdk.out';
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? splitOnce(arg) : [arg, undefined];
    const value = inline ?? args[index + 1];
    if (flag === '-c' || flag === '--context') {
      const name = stageOfContext(value);
      if (name !== undefined) named.push(name);
      if (inline === undefined) index++;
    } else if (flag === '-o' || flag === '--output') {
      if (value) outputDir = value;
      if (inline === undefined) index++;
    } else if (flag === '--outputs-file') {
      throw new Error(
        `${flag} is set by the script: a stage's outputs go to ${OUTPUTS_DIR}/<stage>.json (${OUTPUTS_DIR}/localstack.json on LocalStack)`,
      );
    }
  }
  if (new Set(named).size > 1) throw new Error(`Conflicting stages in the args: ${named.join(', ')}`);
  const stage = stageConfig(named[0]);
  const cdkArgs = [
    command,
    ...(named.length === 0 ? ['--context', `${STAGE_CONTEXT_KEY}=${stage.name}`] : []),
    ...(command === 'deploy' ? ['--outputs-file', outputsFileOf(stage, target)] : []),
    ...args,
  ];
  return { stage, cdkArgs, outputDir };
}

function splitOnce(arg: string): [string, string] {
  const at = arg.indexOf('=');
  return [arg.slice(0, at), arg.slice(at + 1)];
}

interface TemplateJson {
  Resources?: Record<string, { Type: string; DeletionPolicy?: string }>;
  Outputs?: Record<string, { Value?: unknown }>;
}

export interface KeptResource {
  logicalId: string;
  type: string;
  /** Retain (the resource stays), or Snapshot (a final snapshot stays). */
  policy: string;
  /** The physical name, when a stack output named it (from the deploy's outputs file). */
  physicalId?: string;
}

/** DeletionPolicy values under which something outlives the stack. */
const KEEPING_POLICIES = new Set(['Retain', 'RetainExceptOnCreate', 'Snapshot']);

/**
 * What deleting the stack leaves in the account: every resource whose DeletionPolicy keeps it (or a snapshot
 * of it), named by the stack outputs that `Ref` it when the deploy's outputs are known. In logical-id order.
 */
export function keptResources(template: TemplateJson, outputs: Record<string, string> = {}): KeptResource[] {
  const physicalIds = new Map<string, string>();
  for (const [name, output] of Object.entries(template.Outputs ?? {})) {
    const ref = (output.Value as { Ref?: unknown } | undefined)?.Ref;
    const physical = outputs[name];
    if (typeof ref === 'string' && physical) physicalIds.set(ref, physical);
  }
  return Object.entries(template.Resources ?? {})
    .filter(([, resource]) => resource.DeletionPolicy && KEEPING_POLICIES.has(resource.DeletionPolicy))
    .map(([logicalId, resource]) => ({
      logicalId,
      type: resource.Type,
      policy: resource.DeletionPolicy ?? '',
      ...(physicalIds.has(logicalId) ? { physicalId: physicalIds.get(logicalId) } : {}),
    }))
    .sort((a, b) => a.logicalId.localeCompare(b.logicalId));
}

export function describeKept(stage: StageConfig, kept: readonly KeptResource[]): string {
  if (kept.length === 0) return `${stage.stackName} kept nothing: every resource went with the stack.`;
  const lines = kept.map(
    (resource) =>
      `  ${resource.type}  ${resource.logicalId}${resource.physicalId ? ` (${resource.physicalId})` : ''}${resource.policy === 'Snapshot' ? '  [snapshot]' : ''}`,
  );
  return [
    `${stage.stackName} kept ${kept.length} resource(s) (DeletionPolicy ${[...new Set(kept.map((r) => r.policy))].join(', ')}); they stay in the account, and cost, until removed by hand:`,
    ...lines,
    ...(stage.tableDeletionProtection && kept.some((resource) => resource.type === 'AWS::DynamoDB::Table')
      ? ['  The tables have deletion protection: turn it off before deleting one.']
      : []),
  ].join('\n');
}

/** The stack outputs a deploy of the stage wrote, or none when it was not deployed from here. */
export function readStageOutputs(
  stage: StageConfig,
  root = '.',
  target: DeployTarget = 'aws',
): Record<string, string> {
  const file = path.join(root, outputsFileOf(stage, target));
  if (!existsSync(file)) return {};
  const byStack = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  return byStack[stage.stackName] ?? {};
}

export function runCdk(args: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  const result = spawnSync('npx', ['cdk', ...args], { stdio: 'inherit', env });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

/**
 * The script asks itself and runs `cdk destroy --force`: declining cdk's own prompt exits 0 like a destroy
 * does, and the script would then report a stage as removed that still runs.
 */
async function confirmed(stage: StageConfig, args: readonly string[]): Promise<boolean> {
  if (args.includes('--force') || args.includes('-f')) return true;
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question(`Delete the stack ${stage.stackName} (stage ${stage.name})? (y/n) `);
  prompt.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  if (command !== 'deploy' && command !== 'destroy') {
    console.error(
      'Usage: npm run deploy [-- -c stage=<name> <cdk args>] | npm run destroy [-- -c stage=<name> <cdk args>]',
    );
    process.exit(2);
  }
  const invocation = stageInvocation(command, args);
  const { stage } = invocation;
  if (command === 'deploy') {
    mkdirSync(OUTPUTS_DIR, { recursive: true });
    const status = runCdk(invocation.cdkArgs);
    if (status === 0) console.log(`Stack outputs of ${stage.stackName}: ${outputsFileOf(stage)}`);
    process.exit(status);
  }
  if (!(await confirmed(stage, args))) {
    console.log(`${stage.stackName} left as it is.`);
    return;
  }
  // Read before the destroy: the outputs name what the stack leaves behind, and go stale with it.
  const outputs = readStageOutputs(stage);
  const force = args.includes('--force') || args.includes('-f') ? [] : ['--force'];
  const status = runCdk([...invocation.cdkArgs, ...force]);
  if (status !== 0) process.exit(status);
  const templateFile = path.join(invocation.outputDir, `${stage.stackName}.template.json`);
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as TemplateJson;
  console.log(describeKept(stage, keptResources(template, outputs)));
  rmSync(outputsFileOf(stage), { force: true });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/scripts\//, '/scripts/'))) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
