import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler as cancelOrder } from '../../lambdas/orders/cancel-handler.js';
import { handler as confirmOrder } from '../../lambdas/orders/confirm-handler.js';
import { handler as markCompensationFailed } from '../../lambdas/orders/mark-compensation-failed-handler.js';
import { summarizeFailures } from '../../lambdas/orders/orders.js';
import { cancelled, NONE } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const lambdaCause = JSON.stringify({
  errorType: 'InsufficientFunds',
  errorMessage: 'Balance 100 cents is below the 2500 cents due',
  trace: ['at x'],
});
const failures = { ChargePayment: { Error: 'InsufficientFunds', Cause: lambdaCause } };

function orderUpdate() {
  return ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[1]?.Update;
}

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
});

describe('ConfirmOrder', () => {
  it('moves the order from PENDING to CONFIRMED with its shipment', async () => {
    await expect(confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 'shp_ord-1' })).resolves.toEqual({
      status: 'CONFIRMED',
    });
    expect(orderUpdate()).toMatchObject({
      Key: { pk: 'ORDER#ord-1', sk: 'ORDER' },
      UpdateExpression: 'SET #status = :to, updatedAt = :at, #shipmentId = :shipmentId',
      ExpressionAttributeNames: { '#status': 'status', '#shipmentId': 'shipmentId' },
      ConditionExpression: '#status IN (:from0)',
      ExpressionAttributeValues: expect.objectContaining({
        ':to': 'CONFIRMED',
        ':from0': 'PENDING',
        ':shipmentId': 'shp_ord-1',
      }),
    });
  });

  it('announces the confirmation through an outbox row in the same transaction', async () => {
    await confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 'shp_ord-1' });

    const outbox = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[2]?.Put;
    expect(outbox).toMatchObject({
      Item: {
        pk: 'OUTBOX#ord-1',
        sk: 'OrderConfirmed',
        kind: 'outbox',
        eventId: 'ord-1#OrderConfirmed',
        eventType: 'OrderConfirmed',
        detail: { shipmentId: 'shp_ord-1' },
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('raises OrderStateConflict naming the current status when the order is not PENDING', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled(NONE, { code: 'ConditionalCheckFailed', item: { status: 'CANCELLED' } }));

    await expect(confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 's' })).rejects.toMatchObject({
      name: 'OrderStateConflict',
      message: 'Order ord-1 is CANCELLED, cannot become CONFIRMED',
    });
  });

  it('raises OrderStateConflict when the order does not exist', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(NONE, { code: 'ConditionalCheckFailed' }));

    await expect(confirmOrder({ orderId: 'ord-1', traceId: 't', shipmentId: 's' })).rejects.toMatchObject({
      message: 'Order ord-1 does not exist',
    });
  });
});

describe('CancelOrder', () => {
  it('records the failure that turned the saga around, without the stack trace', async () => {
    await expect(cancelOrder({ orderId: 'ord-1', traceId: 't', failures })).resolves.toEqual({
      status: 'CANCELLED',
    });
    expect(orderUpdate()).toMatchObject({
      ConditionExpression: '#status IN (:from0)',
      ExpressionAttributeValues: expect.objectContaining({
        ':to': 'CANCELLED',
        ':failure': {
          step: 'ChargePayment',
          error: 'InsufficientFunds',
          cause: 'Balance 100 cents is below the 2500 cents due',
        },
      }),
    });
  });
});

describe('MarkCompensationFailed', () => {
  it('escalates from any status and keeps every failure in order', async () => {
    const both = { ...failures, RefundPayment: { Error: 'States.Timeout', Cause: 'Task timed out' } };

    await expect(markCompensationFailed({ orderId: 'ord-1', traceId: 't', failures: both })).resolves.toEqual(
      {
        status: 'COMPENSATION_FAILED',
      },
    );
    const values = orderUpdate()?.ExpressionAttributeValues ?? {};
    expect(values[':failures']).toEqual([
      {
        step: 'ChargePayment',
        error: 'InsufficientFunds',
        cause: 'Balance 100 cents is below the 2500 cents due',
      },
      { step: 'RefundPayment', error: 'States.Timeout', cause: 'Task timed out' },
    ]);
    expect(orderUpdate()?.ConditionExpression).toBe('#status IN (:from0, :from1, :from2)');
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
