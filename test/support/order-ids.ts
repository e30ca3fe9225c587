import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { deriveOrderId } from '../../lambdas/orders-api/identity.js';

export type OrderIdOf = (customerId: string, idempotencyKey: string) => string;

/**
 * Order ids are an HMAC under the stack's secret key, so a test knows an order's id before its POST only with
 * that key: the local cloud's, made at boot and listed by GET /_local/secrets, or a deployment's, read from its
 * OrderIdKeySecretArn with the caller's own credentials.
 */
export async function localOrderIdOf(apiUrl: string): Promise<OrderIdOf> {
  const response = await fetch(`${apiUrl}/_local/secrets`);
  const { secrets } = (await response.json()) as { secrets: { name: string; value: string }[] };
  const key = secrets.find((secret) => secret.name.includes('OrderIdKey'))?.value;
  if (!key) throw new Error(`The local cloud at ${apiUrl} has no OrderIdKey secret`);
  return (customerId, idempotencyKey) => deriveOrderId(key, customerId, idempotencyKey);
}

export async function deployedOrderIdOf(client: SecretsManagerClient, secretArn: string): Promise<OrderIdOf> {
  const { SecretString: key } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!key) throw new Error(`${secretArn} holds no key`);
  return (customerId, idempotencyKey) => deriveOrderId(key, customerId, idempotencyKey);
}
