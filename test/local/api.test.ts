import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { callsFor } from '../faults/driver.js';
import { badRequests, VALID_ORDER } from './bad-input-cases.js';
import {
  address,
  assertInvariants,
  balanceOf,
  callApi,
  executionCount,
  executionsFor,
  notificationsOf,
  orderIdOf,
  postOrder,
  rowsOf,
  snapshot,
  stockOf,
  waitForOrder,
} from './harness.js';

const key = () => `k-${randomUUID()}`;
const SKUS = VALID_ORDER.items.map((line) => line.sku);
const TOTAL_CENTS = 250 + 2 * 1999;

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

  it('serves GET /orders/{id} from the order record alone: no Step Functions call, steps only on request', async () => {
    const { orderId } = (await postOrder(VALID_ORDER, key())).body as { orderId: string };
    await waitForOrder(orderId);
    const stepFunctionsCalls = async () =>
      (await callsFor(orderId))
        .filter((entry) => entry.caller === 'OrdersApiFunction' && entry.call.startsWith('states:'))
        .reduce((total, entry) => total + entry.count, 0);
    const before = await stepFunctionsCalls();

    const plain = await callApi('GET', `/orders/${orderId}`);
    expect(plain.body).toMatchObject({ status: 'CONFIRMED', totalCents: TOTAL_CENTS });
    expect(plain.body).not.toHaveProperty('steps');
    expect(await stepFunctionsCalls()).toBe(before);

    const withSteps = await callApi('GET', `/orders/${orderId}?include=steps`);
    expect((withSteps.body as { steps: unknown[] }).steps).toHaveLength(4);
    expect(await stepFunctionsCalls()).toBeGreaterThan(before);
  });

  it('shows a cancelled order with the failure and the compensations that ran', async () => {
    const answer = await postOrder({ ...VALID_ORDER, shippingAddress: address('AQ') }, key());
    const order = await waitForOrder((answer.body as { orderId: string }).orderId);

    expect(order.status).toBe('CANCELLED');
    // The caller gets the code and a fixed sentence; the step's own text stays with the operators.
    expect(order.failure).toEqual({
      step: 'CreateShipment',
      error: 'ShippingRejected',
      cause: 'The shipment could not be arranged',
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
    await assertInvariants({ orderIds: [String(order.orderId)], customerIds: ['api'], skus: SKUS });
  });

  it('turns the same POST sent three times at once into one order and one execution', async () => {
    const idempotencyKey = key();
    const since = new Date();
    const before = await snapshot();
    const answers = await Promise.all([1, 2, 3].map(() => postOrder(VALID_ORDER, idempotencyKey)));
    const orderIds = new Set(answers.map((answer) => (answer.body as { orderId: string }).orderId));

    for (const answer of answers) expect([200, 202]).toContain(answer.status);
    expect(orderIds.size).toBe(1);
    const [orderId] = [...orderIds] as [string];
    expect((await waitForOrder(orderId)).status).toBe('CONFIRMED');
    await assertInvariants({ orderIds: [orderId], customerIds: ['api'], skus: SKUS });

    const after = await snapshot();
    expect(after.orders.length).toBe(before.orders.length + 1);
    expect(await executionsFor(orderId, since)).toEqual([
      expect.objectContaining({ machine: 'StateMachineArn', status: 'SUCCEEDED' }),
    ]);
    // Stock taken and money charged once, and the order placed once: a second saga or a second order
    // record would show here even where the barriers absorbed it.
    expect(balanceOf(after, 'api')).toBe((balanceOf(before, 'api') ?? 0) - TOTAL_CENTS);
    for (const line of VALID_ORDER.items)
      expect(stockOf(after, line.sku)?.available).toBe(
        (stockOf(before, line.sku)?.available ?? 0) - line.quantity,
      );
    expect(notificationsOf(after, orderId).sort()).toEqual(['OrderConfirmed', 'OrderPlaced']);
    expect((await rowsOf('OrdersTableName', `OUTBOX#${orderId}`)).map((row) => row.eventType).sort()).toEqual(
      ['OrderConfirmed', 'OrderPlaced'],
    );
  });

  it('answers the same key with another body with 422 and changes nothing', async () => {
    const idempotencyKey = key();
    const since = new Date();
    const first = await postOrder(VALID_ORDER, idempotencyKey);
    const { orderId } = first.body as { orderId: string };
    await waitForOrder(orderId);
    await assertInvariants({ orderIds: [orderId], customerIds: ['api'], skus: SKUS });
    const before = await snapshot();
    const recordBefore = await rowsOf('OrdersTableName', `ORDER#${orderId}`);

    const second = await postOrder(
      { ...VALID_ORDER, items: [{ sku: 'API-1', quantity: 3 }] },
      idempotencyKey,
    );

    expect(second.status).toBe(422);
    expect(second.body).toMatchObject({ error: { code: 'IdempotencyKeyReused' } });
    // Give a wrongly started saga the time to reserve: one step takes well under a second locally.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await snapshot();
    expect(await rowsOf('OrdersTableName', `ORDER#${orderId}`)).toEqual(recordBefore);
    expect(await executionsFor(orderId, since)).toHaveLength(1);
    expect(balanceOf(after, 'api')).toBe(balanceOf(before, 'api'));
    for (const sku of SKUS) expect(stockOf(after, sku)).toEqual(stockOf(before, sku));
    expect(after.orders.length).toBe(before.orders.length);
    await assertInvariants({ orderIds: [orderId], customerIds: ['api'], skus: SKUS });
  });

  it('answers 404 with a JSON error for an unknown order and an unknown route', async () => {
    const unknownOrder = await callApi('GET', `/orders/${orderIdOf('nobody', 'nothing')}`);
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
