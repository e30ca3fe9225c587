import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretNameOf } from '../src/aws-calls/requests.js';
import { DUMMY_CREDENTIALS } from '../src/emulator-credentials.js';
import { authorizationRequestsOf } from '../src/iam/request-arns.js';
import { LocalSecrets, secretsManagerOperation } from '../src/secrets-manager.js';
import { type CfnTemplate, physicalNames } from '../src/template.js';

const template: CfnTemplate = {
  Resources: {
    Key: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: { GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true } },
    },
    Fixed: { Type: 'AWS::SecretsManager::Secret', Properties: { Name: 'fixed', SecretString: 'the value' } },
  },
};
const names = physicalNames(template, { stackName: 'Stack' });
const keyArn = names.Key?.ref ?? '';

describe('secrets in the template', () => {
  it('are named by an ARN with the six-character suffix Secrets Manager adds', () => {
    expect(keyArn).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:Stack-Key-[0-9a-f]{6}$/);
    expect(names.Fixed?.ref).toMatch(/:secret:fixed-[0-9a-f]{6}$/);
    expect(secretNameOf(keyArn)).toBe('Stack-Key');
    expect(secretNameOf('fixed')).toBe('fixed');
  });

  it('get a generated value as GenerateSecretString asks, different at each boot', () => {
    const [first, second] = [new LocalSecrets(template, names), new LocalSecrets(template, names)].map(
      (secrets) => secrets.find(keyArn)?.value ?? '',
    );
    expect(first).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(second).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(first).not.toBe(second);
    expect(new LocalSecrets(template, names).find('fixed')?.value).toBe('the value');
  });

  it('are authorized on their full ARN, however the caller names them', () => {
    const scope = { region: 'us-east-1', accountId: '000000000000', secretArnOf: () => keyArn };
    for (const SecretId of [keyArn, 'Stack-Key'])
      expect(
        authorizationRequestsOf(
          { service: 'secretsmanager', operation: 'GetSecretValue', resources: [], body: { SecretId } },
          scope,
        ),
      ).toEqual([{ action: 'secretsmanager:GetSecretValue', resource: keyArn }]);
  });
});

describe('GetSecretValue and DescribeSecret', () => {
  const secrets = new LocalSecrets(template, names);
  let server: Server;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () =>
        secrets.handle(
          secretsManagerOperation(request) ?? '',
          Buffer.concat(chunks).toString('utf8'),
          response,
        ),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new SecretsManagerClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: DUMMY_CREDENTIALS,
    });
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers the value by ARN, by name, and by the ARN without its suffix', async () => {
    const value = secrets.find(keyArn)?.value;
    for (const SecretId of [keyArn, 'Stack-Key', keyArn.slice(0, -7)]) {
      const answer = await client.send(new GetSecretValueCommand({ SecretId }));
      expect(answer).toMatchObject({ ARN: keyArn, Name: 'Stack-Key', SecretString: value });
    }
    expect(await client.send(new DescribeSecretCommand({ SecretId: 'fixed' }))).toMatchObject({
      Name: 'fixed',
    });
  });

  it('answers ResourceNotFoundException for a secret the template does not have', async () => {
    await expect(client.send(new GetSecretValueCommand({ SecretId: 'nope' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
