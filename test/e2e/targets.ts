import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { STAGES, stageConfig } from '../../lib/stages.js';

export const TARGETS = ['local', 'localstack', 'aws'] as const;
export type TargetName = (typeof TARGETS)[number];

export const DEFAULT_LOCALSTACK_ENDPOINT = 'http://localhost:4566';
/** LocalStack checks no signature, but a request must carry one to look like an SDK's. */
const LOCALSTACK_KEYS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** A deployment the suite reaches over the network. */
export interface RemoteTarget {
  name: 'localstack' | 'aws';
  /** The stage's base URL without a trailing slash: `<ApiUrl>` minus `/`, or LocalStack's `/_aws/execute-api/<apiId>/<stage>` form. */
  apiUrl: string;
  region: string;
  /** The stack outputs the deploy wrote (table names for the fixtures and their cleanup). */
  outputs: Record<string, string>;
  /** Where the fixtures are written: LocalStack's edge endpoint; AWS's own when undefined. */
  awsEndpoint?: string;
  /** Fixed keys, or undefined for the default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Where the outputs were read, for messages. */
  outputsFile: string;
}

export type TargetResolution =
  | { kind: 'local' }
  | { kind: 'remote'; target: RemoteTarget }
  | { kind: 'skip'; target: TargetName; reason: string };

/** Running against this stage is refused outright, not skipped: the suite creates orders and deletes rows. */
export class RefusedTarget extends Error {
  override name = 'RefusedTarget';
}

type Env = Record<string, string | undefined>;

function readOutputs(file: string, stackName: string): Record<string, string> | undefined {
  if (!existsSync(file)) return undefined;
  const byStack = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  return byStack[stackName];
}

/** `https://<apiId>.execute-api.<region>.amazonaws.com/<stage>/` as CloudFormation reports it. */
function parseApiUrl(apiUrl: string): { apiId: string; region: string; stage: string } | undefined {
  const match = apiUrl.match(/^https:\/\/([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.[^/]+\/([^/]+)\/?$/);
  return match ? { apiId: match[1] ?? '', region: match[2] ?? '', stage: match[3] ?? '' } : undefined;
}

/**
 * Which deployment the suite runs against, from E2E_TARGET (`local` by default), E2E_STAGE (aws: `dev` by
 * default) and LOCALSTACK_ENDPOINT, and the outputs file `npm run deploy` (or `deploy:localstack`) wrote. A
 * target without its outputs is skipped with the reason; the prod stage is refused.
 */
export function resolveTarget(env: Env, root = '.'): TargetResolution {
  const name = (env.E2E_TARGET || 'local') as TargetName;
  if (!TARGETS.includes(name)) {
    throw new Error(`E2E_TARGET=${env.E2E_TARGET}: expected one of ${TARGETS.join(', ')}`);
  }
  if (name === 'local') return { kind: 'local' };

  if (name === 'localstack') {
    const outputsFile = path.join(root, 'cdk-outputs', 'localstack.json');
    const outputs = readOutputs(outputsFile, STAGES.dev.stackName);
    if (!outputs?.ApiUrl) {
      return {
        kind: 'skip',
        target: name,
        reason: `no ApiUrl in ${outputsFile}: run npm run deploy:localstack first`,
      };
    }
    const parsed = parseApiUrl(outputs.ApiUrl);
    if (!parsed)
      return { kind: 'skip', target: name, reason: `ApiUrl ${outputs.ApiUrl} is not an execute-api URL` };
    const endpoint = (env.LOCALSTACK_ENDPOINT || DEFAULT_LOCALSTACK_ENDPOINT).replace(/\/$/, '');
    return {
      kind: 'remote',
      target: {
        name,
        // The path form LocalStack serves on its edge port, whatever <apiId>.execute-api.* resolves to here.
        apiUrl: `${endpoint}/_aws/execute-api/${parsed.apiId}/${parsed.stage}`,
        region: parsed.region,
        outputs,
        awsEndpoint: endpoint,
        credentials: LOCALSTACK_KEYS,
        outputsFile,
      },
    };
  }

  const stageName = env.E2E_STAGE || 'dev';
  const stage = stageConfig(stageName);
  if (stage.name === 'prod') {
    throw new RefusedTarget(
      'E2E_TARGET=aws refuses the prod stage: the suite places orders and deletes what it created. Deploy a dev stage (npm run deploy) and run it there.',
    );
  }
  const outputsFile = path.join(root, 'cdk-outputs', `${stage.name}.json`);
  const outputs = readOutputs(outputsFile, stage.stackName);
  if (!outputs?.ApiUrl) {
    return {
      kind: 'skip',
      target: name,
      reason: `no ApiUrl for ${stage.stackName} in ${outputsFile}: run npm run deploy first`,
    };
  }
  const parsed = parseApiUrl(outputs.ApiUrl);
  if (!parsed)
    return { kind: 'skip', target: name, reason: `ApiUrl ${outputs.ApiUrl} is not an execute-api URL` };
  return {
    kind: 'remote',
    target: { name, apiUrl: outputs.ApiUrl.replace(/\/$/, ''), region: parsed.region, outputs, outputsFile },
  };
}
