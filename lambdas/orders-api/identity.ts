import { createHash } from 'node:crypto';

/**
 * The order id is a function of who asked and their idempotency key: a retried POST finds the same order
 * (and the same execution name) without a lookup table, and two customers' keys never collide.
 */
export function deriveOrderId(customerId: string, idempotencyKey: string): string {
  return `ord_${createHash('sha256').update(`${customerId}\u0000${idempotencyKey}`).digest('hex').slice(0, 32)}`;
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
