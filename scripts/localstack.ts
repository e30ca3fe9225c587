import { mkdirSync } from 'node:fs';
import { OUTPUTS_DIR, outputsFileOf, runCdk, type StageInvocation, stageInvocation } from './cdk-stage.js';

/** The LocalStack the README's steps pin: the last community tag that runs without an auth token. */
export const LOCALSTACK_VERSION = '4.14.0';
export const DEFAULT_LOCALSTACK_ENDPOINT = 'http://localhost:4566';
/** LocalStack's default account and region; the deploy never leaves them, whatever the caller's AWS setup says. */
export const LOCALSTACK_ACCOUNT = '000000000000';
export const LOCALSTACK_REGION = 'us-east-1';

/**
 * Every service the deploy touches: the CDK bootstrap (CloudFormation, S3 for assets, SSM for the bootstrap
 * version, IAM and STS for its roles) and the stack's own resources. Names as LocalStack's SERVICES and
 * health endpoint spell them.
 */
export const LOCALSTACK_SERVICES = [
  'cloudformation',
  's3',
  'ssm',
  'sts',
  'iam',
  'lambda',
  'dynamodb',
  'dynamodbstreams',
  'sqs',
  'stepfunctions',
  'apigateway',
  'events',
  'cloudwatch',
  'logs',
  'sns',
  'kms',
] as const;

/** Service states in `/_localstack/health` that mean a call would be refused. */
const UNUSABLE = new Set(['disabled', 'error']);

/**
 * The environment the cdk CLI runs in. None of the caller's AWS or CDK account settings come along: with
 * dummy keys and every endpoint pointed at LocalStack, a slip cannot reach a real account. The CLI uses
 * path-style S3 addresses for a loopback endpoint on its own; CDK_S3_FORCE_PATH_STYLE does it for any
 * other (a compose service name), where `<bucket>.<host>` would not resolve.
 */
export function localstackEnv(base: NodeJS.ProcessEnv, endpoint: string): NodeJS.ProcessEnv {
  const kept = Object.fromEntries(
    Object.entries(base).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('CDK_DEFAULT_')),
  );
  return {
    ...kept,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: LOCALSTACK_REGION,
    AWS_DEFAULT_REGION: LOCALSTACK_REGION,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    CDK_S3_FORCE_PATH_STYLE: '1',
    // No instance metadata to ask on a laptop: the SDK would only wait for its timeout.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

export interface LocalStackDeployment extends StageInvocation {
  endpoint: string;
  env: NodeJS.ProcessEnv;
  /** The cdk CLI's args for the bootstrap, then for the deploy. */
  bootstrapArgs: string[];
  deployArgs: string[];
  outputsFile: string;
}

/**
 * Bootstrap, then deploy the stage (dev unless `-c stage=...`) exactly as `npm run deploy` would, except that
 * its outputs go to cdk-outputs/localstack.json and nobody is asked to approve IAM changes in an emulator.
 */
export function localstackDeployment(
  args: readonly string[],
  endpoint: string = DEFAULT_LOCALSTACK_ENDPOINT,
  base: NodeJS.ProcessEnv = process.env,
): LocalStackDeployment {
  const approval = args.some((arg) => arg.startsWith('--require-approval'))
    ? []
    : ['--require-approval', 'never'];
  const invocation = stageInvocation('deploy', [...approval, ...args], 'localstack');
  return {
    ...invocation,
    endpoint,
    env: localstackEnv(base, endpoint),
    bootstrapArgs: ['bootstrap', `aws://${LOCALSTACK_ACCOUNT}/${LOCALSTACK_REGION}`],
    deployArgs: invocation.cdkArgs,
    outputsFile: outputsFileOf(invocation.stage, 'localstack'),
  };
}

export interface LocalStackHealth {
  version?: string;
  edition?: string;
  services: Record<string, string>;
}

export type FetchHealth = (url: string) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

const fetchWithTimeout: FetchHealth = (url) => fetch(url, { signal: AbortSignal.timeout(5_000) });

function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer within 5 s';
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/**
 * Asks LocalStack's health endpoint before anything runs, so an unreachable or misconfigured LocalStack is
 * one line naming what to do, not a bootstrap that times out call by call.
 */
export async function checkLocalStack(
  endpoint: string,
  fetchHealth: FetchHealth = fetchWithTimeout,
): Promise<LocalStackHealth> {
  const url = `${endpoint.replace(/\/+$/, '')}/_localstack/health`;
  const start = `start it first (README, "LocalStack") or set LOCALSTACK_ENDPOINT`;
  let response: Awaited<ReturnType<FetchHealth>>;
  try {
    response = await fetchHealth(url);
  } catch (error) {
    throw new Error(`LocalStack does not answer at ${url} (${reasonOf(error)}): ${start}`);
  }
  if (!response.ok)
    throw new Error(`LocalStack does not answer at ${url} (HTTP ${response.status}): ${start}`);
  const health = (await response.json().catch(() => undefined)) as Partial<LocalStackHealth> | undefined;
  if (!health || typeof health.services !== 'object' || health.services === null)
    throw new Error(`${url} answered, but not as LocalStack's health endpoint does: ${start}`);
  const services = health.services;
  const missing = LOCALSTACK_SERVICES.filter((name) => !services[name] || UNUSABLE.has(services[name]));
  if (missing.length > 0)
    throw new Error(
      `LocalStack at ${endpoint} cannot serve ${missing.join(', ')}: start it with SERVICES=${LOCALSTACK_SERVICES.join(',')}`,
    );
  return {
    services,
    ...(health.version ? { version: health.version } : {}),
    ...(health.edition ? { edition: health.edition } : {}),
  };
}

async function main(): Promise<void> {
  const endpoint = process.env.LOCALSTACK_ENDPOINT ?? DEFAULT_LOCALSTACK_ENDPOINT;
  const deployment = localstackDeployment(process.argv.slice(2), endpoint);
  const health = await checkLocalStack(endpoint);
  console.log(
    `LocalStack ${health.version ?? '(version unknown)'} (${health.edition ?? 'edition unknown'}) at ${endpoint}`,
  );
  if (health.version && !health.version.startsWith(LOCALSTACK_VERSION))
    console.warn(
      `The README's LocalStack steps pin ${LOCALSTACK_VERSION}; ${health.version} may differ from what it says.`,
    );
  mkdirSync(OUTPUTS_DIR, { recursive: true });
  const bootstrapped = runCdk(deployment.bootstrapArgs, deployment.env);
  if (bootstrapped !== 0) process.exit(bootstrapped);
  const status = runCdk(deployment.deployArgs, deployment.env);
  if (status === 0)
    console.log(`Stack outputs of ${deployment.stage.stackName} on LocalStack: ${deployment.outputsFile}`);
  process.exit(status);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/scripts\//, '/scripts/'))) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
