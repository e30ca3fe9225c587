import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RefusedTarget, resolveTarget } from '../e2e/targets.js';

function projectWith(files: Record<string, unknown>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'e2e-targets-'));
  mkdirSync(path.join(root, 'cdk-outputs'));
  for (const [name, content] of Object.entries(files))
    writeFileSync(path.join(root, 'cdk-outputs', name), JSON.stringify(content));
  return root;
}

const DEV_OUTPUTS = {
  OrderSaga: {
    ApiUrl: 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1/',
    OrdersTableName: 'OrderSaga-OrdersTable-X',
  },
};

describe('the e2e target', () => {
  it('is the local cloud by default', () => {
    expect(resolveTarget({}, projectWith({}))).toEqual({ kind: 'local' });
    expect(resolveTarget({ E2E_TARGET: 'local' }, projectWith({}))).toEqual({ kind: 'local' });
  });

  it('refuses the prod stage on aws, whether or not it was deployed', () => {
    const deployed = projectWith({ 'prod.json': { 'OrderSaga-prod': DEV_OUTPUTS.OrderSaga } });
    expect(() => resolveTarget({ E2E_TARGET: 'aws', E2E_STAGE: 'prod' }, deployed)).toThrow(RefusedTarget);
    expect(() => resolveTarget({ E2E_TARGET: 'aws', E2E_STAGE: 'prod' }, projectWith({}))).toThrow(
      /refuses the prod stage/,
    );
  });

  it('reads the dev stage outputs for aws: the API URL and its region', () => {
    const resolution = resolveTarget({ E2E_TARGET: 'aws' }, projectWith({ 'dev.json': DEV_OUTPUTS }));
    expect(resolution).toMatchObject({
      kind: 'remote',
      target: {
        name: 'aws',
        apiUrl: 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1',
        region: 'eu-west-1',
        outputs: { OrdersTableName: 'OrderSaga-OrdersTable-X' },
      },
    });
    // The default credential chain signs, not fixed keys.
    expect(resolution.kind === 'remote' && resolution.target.credentials).toBeUndefined();
  });

  it('skips a target whose outputs file is missing, with a one-line reason', () => {
    for (const env of [
      { E2E_TARGET: 'aws' },
      { E2E_TARGET: 'aws', E2E_STAGE: 'dev' },
      { E2E_TARGET: 'localstack' },
    ]) {
      const resolution = resolveTarget(env, projectWith({}));
      expect(resolution.kind).toBe('skip');
      if (resolution.kind === 'skip')
        expect(resolution.reason).toMatch(/^no ApiUrl .*cdk-outputs\/.*\.json: run npm run deploy/);
    }
  });

  it("calls LocalStack's API on its edge endpoint, from LOCALSTACK_ENDPOINT", () => {
    const root = projectWith({
      'localstack.json': {
        OrderSaga: { ApiUrl: 'https://abcdef1234.execute-api.us-east-1.amazonaws.com/v1/' },
      },
    });
    expect(resolveTarget({ E2E_TARGET: 'localstack' }, root)).toMatchObject({
      target: {
        apiUrl: 'http://localhost:4566/_aws/execute-api/abcdef1234/v1',
        awsEndpoint: 'http://localhost:4566',
      },
    });
    expect(
      resolveTarget({ E2E_TARGET: 'localstack', LOCALSTACK_ENDPOINT: 'http://localstack:4566/' }, root),
    ).toMatchObject({ target: { apiUrl: 'http://localstack:4566/_aws/execute-api/abcdef1234/v1' } });
  });

  it('fails on an unknown target or stage instead of running something else', () => {
    expect(() => resolveTarget({ E2E_TARGET: 'staging' }, projectWith({}))).toThrow(
      /expected one of local, localstack, aws/,
    );
    expect(() => resolveTarget({ E2E_TARGET: 'aws', E2E_STAGE: 'qa' }, projectWith({}))).toThrow(
      /Unknown stage "qa"/,
    );
  });
});
