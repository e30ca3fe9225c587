import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { pendingOrderRow } from '../../lambdas/orders/orders.js';
import { executionArnOf } from '../../lambdas/orders/saga-client.js';
import {
  address,
  armFault,
  assertInvariants,
  attemptsOf,
  balanceOf,
  callApi,
  clearFaults,
  eventually,
  executionsFor,
  historyOf,
  listFaults,
  notificationsOf,
  orderIdOf,
  output,
  postOrder,
  reconcile,
  rowsOf,
  runSchedule,
  runScheduledFunction,
  sfn,
  shipmentStatusOf,
  snapshot,
  stockOf,
  waitForOrder,
  waitForStatus,
  writeOrderRecord,
} from './harness.js';

const CUSTOMER = 'recovery';
const SKU = 'RECOVERY';
const OPERATOR_REASON = 'the cause is fixed';
const mine = (orderId: string) => ({ orderIds: [orderId], customerIds: [CUSTOMER], skus: [SKU] });

/** An order for this file's own customer and SKU, whose id is known before it is placed (to aim faults at it). */
function newOrder(country = 'US') {
  const key = `k-${randomUUID()}`;
  return {
    key,
    orderId: orderIdOf(CUSTOMER, key),
    body: { customerId: CUSTOMER, items: [{ sku: SKU, quantity: 2 }], shippingAddress: address(country) },
  };
}

const sagaArnOf = (orderId: string) => executionArnOf(output('StateMachineArn'), orderId);

async function waitForStep(orderId: string, step: string): Promise<void> {
  await eventually(`${orderId} to reach ${step}`, async () => {
    const { steps = [] } = (await callApi('GET', `/orders/${orderId}?include=steps`)).body as {
      steps?: { step: string }[];
    };
    return steps.some((entry) => entry.step === step) ? true : undefined;
  });
}

async function notified(orderId: string, eventTypes: string[]): Promise<string[]> {
  return eventually(`notifications ${eventTypes.join(', ')} for ${orderId}`, async () => {
    const sent = notificationsOf(await snapshot(), orderId);
    return eventTypes.every((type) => sent.includes(type)) ? sent : undefined;
  });
}

afterEach(async () => {
  await clearFaults();
});

describe('reconcile without a body on the local cloud', () => {
  it('starts the execution a PENDING order never got, once', async () => {
    const since = new Date();
    const orderId = orderIdOf(CUSTOMER, `k-${randomUUID()}`);
    await writeOrderRecord(
      pendingOrderRow(
        {
          orderId,
          customerId: CUSTOMER,
          items: [{ sku: SKU, quantity: 1 }],
          shippingAddress: address(),
          traceId: randomUUID(),
          requestHash: 'h',
        },
        new Date().toISOString(),
      ),
    );

    const first = await reconcile(orderId);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      result: 'started',
      found: { orderStatus: 'PENDING', executionStatus: 'NONE' },
      action: 'started-execution',
    });
    expect((await waitForOrder(orderId)).status).toBe('CONFIRMED');
    await assertInvariants(mine(orderId));
    const confirmed = await snapshot();

    const second = await reconcile(orderId);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      result: 'nothing',
      found: { orderStatus: 'CONFIRMED', executionStatus: 'SUCCEEDED' },
      action: 'none',
    });
    expect(await executionsFor(orderId, since)).toEqual([
      expect.objectContaining({ name: orderId, status: 'SUCCEEDED' }),
    ]);
    const after = await snapshot();
    expect(balanceOf(after, CUSTOMER)).toBe(balanceOf(confirmed, CUSTOMER));
    expect(stockOf(after, SKU)).toEqual(stockOf(confirmed, SKU));
    await assertInvariants(mine(orderId));
  });

  it('aligns a record that drifted from its finished execution, without starting another', async () => {
    const since = new Date();
    const order = newOrder();
    await postOrder(order.body, order.key);
    const placed = await waitForOrder(order.orderId);
    // The record as it was before the saga ran, its execution's record lost with it.
    await writeOrderRecord(
      pendingOrderRow(
        { ...order.body, orderId: order.orderId, traceId: 't', requestHash: 'h' },
        String(placed.createdAt),
      ),
    );

    const answer = await reconcile(order.orderId);

    expect(answer.body).toMatchObject({
      found: { orderStatus: 'PENDING', executionStatus: 'SUCCEEDED' },
      action: 'set-status-CONFIRMED',
    });
    expect((await waitForStatus(order.orderId, 'CONFIRMED')).status).toBe('CONFIRMED');
    expect(await executionsFor(order.orderId, since)).toEqual([
      expect.objectContaining({ name: order.orderId, status: 'SUCCEEDED' }),
    ]);
    await assertInvariants(mine(order.orderId));
  });

  it('the sweeper starts the saga of an order left PENDING without an execution', async () => {
    const since = new Date();
    const orderId = orderIdOf(CUSTOMER, `k-${randomUUID()}`);
    await writeOrderRecord(
      pendingOrderRow(
        {
          orderId,
          customerId: CUSTOMER,
          items: [{ sku: SKU, quantity: 1 }],
          shippingAddress: address(),
          traceId: randomUUID(),
          requestHash: 'h',
        },
        new Date(Date.now() - 10 * 60_000).toISOString(),
      ),
    );

    // Other files' orders may be ahead of it in the index: a run reaches at most its batch, the next goes on.
    await eventually('the sweeper to start it', async () => {
      await runScheduledFunction('OrderSaga-sweeper');
      return (await executionsFor(orderId, since)).length > 0 ? true : undefined;
    });
    expect((await waitForOrder(orderId)).status).toBe('CONFIRMED');
    // Sweeping again once the saga ran starts nothing more.
    await runScheduledFunction('OrderSaga-sweeper');
    expect(await executionsFor(orderId, since)).toEqual([
      expect.objectContaining({ name: orderId, status: 'SUCCEEDED' }),
    ]);
    await assertInvariants(mine(orderId));
  });

  it('answers 404 for a schedule the template does not have', async () => {
    const run = await runSchedule('nothing-here');
    expect(run.status).toBe(404);
    expect(run.body).toMatchObject({ error: { code: 'UnknownSchedule' } });
  });
});

describe("an operator's stop", () => {
  it('is left alone by reconcile and the sweeper: the order waits for a person, and a redrive resumes it', async () => {
    const since = new Date();
    const order = newOrder();
    await armFault({ target: 'ShippingWorker', mode: 'error', count: 1000, orderId: order.orderId });
    await postOrder(order.body, order.key);
    await waitForStep(order.orderId, 'CreateShipment');
    await sfn.send(
      new StopExecutionCommand({ executionArn: sagaArnOf(order.orderId), error: 'OperatorStopped' }),
    );
    await clearFaults();

    const aligned = await reconcile(order.orderId);
    expect(aligned.status).toBe(200);
    expect(aligned.body).toMatchObject({
      found: { executionStatus: 'ABORTED' },
      action: 'set-status-NEEDS_ATTENTION',
      status: 'NEEDS_ATTENTION',
    });
    expect(await runScheduledFunction('OrderSaga-sweeper')).toMatchObject({ failed: 0 });
    expect((await reconcile(order.orderId)).body).toMatchObject({ result: 'nothing' });
    const waiting = (await callApi('GET', `/orders/${order.orderId}`)).body as Record<string, unknown>;
    expect(waiting).toMatchObject({ status: 'NEEDS_ATTENTION', failure: { reason: 'execution-stopped' } });
    expect(
      (await sfn.send(new DescribeExecutionCommand({ executionArn: sagaArnOf(order.orderId) }))).status,
    ).toBe('ABORTED');

    const redrive = await reconcile(order.orderId, { action: 'redrive', reason: OPERATOR_REASON });
    expect(redrive.status).toBe(202);
    const done = await waitForStatus(order.orderId, 'CONFIRMED');
    // Resumed, not restarted: stock was reserved and money taken once, under the same execution.
    expect(
      (done.steps as { step: string }[]).filter((step) => step.step === 'ReserveInventory'),
    ).toHaveLength(1);
    expect(await executionsFor(order.orderId, since)).toEqual([
      expect.objectContaining({ name: order.orderId, status: 'SUCCEEDED' }),
    ]);
    expect(done.actions).toEqual([
      expect.objectContaining({ action: 'redrive', reason: OPERATOR_REASON, outcome: 'CONFIRMED' }),
    ]);
    await notified(order.orderId, ['OrderNeedsAttention', 'OrderConfirmed']);
    await assertInvariants(mine(order.orderId));
  });
});

describe("an operator's cancel", () => {
  it('stops a saga stuck before the pivot and unwinds it: stock and money come back', async () => {
    const since = new Date();
    const before = await snapshot();
    const order = newOrder();
    await armFault({ target: 'ShippingWorker', mode: 'error', count: 1000, orderId: order.orderId });
    await postOrder(order.body, order.key);
    await waitForStep(order.orderId, 'CreateShipment');

    const cancel = await reconcile(order.orderId, { action: 'cancel', reason: 'the customer called' });
    expect(cancel.status).toBe(202);
    expect(cancel.body).toMatchObject({ action: 'started-cancel', pendingAction: { action: 'cancel' } });

    const cancelled = await waitForStatus(order.orderId, 'CANCELLED');
    expect(cancelled.actions).toEqual([
      expect.objectContaining({ action: 'cancel', reason: 'the customer called', outcome: 'CANCELLED' }),
    ]);
    const after = await snapshot();
    expect(stockOf(after, SKU)).toEqual(stockOf(before, SKU));
    expect(balanceOf(after, CUSTOMER)).toBe(balanceOf(before, CUSTOMER));
    expect(shipmentStatusOf(after, order.orderId)).toBeUndefined();
    // The saga stopped where it was, and one unwind undid what it had done.
    expect(await executionsFor(order.orderId, since)).toEqual([
      expect.objectContaining({ name: order.orderId, status: 'ABORTED' }),
      expect.objectContaining({
        machine: 'UnwindStateMachineArn',
        name: `${order.orderId}-cancel-1`,
        status: 'FAILED',
        error: 'OrderCancelled',
      }),
    ]);
    expect(after.charges.filter((charge) => charge.orderId === order.orderId)).toEqual([
      expect.objectContaining({ status: 'REFUNDED' }),
    ]);
    expect(after.reservations.filter((line) => line.orderId === order.orderId)).toEqual([
      { orderId: order.orderId, sku: SKU, quantity: 2, released: true },
    ]);
    await notified(order.orderId, ['OrderCancelled']);
    await assertInvariants(mine(order.orderId));
  });

  it('finishes unwinding a COMPENSATION_FAILED order once the cause is fixed', {
    timeout: 120_000,
  }, async () => {
    const before = await snapshot();
    const order = newOrder('BR');
    await armFault({ target: 'RefundPayment', mode: 'error', count: 1000, orderId: order.orderId });
    await postOrder(order.body, order.key);
    const failed = await waitForStatus(order.orderId, 'COMPENSATION_FAILED', 90_000);
    expect(failed.failure).toMatchObject({ step: 'CreateShipment', error: 'ShippingRejected' });
    expect(balanceOf(await snapshot(), CUSTOMER)).toBeLessThan(balanceOf(before, CUSTOMER) ?? 0);
    await clearFaults();

    expect((await reconcile(order.orderId, { action: 'cancel', reason: OPERATOR_REASON })).status).toBe(202);

    await waitForStatus(order.orderId, 'CANCELLED');
    const after = await snapshot();
    expect(balanceOf(after, CUSTOMER)).toBe(balanceOf(before, CUSTOMER));
    expect(stockOf(after, SKU)).toEqual(stockOf(before, SKU));
    await notified(order.orderId, ['OrderCompensationFailed', 'OrderCancelled']);
    await assertInvariants(mine(order.orderId));
  });
});

describe('a step after the pivot that keeps failing', () => {
  it('waits for a person; cancel is refused, complete finishes the order', async () => {
    const since = new Date();
    const order = newOrder();
    await armFault({ target: 'ConfirmOrder', mode: 'error', count: 1000, orderId: order.orderId });
    await postOrder(order.body, order.key);
    const waiting = await waitForStatus(order.orderId, 'NEEDS_ATTENTION');
    expect(waiting.failure).toMatchObject({
      reason: 'failed-after-pivot',
      step: 'ConfirmOrder',
      error: 'InternalError',
    });
    // What the caller sees as an internal error, the order's record keeps by name, for operators.
    const [record] = await rowsOf('OrdersTableName', `ORDER#${order.orderId}`);
    expect(record?.failure).toMatchObject({ step: 'ConfirmOrder', error: 'InjectedError' });

    const cancel = await reconcile(order.orderId, { action: 'cancel', reason: 'try to cancel' });
    expect(cancel.status).toBe(409);
    expect(cancel.body).toMatchObject({ error: { code: 'PivotPassed' } });

    await clearFaults();
    const complete = await reconcile(order.orderId, { action: 'complete', reason: OPERATOR_REASON });
    expect(complete.status).toBe(202);
    const confirmed = await waitForStatus(order.orderId, 'CONFIRMED');
    expect(confirmed.actions).toEqual([
      expect.objectContaining({ action: 'complete', outcome: 'CONFIRMED' }),
    ]);
    expect(shipmentStatusOf(await snapshot(), order.orderId)).toBe('CREATED');
    // The refused cancel started nothing; the completion ran once, after the saga gave up past the pivot.
    expect(await executionsFor(order.orderId, since)).toEqual([
      expect.objectContaining({ name: order.orderId, status: 'FAILED', error: 'NeedsAttention' }),
      expect.objectContaining({
        machine: 'CompletionStateMachineArn',
        name: `${order.orderId}-complete-1`,
        status: 'SUCCEEDED',
      }),
    ]);
    await notified(order.orderId, ['OrderNeedsAttention', 'OrderConfirmed']);
    await assertInvariants(mine(order.orderId));

    const again = await reconcile(order.orderId, { action: 'complete', reason: 'twice' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ result: 'nothing' });
  });

  it('a ConfirmOrder that hangs past its function timeout is retried and the order ends CONFIRMED', async () => {
    const order = newOrder();
    await armFault({ target: 'ConfirmOrder', mode: 'hang', count: 1, orderId: order.orderId });
    await postOrder(order.body, order.key);

    expect((await waitForOrder(order.orderId)).status).toBe('CONFIRMED');
    const events = await historyOf(sagaArnOf(order.orderId));
    expect(attemptsOf(events, 'ConfirmOrder')).toBe(2);
    expect(events.some((event) => event.lambdaFunctionFailedEventDetails?.error === 'Sandbox.Timedout')).toBe(
      true,
    );
  });
});

describe('the shipment', () => {
  it('carries every address field, line2 included', async () => {
    const order = newOrder();
    const shippingAddress = { ...order.body.shippingAddress, line2: 'Apt 4B' };
    await postOrder({ ...order.body, shippingAddress }, order.key);

    expect((await waitForOrder(order.orderId)).status).toBe('CONFIRMED');
    const shipment = (await snapshot()).shipments.find((entry) => entry.orderId === order.orderId);
    expect(shipment?.address).toEqual(shippingAddress);
  });
});

describe('the outbox', () => {
  it('loses no event when the relay runs out of retries: the republisher publishes it', {
    timeout: 120_000,
  }, async () => {
    const relayFailures = async () =>
      (await snapshot()).queues.find((queue) => queue.name === 'OrderSaga-outbox-relay-dlq')?.visible ?? 0;
    const failuresBefore = await relayFailures();
    const order = newOrder();
    // Aimed at the relay as a whole: a stream batch may mix this order's records with others'.
    await armFault({ target: 'OutboxRelay', mode: 'error', count: 1000 });
    await postOrder(order.body, order.key);
    expect((await waitForOrder(order.orderId)).status).toBe('CONFIRMED');
    // Both events (placed, confirmed) are given up: six attempts each at least, then the relay stops trying.
    let seen = -1;
    await eventually('the relay to give both events up', async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const remaining = (await listFaults()).find((fault) => fault.target === 'OutboxRelay')?.remaining ?? 0;
      const settled = remaining === seen && remaining <= 1000 - 2 * 6;
      seen = remaining;
      const rows = await rowsOf('OrdersTableName', `OUTBOX#${order.orderId}`);
      const unpublished = rows.length === 2 && rows.every((row) => row.publishedAt === undefined);
      return settled && unpublished && (await relayFailures()) > failuresBefore ? true : undefined;
    });
    expect(notificationsOf(await snapshot(), order.orderId)).toEqual([]);
    await clearFaults();

    // The republisher runs on its own schedule; running it now and then only saves waiting for its tick.
    const sent = await eventually(
      'the republished events',
      async () => {
        await runScheduledFunction('OrderSaga-outbox-republisher');
        const types = notificationsOf(await snapshot(), order.orderId);
        return types.includes('OrderPlaced') && types.includes('OrderConfirmed') ? types : undefined;
      },
      90_000,
    );
    expect(sent.sort()).toEqual(['OrderConfirmed', 'OrderPlaced']);
    // Published by the republisher, past its deadline, not by a late relay; and now they may expire.
    const republishAfterMs = 180 * 1000 * inject('timeScale');
    for (const row of await rowsOf('OrdersTableName', `OUTBOX#${order.orderId}`)) {
      expect(Date.parse(String(row.publishedAt)) - Date.parse(String(row.occurredAt))).toBeGreaterThanOrEqual(
        republishAfterMs,
      );
      expect(row.unpublishedShard).toBeUndefined();
      expect(row.expiresAt).toEqual(expect.any(Number));
    }
  });
});
