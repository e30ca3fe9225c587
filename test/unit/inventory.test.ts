import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler as release } from '../../lambdas/inventory/release-handler.js';
import { handler as reserve } from '../../lambdas/inventory/reserve-handler.js';
import { cancelled, NONE } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const input = {
  orderId: 'ord-1',
  traceId: 'trace-1',
  items: [
    { sku: 'SKU-1', quantity: 2 },
    { sku: 'SKU-2', quantity: 1 },
  ],
};
const stock = [
  { pk: 'SKU#SKU-1', sk: 'STOCK', sku: 'SKU-1', available: 5, reserved: 0, priceCents: 1299 },
  { pk: 'SKU#SKU-2', sk: 'STOCK', sku: 'SKU-2', available: 1, reserved: 3, priceCents: 500 },
];

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(BatchGetCommand).resolves({ Responses: { 'service-table': stock } });
  ddb.on(TransactWriteCommand).resolves({});
});

describe('ReserveInventory', () => {
  it('reserves every line with a conditional decrement and returns the priced reservation', async () => {
    const result = await reserve(input);

    expect(result).toEqual({
      lines: [
        { sku: 'SKU-1', quantity: 2, unitPriceCents: 1299 },
        { sku: 'SKU-2', quantity: 1, unitPriceCents: 500 },
      ],
      totalCents: 3098,
    });
    expect(ddb).toHaveReceivedCommandWith(BatchGetCommand, {
      RequestItems: {
        'service-table': {
          Keys: [
            { pk: 'SKU#SKU-1', sk: 'STOCK' },
            { pk: 'SKU#SKU-2', sk: 'STOCK' },
          ],
          ConsistentRead: true,
        },
      },
    });
    const transaction = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(transaction).toHaveLength(3);
    expect(transaction[1]).toEqual({
      Update: {
        TableName: 'service-table',
        Key: { pk: 'SKU#SKU-1', sk: 'STOCK' },
        UpdateExpression:
          'SET available = available - :quantity, reserved = if_not_exists(reserved, :zero) + :quantity',
        ConditionExpression: 'attribute_exists(pk) AND available >= :quantity AND priceCents = :price',
        ExpressionAttributeValues: { ':quantity': 2, ':zero': 0, ':price': 1299 },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
  });

  it('raises InsufficientStock without writing when a line exceeds what is available', async () => {
    await expect(reserve({ ...input, items: [{ sku: 'SKU-2', quantity: 2 }] })).rejects.toMatchObject({
      name: 'InsufficientStock',
      message: 'Only 1 of SKU-2 available, 2 requested',
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('raises InsufficientStock for an unknown sku', async () => {
    await expect(reserve({ ...input, items: [{ sku: 'NOPE', quantity: 1 }] })).rejects.toMatchObject({
      name: 'InsufficientStock',
    });
  });

  it('raises InsufficientStock when stock ran out between the read and the transaction', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(
        cancelled(NONE, NONE, { code: 'ConditionalCheckFailed', item: { ...stock[1], available: 0 } }),
      );

    await expect(reserve(input)).rejects.toMatchObject({ name: 'InsufficientStock' });
  });

  it('raises TransientError when the price changed between the read and the transaction', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(
        cancelled(NONE, { code: 'ConditionalCheckFailed', item: { ...stock[0], priceCents: 1399 } }, NONE),
      );

    await expect(reserve(input)).rejects.toMatchObject({ name: 'TransientError' });
  });

  it('raises TransientError when the stock read comes back partly unprocessed', async () => {
    ddb
      .on(BatchGetCommand)
      .resolves({ Responses: { 'service-table': [] }, UnprocessedKeys: { 'service-table': { Keys: [{}] } } });

    await expect(reserve(input)).rejects.toMatchObject({ name: 'TransientError' });
  });

  it('rejects a payload that repeats a sku as InvalidStepInput', async () => {
    await expect(
      reserve({
        ...input,
        items: [
          { sku: 'SKU-1', quantity: 1 },
          { sku: 'SKU-1', quantity: 1 },
        ],
      }),
    ).rejects.toMatchObject({ name: 'InvalidStepInput', message: 'items repeats a sku' });
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 0);
  });

  it('rejects a payload without an orderId as InvalidStepInput', async () => {
    await expect(reserve({ traceId: 't', items: input.items })).rejects.toMatchObject({
      name: 'InvalidStepInput',
      message: 'orderId must be a non-empty string',
    });
  });

  it('maps DynamoDB throttling to TransientError so the saga retries it', async () => {
    ddb
      .on(BatchGetCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }));

    await expect(reserve(input)).rejects.toMatchObject({ name: 'TransientError' });
  });
});

describe('ReleaseInventory', () => {
  it('gives back exactly what the reservation recorded', async () => {
    ddb.on(GetCommand).resolves({
      Item: {
        pk: 'BARRIER#ord-1',
        sk: 'ReserveInventory#action',
        result: { lines: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 1299 }], totalCents: 2598 },
      },
    });

    await expect(release({ orderId: 'ord-1', traceId: 'trace-1' })).resolves.toEqual({
      outcome: 'compensated',
    });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      Key: { pk: 'BARRIER#ord-1', sk: 'ReserveInventory#action' },
    });
    const transaction = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(transaction[2]).toEqual({
      Update: {
        TableName: 'service-table',
        Key: { pk: 'SKU#SKU-1', sk: 'STOCK' },
        UpdateExpression: 'SET available = available + :quantity, reserved = reserved - :quantity',
        ConditionExpression: 'reserved >= :quantity',
        ExpressionAttributeValues: { ':quantity': 2 },
      },
    });
  });

  it('undoes nothing and leaves a tombstone when nothing was reserved', async () => {
    await expect(release({ orderId: 'ord-1', traceId: 'trace-1' })).resolves.toEqual({
      outcome: 'null-compensation',
    });
    const transaction = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(transaction.map((item) => item.Put?.Item?.sk)).toEqual([
      'ReserveInventory#action',
      'ReserveInventory#compensation',
    ]);
    expect(transaction[0]?.Put?.Item?.tombstone).toBe(true);
  });
});
