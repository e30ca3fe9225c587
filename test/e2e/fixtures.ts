import { randomBytes, randomUUID } from 'node:crypto';
import type { Seed } from '../../local/seed.js';
import type { ApiAnswer, CallerRole } from './api-client.js';
import type { E2eSession } from './session.js';

/** Names of this run alone: a deployment keeps other runs' rows until their cleanup, and other people's. */
const run = randomBytes(3).toString('hex').toUpperCase();
export const SKU = `E2E-${run}-STOCK`;
export const RARE_SKU = `E2E-${run}-RARE`;
export const CUSTOMER = `e2e-${run}-rich`;
export const BROKE_CUSTOMER = `e2e-${run}-broke`;
export const PRICE_CENTS = 1000;

export const FIXTURES: Seed = {
  inventory: [
    { sku: SKU, stock: 100, priceCents: PRICE_CENTS },
    { sku: RARE_SKU, stock: 1, priceCents: 50_000 },
  ],
  accounts: [
    { customerId: CUSTOMER, balanceCents: 10_000_000 },
    { customerId: BROKE_CUSTOMER, balanceCents: 0 },
  ],
};

export const address = (country = 'US') => ({
  line1: '1 Main St',
  city: 'Springfield',
  postalCode: '12345',
  country,
});

export interface NewOrder {
  key: string;
  /** Known before the POST: faults and cleanup can name it ahead. */
  orderId: string;
  body: { customerId: string; items: { sku: string; quantity: number }[]; shippingAddress: object };
}

export function newOrder(
  session: Pick<E2eSession, 'orderIdOf'>,
  options: { customerId?: string; sku?: string; quantity?: number; country?: string } = {},
): NewOrder {
  const key = `e2e-${randomUUID()}`;
  const customerId = options.customerId ?? CUSTOMER;
  return {
    key,
    orderId: session.orderIdOf(customerId, key),
    body: {
      customerId,
      items: [{ sku: options.sku ?? SKU, quantity: options.quantity ?? 1 }],
      shippingAddress: address(options.country),
    },
  };
}

export async function placeOrder(
  session: E2eSession,
  order: NewOrder,
  body: unknown = order.body,
  as: CallerRole = 'client',
): Promise<ApiAnswer> {
  session.track(order.orderId);
  return session.api.call('POST', '/orders', { as, headers: { 'Idempotency-Key': order.key }, body });
}

export interface OrderView {
  orderId: string;
  status: string;
  pendingAction: unknown;
  failure?: { step?: string; error?: string; reason?: string };
  steps?: { step: string; outcome: string }[];
  actions?: { action: string; actor: string; reason: string; outcome?: string }[];
}

const FINAL_OR_WAITING = new Set(['CONFIRMED', 'CANCELLED', 'NEEDS_ATTENTION', 'COMPENSATION_FAILED']);

/** Polls GET /orders/{id} until the order settles (final or with a person, no action running) and checks it is `status`. */
export async function settledOrder(
  session: E2eSession,
  orderId: string,
  status: string,
  timeoutMs = 45_000,
): Promise<OrderView> {
  const deadline = Date.now() + timeoutMs;
  let last: OrderView | undefined;
  while (Date.now() < deadline) {
    const answer = await session.api.call('GET', `/orders/${orderId}?include=steps`, { as: 'operator' });
    last = answer.body as OrderView;
    const stepsDone = !last?.steps?.some((step) => step.outcome === 'running');
    if (
      answer.status === 200 &&
      FINAL_OR_WAITING.has(last.status) &&
      last.pendingAction == null &&
      stepsDone
    ) {
      if (last.status === status) return last;
      // Settled elsewhere: only a person moves it on, and this test is not one.
      throw new Error(`order ${orderId} settled ${last.status}, not ${status}: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`order ${orderId} is not ${status} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

export const stepNames = (order: OrderView) => (order.steps ?? []).map((step) => step.step);

/** Polls until `probe` returns a value (not undefined), or fails naming `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`waited ${timeoutMs} ms for ${what}`);
}
