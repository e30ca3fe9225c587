import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveOrderId } from '../../lambdas/orders-api/identity.js';
import { badRequests, VALID_ORDER } from './bad-input-cases.js';
import {
  address,
  callApi,
  executionCount,
  executionsNamed,
  postOrder,
  snapshot,
  waitForOrder,
} from './harness.js';

const key = () => `k-${randomUUID()}`;

describe('the orders API on the local cloud', () => {
  it('accepts an order with 202, runs its saga, and shows the outcome, total and steps', async () => {
    const answer = await postOrder(VALID_ORDER, key());
    const { orderId, status, links } = answer.body as {
      orderId: string;
      status: string;
      links: { self: string };
    };

    expect(answer.status).toBe(202);
    expect(status).toBe('PENDING');
    expect(links.self).toBe(`/orders/${orderId}`);
    const order = await waitForOrder(orderId);
    expect(order).toMatchObject({
      orderId,
      status: 'CONFIRMED',
      customerId: 'api',
      totalCents: 250 + 2 * 1999,
      failure: null,
    });
    expect(
      (order.steps as { step: string; outcome: string }[]).map((step) => [step.step, step.outcome]),
    ).toEqual([
      ['ReserveInventory', 'succeeded'],
      ['ChargePayment', 'succeeded'],
      ['CreateShipment', 'succeeded'],
      ['ConfirmOrder', 'succeeded'],
    ]);
  });

  it('shows a cancelled order with the failure and the compensations that ran', async () => {
    const answer = await postOrder({ ...VALID_ORDER, shippingAddress: address('AQ') }, key());
    const order = await waitForOrder((answer.body as { orderId: string }).orderId);

    expect(order.status).toBe('CANCELLED');
    expect(order.failure).toEqual({
      step: 'CreateShipment',
      error: 'ShippingRejected',
      cause: 'We do not ship to AQ',
    });
    expect((order.steps as { step: string }[]).map((step) => step.step)).toEqual([
      'ReserveInventory',
      'ChargePayment',
      'CreateShipment',
      'CancelShipment',
      'RefundPayment',
      'ReleaseInventory',
      'CancelOrder',
    ]);
  });

  it('turns the same POST sent three times at once into one order and one execution', async () => {
    const idempotencyKey = key();
    const before = await snapshot();
    const answers = await Promise.all([1, 2, 3].map(() => postOrder(VALID_ORDER, idempotencyKey)));
    const orderIds = new Set(answers.map((answer) => (answer.body as { orderId: string }).orderId));

    for (const answer of answers) expect([200, 202]).toContain(answer.status);
    expect(orderIds.size).toBe(1);
    const [orderId] = [...orderIds] as [string];
    await waitForOrder(orderId);
    expect(await executionsNamed(orderId)).toBe(1);
    expect((await snapshot()).orders.length).toBe(before.orders.length + 1);
  });

  it('answers the same key with another body with 422 and changes nothing', async () => {
    const idempotencyKey = key();
    const first = await postOrder(VALID_ORDER, idempotencyKey);
    const { orderId } = first.body as { orderId: string };
    await waitForOrder(orderId);

    const second = await postOrder(
      { ...VALID_ORDER, items: [{ sku: 'API-1', quantity: 3 }] },
      idempotencyKey,
    );

    expect(second.status).toBe(422);
    expect(second.body).toMatchObject({ error: { code: 'IdempotencyKeyReused' } });
    expect(await executionsNamed(orderId)).toBe(1);
  });

  it('answers 404 with a JSON error for an unknown order and an unknown route', async () => {
    const unknownOrder = await callApi('GET', `/orders/${deriveOrderId('nobody', 'nothing')}`);
    expect(unknownOrder.status).toBe(404);
    expect(unknownOrder.body).toMatchObject({ error: { code: 'OrderNotFound' } });

    const unknownRoute = await callApi('DELETE', '/orders');
    expect(unknownRoute.status).toBe(403);
    expect(unknownRoute.body).toMatchObject({ error: { code: 'MissingAuthenticationToken' } });
  });
});

describe('bad input', () => {
  const cases = badRequests();

  it('has at least 200 generated cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
  });

  it('answers every one 4xx with a JSON error naming the problem, and writes nothing', async () => {
    const ordersBefore = (await snapshot()).orders.length;
    const executionsBefore = await executionCount();
    const failures: string[] = [];
    const queue = [...cases];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const answer = await callApi('POST', '/orders', { headers: next.headers, body: next.body });
        const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
        const wellFormed =
          answer.contentType?.startsWith('application/json') &&
          typeof error?.code === 'string' &&
          typeof error.message === 'string';
        if (answer.status < 400 || answer.status >= 500 || !wellFormed) {
          failures.push(`${next.name}: ${answer.status} ${answer.text.slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));

    expect(failures).toEqual([]);
    expect((await snapshot()).orders.length).toBe(ordersBefore);
    expect(await executionCount()).toBe(executionsBefore);
  });
});
