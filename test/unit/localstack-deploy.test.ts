import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STAGES } from '../../lib/stages.js';
import { readStageOutputs } from '../../scripts/cdk-stage.js';
import {
  checkLocalStack,
  LOCALSTACK_SERVICES,
  localstackDeployment,
  localstackEnv,
} from '../../scripts/localstack.js';

const ENDPOINT = 'http://localhost:4566';

describe('npm run deploy:localstack', () => {
  it('bootstraps LocalStack’s account and region, then deploys dev as npm run deploy would, outputs to localstack.json', () => {
    const deployment = localstackDeployment([], ENDPOINT, {});
    expect(deployment.stage).toBe(STAGES.dev);
    expect(deployment.bootstrapArgs).toEqual(['bootstrap', 'aws://000000000000/us-east-1']);
    expect(deployment.deployArgs).toEqual([
      'deploy',
      '--context',
      'stage=dev',
      '--outputs-file',
      'cdk-outputs/localstack.json',
      '--require-approval',
      'never',
    ]);
    expect(deployment.outputsFile).toBe('cdk-outputs/localstack.json');
  });

  it('passes cdk args through, the stage and an approval setting of the caller’s included', () => {
    const deployment = localstackDeployment(
      ['-c', 'stage=prod', '--require-approval=broadening'],
      ENDPOINT,
      {},
    );
    expect(deployment.stage).toBe(STAGES.prod);
    expect(deployment.deployArgs).toEqual([
      'deploy',
      '--outputs-file',
      'cdk-outputs/localstack.json',
      '-c',
      'stage=prod',
      '--require-approval=broadening',
    ]);
  });

  it('runs cdk with dummy keys and every endpoint on LocalStack, none of the caller’s AWS setup kept', () => {
    const env = localstackEnv(
      {
        PATH: '/usr/bin',
        AWS_PROFILE: 'prod-admin',
        AWS_ACCESS_KEY_ID: 'AKIAREAL',
        AWS_SECRET_ACCESS_KEY: 'real',
        AWS_SESSION_TOKEN: 'token',
        AWS_ENDPOINT_URL_SFN: 'https://states.eu-west-1.amazonaws.com',
        CDK_DEFAULT_ACCOUNT: '123456789012',
      },
      'http://localstack:4566',
    );
    expect(env).toEqual({
      PATH: '/usr/bin',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: 'http://localstack:4566',
      AWS_ENDPOINT_URL_S3: 'http://localstack:4566',
      CDK_S3_FORCE_PATH_STYLE: '1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
  });

  it('refuses an outputs file of the caller’s; its outputs are read from localstack.json, never from dev.json', () => {
    expect(() => localstackDeployment(['--outputs-file', 'x.json'], ENDPOINT, {})).toThrow(
      /localstack\.json/,
    );
    const root = mkdtempSync(path.join(tmpdir(), 'outputs-'));
    mkdirSync(path.join(root, 'cdk-outputs'));
    writeFileSync(
      path.join(root, 'cdk-outputs/dev.json'),
      JSON.stringify({ OrderSaga: { ApiUrl: 'https://aws' } }),
    );
    expect(readStageOutputs(STAGES.dev, root, 'localstack')).toEqual({});
    const onLocalStack = { ApiUrl: 'http://localhost:4566/restapis/x/prod/_user_request_' };
    writeFileSync(
      path.join(root, 'cdk-outputs/localstack.json'),
      JSON.stringify({ OrderSaga: onLocalStack }),
    );
    expect(readStageOutputs(STAGES.dev, root, 'localstack')).toEqual(onLocalStack);
    expect(readStageOutputs(STAGES.dev, root)).toEqual({ ApiUrl: 'https://aws' });
  });
});

describe('the LocalStack check before anything runs', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** A local HTTP server answering every request with this status and body; its endpoint. */
  async function answering(status: number, body: unknown): Promise<string> {
    server = createServer((_, response) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** An endpoint nobody listens on: a port just released. */
  async function closedEndpoint(): Promise<string> {
    const endpoint = await answering(200, {});
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    return endpoint;
  }

  const allServices = (state: string) => Object.fromEntries(LOCALSTACK_SERVICES.map((name) => [name, state]));

  it('passes a LocalStack with every service the deploy needs, and says which one it is', async () => {
    const endpoint = await answering(200, {
      services: { ...allServices('available'), lambda: 'running', ec2: 'disabled' },
      edition: 'community',
      version: '4.14.0',
    });
    await expect(checkLocalStack(endpoint)).resolves.toMatchObject({
      version: '4.14.0',
      edition: 'community',
    });
  });

  it('refuses in one line naming the health URL when nothing answers', async () => {
    const endpoint = await closedEndpoint();
    const refusal = await checkLocalStack(endpoint).catch((error: Error) => error.message);
    expect(refusal).toBe(
      `LocalStack does not answer at ${endpoint}/_localstack/health (ECONNREFUSED): start it first (README, "LocalStack") or set LOCALSTACK_ENDPOINT`,
    );
  });

  it('refuses what answers but is not LocalStack', async () => {
    await expect(checkLocalStack(await answering(404, 'not found'))).rejects.toThrow(/HTTP 404/);
    await expect(checkLocalStack(await answering(200, '<html>'))).rejects.toThrow(/not as LocalStack/);
  });

  it('refuses a LocalStack with a needed service disabled, naming it and the SERVICES to start with', async () => {
    const endpoint = await answering(200, {
      services: { ...allServices('available'), stepfunctions: 'disabled', sns: 'error' },
    });
    await expect(checkLocalStack(endpoint)).rejects.toThrow(
      `cannot serve stepfunctions, sns: start it with SERVICES=${LOCALSTACK_SERVICES.join(',')}`,
    );
  });

  it('stops the whole script there: exit 1, one line, no cdk run', async () => {
    const endpoint = await closedEndpoint();
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/localstack.ts'], {
      env: { ...process.env, LOCALSTACK_ENDPOINT: endpoint },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^LocalStack does not answer at /)]);
  }, 60_000);
});
