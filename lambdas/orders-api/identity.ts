import { createHash, createHmac } from 'node:crypto';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * The order id is a function of who asked and their idempotency key: a retried POST finds the same order
 * (and the same execution name) without a lookup table, and two customers' keys never collide. It is an HMAC
 * under a key only the stack holds, so nobody can compute another customer's order ids offline (customer ids
 * and short idempotency keys are guessable) or claim a victim's next id before they do.
 */
export function deriveOrderId(key: string, customerId: string, idempotencyKey: string): string {
  const mac = createHmac('sha256', key).update(`${customerId}\u0000${idempotencyKey}`).digest('hex');
  return `ord_${mac.slice(0, 32)}`;
}

/**
 * The id an order placed before keyed ids got: anyone could compute it, so it is never given to a new order. It
 * is only looked up, until the stage's cut-off, so that a client retrying a POST it first sent before the keyed
 * ids were deployed finds that order instead of placing a second one.
 */
export function legacyOrderId(customerId: string, idempotencyKey: string): string {
  return `ord_${createHash('sha256').update(`${customerId}\u0000${idempotencyKey}`).digest('hex').slice(0, 32)}`;
}

/** Anything shorter is guessable; Secrets Manager generates 64 characters for the stack (OrderIdKey). */
const MIN_KEY_LENGTH = 32;

/**
 * Reads the order-id key once per execution environment: the first request of a cold start waits for it,
 * every later one shares the same promise. A failed read is not cached, so the next request tries again.
 */
export function orderIdKeyReader(client: SecretsManagerClient, secretId: string): () => Promise<string> {
  let read: Promise<string> | undefined;
  return () => {
    read ??= client
      .send(new GetSecretValueCommand({ SecretId: secretId }))
      .then(({ SecretString }) => {
        if (!SecretString || SecretString.length < MIN_KEY_LENGTH)
          throw new Error(
            `The order-id key ${secretId} is missing or shorter than ${MIN_KEY_LENGTH} characters`,
          );
        return SecretString;
      })
      .catch((error: unknown) => {
        read = undefined;
        throw error;
      });
    return read;
  };
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** Fingerprint of a request's meaning: key order and whitespace do not change it, any value does. */
export function requestHash(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(body)))
    .digest('hex');
}
