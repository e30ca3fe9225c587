import { createHash } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { deriveOrderId, orderIdKeyReader } from '../../lambdas/orders-api/identity.js';
import { TEST_ORDER_ID_KEY } from './order-id-key.js';

const SECRET = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:OrderIdKey-AbCdEf';

describe('order ids', () => {
  it('are the same for the same customer and key, and differ for another customer or key', () => {
    const id = deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'k');
    expect(id).toMatch(/^ord_[0-9a-f]{32}$/);
    expect(deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'k')).toBe(id);
    expect(deriveOrderId(TEST_ORDER_ID_KEY, 'c-2', 'k')).not.toBe(id);
    expect(deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'k2')).not.toBe(id);
  });

  it('cannot be computed without the stack’s key: neither the plain hash nor another key gives them', () => {
    const id = deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'k');
    const unkeyed = `ord_${createHash('sha256').update('c-1\u0000k').digest('hex').slice(0, 32)}`;
    expect(id).not.toBe(unkeyed);
    expect(deriveOrderId('another-key-of-the-same-length-0123456', 'c-1', 'k')).not.toBe(id);
  });
});

describe('the order-id key', () => {
  const secrets = mockClient(SecretsManagerClient);
  beforeEach(() => secrets.reset());
  afterAll(() => secrets.on(GetSecretValueCommand).resolves({ SecretString: TEST_ORDER_ID_KEY }));

  it('is read once per execution environment, however many requests wait for it', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: TEST_ORDER_ID_KEY });
    const key = orderIdKeyReader(new SecretsManagerClient({}), SECRET);
    const keys = await Promise.all([key(), key(), key()]);
    expect(await key()).toBe(TEST_ORDER_ID_KEY);
    expect(new Set(keys)).toEqual(new Set([TEST_ORDER_ID_KEY]));
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: SECRET });
  });

  it('is read again after a failed read, which is not remembered', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: TEST_ORDER_ID_KEY });
    const key = orderIdKeyReader(new SecretsManagerClient({}), SECRET);
    await expect(key()).rejects.toThrow('throttled');
    expect(await key()).toBe(TEST_ORDER_ID_KEY);
  });

  it('refuses a missing or short key rather than deriving guessable ids', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'short' });
    const key = orderIdKeyReader(new SecretsManagerClient({}), SECRET);
    await expect(key()).rejects.toThrow(/shorter than 32 characters/);
  });
});
