import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler as cancelOrder } from '../../lambdas/orders/cancel-handler.js';
import { handler as confirmOrder } from '../../lambdas/orders/confirm-handler.js';
import { handler as markCompensationFailed } from '../../lambdas/orders/mark-compensation-failed-handler.js';
import { handler as markNeedsAttention } from '../../lambdas/orders/mark-needs-attention-handler.js';
import { summarizeFailures } from '../../lambdas/orders/orders.js';
import { cancelled, NONE } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const lambdaCause = JSON.stringify({
  errorType: 'InsufficientFunds',
  errorMessage: 'Balance 100 cents is below the 2500 cents due',
  trace: ['at x'],
});
const failures = { ChargePayment: { Error: 'InsufficientFunds', Cause: lambdaCause } };
const ORDER_KEY = { pk: 'ORDER#ord-1', sk: 'ORDER' };

function transaction() {
  return ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
}
const barrierPut = () => transaction()[0]?.Put;
const orderUpdate = () => transaction()[1]?.Update;
const outboxPut = () => transaction()[2]?.Put;

function storedOrder(status: string, extra: Record<string, unknown> = {}) {
  ddb
    .on(GetCommand, { Key: ORDER_KEY })
    .resolves({ Item: { ...ORDER_KEY, orderId: 'ord-1', status, ...extra } });
}

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
});

describe('ConfirmOrder', () => {
  it('moves the order it read from PENDING to CONFIRMED, pinning the version it read', async () => {
    storedOrder('PENDING', { version: 1 });

    await expect(confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 'shp_ord-1' })).resolves.toEqual({
      status: 'CONFIRMED',
    });
    expect(orderUpdate()).toMatchObject({
      Key: ORDER_KEY,
      UpdateExpression: 'SET #status = :to, #version = :next, updatedAt = :at, #shipmentId = :shipmentId',
      ConditionExpression: '#status = :from AND #version = :version AND attribute_not_exists(pendingAction)',
      ExpressionAttributeValues: expect.objectContaining({
        ':to': 'CONFIRMED',
        ':from': 'PENDING',
        ':version': 1,
        ':next': 2,
        ':shipmentId': 'shp_ord-1',
      }),
    });
  });

  it('records the total inventory reserved, which the saga hands it in its results', async () => {
    storedOrder('PENDING', { version: 1 });
    await confirmOrder({
      orderId: 'ord-1',
      traceId: 't',
      shipmentId: 'shp_ord-1',
      results: { ReserveInventory: { totalCents: 4248 }, ChargePayment: { chargeId: 'c' } },
    });
    expect(orderUpdate()).toMatchObject({
      ExpressionAttributeValues: expect.objectContaining({ ':totalCents': 4248 }),
    });
  });

  it('announces the confirmation with an event id unique to the new version, in the same transaction', async () => {
    storedOrder('PENDING', { version: 1 });
    await confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 'shp_ord-1' });

    expect(outboxPut()).toMatchObject({
      Item: {
        pk: 'OUTBOX#ord-1',
        sk: 'OrderConfirmed#2',
        kind: 'outbox',
        eventId: 'ord-1#OrderConfirmed#2',
        eventType: 'OrderConfirmed',
        version: 2,
        unpublishedShard: expect.stringMatching(/^UNPUBLISHED#[0-7]$/),
        detail: { shipmentId: 'shp_ord-1', from: 'PENDING' },
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(outboxPut()?.Item).not.toHaveProperty('expiresAt');
  });

  it('confirms an order waiting for a person: an operator completes it', async () => {
    storedOrder('NEEDS_ATTENTION', { version: 3 });
    await expect(confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 's' })).resolves.toEqual({
      status: 'CONFIRMED',
    });
  });

  it('keeps one barrier row per execution, so a later execution may change the order again', async () => {
    storedOrder('PENDING', { version: 1 });
    await confirmOrder({
      orderId: 'ord-1',
      traceId: 't',
      shipmentId: 's',
      executionName: 'ord-1-complete-1',
    });

    expect(barrierPut()?.Item).toMatchObject({
      pk: 'BARRIER#ord-1',
      sk: 'ConfirmOrder@ord-1-complete-1#action',
    });
  });

  it("succeeds without a change on an order that is already CONFIRMED: a late duplicate of another execution's step", async () => {
    storedOrder('CONFIRMED', { version: 4 });
    await expect(
      confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 's', executionName: 'ord-1-complete-2' }),
    ).resolves.toEqual({ status: 'CONFIRMED' });
    expect(transaction()).toHaveLength(1);
  });

  it('pins the operator action it read, so a change planned before an action began retries instead of ending it unrecorded', async () => {
    storedOrder('PENDING', { version: 1 });
    await confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 's' });
    expect(orderUpdate()?.ConditionExpression).toBe(
      '#status = :from AND #version = :version AND attribute_not_exists(pendingAction)',
    );
  });

  it('refuses a cancelled order with OrderStateConflict without writing', async () => {
    storedOrder('CANCELLED', { version: 4 });

    await expect(confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 's' })).rejects.toMatchObject({
      name: 'OrderStateConflict',
      message: 'Order ord-1 is CANCELLED, cannot become CONFIRMED',
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('raises OrderStateConflict when the order does not exist', async () => {
    await expect(confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 's' })).rejects.toMatchObject({
      name: 'OrderStateConflict',
      message: 'Order ord-1 does not exist',
    });
  });

  it('retries (TransientError) when the order moved between its read and its write to a status that still allows it', async () => {
    storedOrder('PENDING', { version: 1 });
    ddb
      .on(TransactWriteCommand)
      .rejects(
        cancelled(NONE, { code: 'ConditionalCheckFailed', item: { status: 'NEEDS_ATTENTION' } }, NONE),
      );

    await expect(confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 's' })).rejects.toMatchObject({
      name: 'TransientError',
    });
  });

  it('gives up (OrderStateConflict) when the order became final meanwhile', async () => {
    storedOrder('PENDING', { version: 1 });
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled(NONE, { code: 'ConditionalCheckFailed', item: { status: 'CANCELLED' } }, NONE));

    await expect(confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 's' })).rejects.toMatchObject({
      name: 'OrderStateConflict',
      message: 'Order ord-1 is CANCELLED, cannot become CONFIRMED',
    });
  });
});

describe('CancelOrder', () => {
  it('records the failure that turned the saga around, without the stack trace', async () => {
    storedOrder('PENDING', { version: 1 });
    await expect(cancelOrder({ orderId: 'ord-1', traceId: 't', failures })).resolves.toEqual({
      status: 'CANCELLED',
    });
    expect(orderUpdate()?.ExpressionAttributeValues).toMatchObject({
      ':to': 'CANCELLED',
      ':failure': {
        step: 'ChargePayment',
        error: 'InsufficientFunds',
        cause: 'Balance 100 cents is below the 2500 cents due',
      },
    });
  });

  it("ends an operator's unwind of a COMPENSATION_FAILED order: keeps its failure, records the action", async () => {
    const action = {
      action: 'cancel',
      actor: 'arn:aws:iam::1:user/ops',
      reason: 'refunds fixed',
      startedAt: 'T0',
    };
    storedOrder('COMPENSATION_FAILED', { version: 3, pendingAction: action });

    await cancelOrder({ orderId: 'ord-1', traceId: 't', failures: {}, executionName: 'ord-1-cancel-1' });

    const update = orderUpdate();
    expect(update?.UpdateExpression).toContain('REMOVE pendingAction');
    expect(update?.UpdateExpression).toContain(
      'actions = list_append(if_not_exists(actions, :noActions), :endedAction)',
    );
    expect(update?.ExpressionAttributeValues).not.toHaveProperty(':failure');
    expect(update?.ExpressionAttributeValues?.[':endedAction']).toEqual([
      expect.objectContaining({ ...action, outcome: 'CANCELLED' }),
    ]);
    expect(outboxPut()?.Item).toMatchObject({
      eventId: 'ord-1#OrderCancelled#4',
      detail: {
        from: 'COMPENSATION_FAILED',
        operatorAction: { action: 'cancel', actor: 'arn:aws:iam::1:user/ops', reason: 'refunds fixed' },
      },
    });
  });
});

describe('MarkCompensationFailed', () => {
  it('keeps every failure in order', async () => {
    storedOrder('PENDING', { version: 1 });
    const both = { ...failures, RefundPayment: { Error: 'States.Timeout', Cause: 'Task timed out' } };

    await expect(markCompensationFailed({ orderId: 'ord-1', traceId: 't', failures: both })).resolves.toEqual(
      {
        status: 'COMPENSATION_FAILED',
      },
    );
    expect(orderUpdate()?.ExpressionAttributeValues?.[':failures']).toEqual([
      {
        step: 'ChargePayment',
        error: 'InsufficientFunds',
        cause: 'Balance 100 cents is below the 2500 cents due',
      },
      { step: 'RefundPayment', error: 'States.Timeout', cause: 'Task timed out' },
    ]);
  });

  it.each(['CONFIRMED', 'CANCELLED'])(
    'never overwrites a %s order: arriving after the end, it changes nothing',
    async (status) => {
      storedOrder(status, { version: 5 });

      await expect(markCompensationFailed({ orderId: 'ord-1', traceId: 't', failures })).resolves.toEqual({
        status,
      });
      // Only its barrier row, so a retry finds the same answer.
      expect(transaction()).toHaveLength(1);
      expect(barrierPut()?.Item).toMatchObject({ sk: 'MarkCompensationFailed#action' });
    },
  );

  it('may fail again after an operator action: a second execution writes a second event', async () => {
    storedOrder('COMPENSATION_FAILED', { version: 3 });
    await markCompensationFailed({
      orderId: 'ord-1',
      traceId: 't',
      failures,
      executionName: 'ord-1-cancel-1',
    });

    expect(outboxPut()?.Item).toMatchObject({ eventId: 'ord-1#OrderCompensationFailed#4' });
  });
});

describe('MarkNeedsAttention', () => {
  it('hands an order whose step after the pivot failed to a person, with the reason and the failure', async () => {
    storedOrder('PENDING', { version: 1 });
    const confirmFailed = { ConfirmOrder: { Error: 'Sandbox.Timedout', Cause: 'Task timed out after 10 s' } };

    await expect(
      markNeedsAttention({ orderId: 'ord-1', traceId: 't', failures: confirmFailed }),
    ).resolves.toEqual({
      status: 'NEEDS_ATTENTION',
    });
    expect(orderUpdate()?.ExpressionAttributeValues?.[':failure']).toEqual({
      reason: 'failed-after-pivot',
      step: 'ConfirmOrder',
      error: 'Sandbox.Timedout',
      cause: 'Task timed out after 10 s',
    });
    expect(outboxPut()?.Item).toMatchObject({
      eventType: 'OrderNeedsAttention',
      eventId: 'ord-1#OrderNeedsAttention#2',
    });
  });
});

describe('summarizeFailures', () => {
  it('keeps a plain-text cause and truncates a long one', () => {
    const [summary] = summarizeFailures({
      CreateShipment: { Error: 'States.Timeout', Cause: 'x'.repeat(5000) },
    });
    expect(summary?.cause).toHaveLength(1000);
    expect(summary?.error).toBe('States.Timeout');
  });
});
