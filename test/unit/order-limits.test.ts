import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { OrdersTable, type StoredOrder } from '../../lambdas/orders/orders-table.js';
import type { TargetStatus } from '../../lambdas/orders/status.js';
import { planStatusChange } from '../../lambdas/orders/transitions.js';
import { handler } from '../../lambdas/orders-api/handler.js';
import { requestHash } from '../../lambdas/orders-api/identity.js';
import { ORDER_BODY, postEvent } from './api-events.js';
import { CONDITION_FAILED, cancelled, NONE } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);

const order = ORDER_BODY;
// The order an earlier request wrote: a replay answers with it, whatever id this request would derive.
const ORDER_ID = `ord_${'0'.repeat(32)}`;
const SAGA_ARN = `arn:aws:states:us-east-1:111111111111:execution:OrderSaga:${ORDER_ID}`;
const COUNTER_KEY = { pk: 'CUSTOMER#c-1', sk: 'IN_FLIGHT' };
const AT = '2026-01-01T00:00:00.000Z';

const post = (body: unknown) => postEvent(body);

const parse = (body: string) => JSON.parse(body) as Record<string, unknown>;
const stored = {
  orderId: ORDER_ID,
  status: 'PENDING',
  requestHash: requestHash(order),
  traceId: 't',
  ...order,
};

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  sfn.on(StartExecutionCommand).resolves({ executionArn: SAGA_ARN, startDate: new Date() });
});

describe('the cap on orders in flight per customer', () => {
  it("counts a new order on its customer's row in the order's own transaction, on the condition it is below the cap", async () => {
    const response = await handler(post(order));

    expect(response.statusCode).toBe(202);
    const [put, , counter] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(put?.Put?.Item).toMatchObject({ sk: 'ORDER', status: 'PENDING', countedInFlight: true });
    expect(counter?.Update).toMatchObject({
      TableName: 'service-table',
      Key: COUNTER_KEY,
      UpdateExpression: expect.stringContaining('ADD inFlight :one'),
      ConditionExpression: 'attribute_not_exists(inFlight) OR inFlight < :limit',
      ExpressionAttributeValues: expect.objectContaining({ ':one': 1, ':limit': 3 }),
    });
  });

  it('answers the order past the cap with 429, Retry-After and TooManyOrdersInFlight, starting nothing', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(NONE, NONE, CONDITION_FAILED));
    ddb.on(GetCommand).resolves({});

    const response = await handler(post(order));

    expect(response.statusCode).toBe(429);
    expect(response.headers?.['retry-after']).toBe('10');
    expect(parse(response.body)).toMatchObject({
      error: {
        code: 'TooManyOrdersInFlight',
        message: expect.stringContaining('at most 3 orders in flight'),
      },
    });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('answers a replay at the cap with its order, never 429: a replay counts nothing', async () => {
    const existing = { ...stored, executionArns: new Set([SAGA_ARN]) };
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled({ code: 'ConditionalCheckFailed', item: existing }, NONE, NONE));

    const replay = await handler(post(order));

    expect(replay.statusCode).toBe(202);
    expect(parse(replay.body).orderId).toBe(ORDER_ID);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('reads the order before refusing: a replay whose condition DynamoDB did not report is still a replay', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(NONE, NONE, CONDITION_FAILED));
    ddb.on(GetCommand).resolves({ Item: { ...stored, executionArns: new Set([SAGA_ARN]) } });

    const replay = await handler(post(order));

    expect(replay.statusCode).toBe(202);
    expect(parse(replay.body).orderId).toBe(ORDER_ID);
  });

  it('tries again when another order of the customer won the race on the counter, and the order is placed once', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(NONE, NONE, { code: 'TransactionConflict' }))
      .resolves({});

    const response = await handler(post(order));

    expect(response.statusCode).toBe(202);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });
});

describe('leaving PENDING releases the count', () => {
  const counted = { orderId: ORDER_ID, customerId: 'c-1', version: 1, countedInFlight: true };

  it.each<TargetStatus>(['CONFIRMED', 'CANCELLED', 'COMPENSATION_FAILED', 'NEEDS_ATTENTION'])(
    'to %s: the counter goes down in the same transaction and the order stops being counted',
    (to) => {
      const { writes } = planStatusChange('service-table', { ...counted, status: 'PENDING' }, { to }, AT);

      const [move, , release] = writes;
      expect(move?.Update?.UpdateExpression).toMatch(/ REMOVE countedInFlight$/);
      // Pinned as read: a duplicate or a racing writer finds the order moved and commits nothing.
      expect(move?.Update?.ConditionExpression).toContain('#status = :from');
      expect(release?.Update).toEqual({
        TableName: 'service-table',
        Key: COUNTER_KEY,
        UpdateExpression: 'ADD inFlight :minusOne SET updatedAt = :at',
        ExpressionAttributeValues: { ':minusOne': -1, ':at': AT },
      });
    },
  );

  it('releases nothing for a change from a person-waiting status, even on a row still marked: only leaving PENDING does', () => {
    const { writes } = planStatusChange(
      'service-table',
      { ...counted, status: 'NEEDS_ATTENTION', version: 2 },
      { to: 'CONFIRMED' },
      AT,
    );

    expect(writes).toHaveLength(2);
  });

  it('releases nothing for an order that was never counted (placed before the cap, or around the API)', () => {
    const { writes } = planStatusChange(
      'service-table',
      { ...counted, countedInFlight: undefined, status: 'PENDING' },
      { to: 'CANCELLED' },
      AT,
    );

    expect(writes).toHaveLength(2);
    expect(writes[0]?.Update?.UpdateExpression).not.toContain('countedInFlight');
  });

  it('keeps the release when the change commits without its already-announced event', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(NONE, CONDITION_FAILED, NONE))
      .resolves({});
    const table = new OrdersTable(ddb as unknown as DynamoDBDocumentClient, 'service-table');

    const changed = await table.changeStatus(
      { ...stored, ...counted, status: 'PENDING', createdAt: AT, updatedAt: AT } as StoredOrder,
      { to: 'CANCELLED' },
      AT,
    );

    expect(changed).toBe(true);
    const retried = ddb.commandCalls(TransactWriteCommand)[1]?.args[0].input.TransactItems ?? [];
    expect(retried.map((write) => write.Update?.Key ?? write.Put?.Item?.pk)).toEqual([
      { pk: `ORDER#${ORDER_ID}`, sk: 'ORDER' },
      COUNTER_KEY,
    ]);
  });
});

describe('units an order may hold', () => {
  it('refuses a line above 50 units with 400 naming its path, writing nothing', async () => {
    const response = await handler(post({ ...order, items: [{ sku: 'SKU-1', quantity: 51 }] }));

    expect(response.statusCode).toBe(400);
    expect(parse(response.body)).toMatchObject({
      error: { code: 'ValidationFailed', details: [{ path: '/items/0/quantity' }] },
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('refuses an order above 100 units in all with 400 naming the items, writing nothing', async () => {
    const items = [
      { sku: 'SKU-1', quantity: 50 },
      { sku: 'SKU-2', quantity: 50 },
      { sku: 'SKU-3', quantity: 1 },
    ];
    const atCap = await handler(post({ ...order, items: items.slice(0, 2) }));
    ddb.resetHistory();

    const response = await handler(post({ ...order, items }));

    expect(atCap.statusCode).toBe(202);
    expect(response.statusCode).toBe(400);
    expect(parse(response.body)).toMatchObject({
      error: {
        code: 'ValidationFailed',
        details: [{ path: '/items', message: 'hold 101 units; an order holds at most 100' }],
      },
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });
});
