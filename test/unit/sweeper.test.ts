import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/sweeper/handler.js';
import { CONDITION_FAILED, cancelled, NONE } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const order = (orderId: string) => ({
  pk: `ORDER#${orderId}`,
  orderId,
  status: 'PENDING',
  customerId: 'c-1',
  traceId: 't',
  items: [{ sku: 'S', quantity: 1 }],
  shippingAddress: { line1: 'a', city: 'b', postalCode: 'c', country: 'US' },
});

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  vi.useFakeTimers({ now: new Date('2026-01-01T01:00:00.000Z'), toFake: ['Date'] });
});

describe('sweeper', () => {
  it('reconciles PENDING orders older than the cutoff, oldest first, and reports what it did', async () => {
    ddb
      .on(QueryCommand)
      .resolves({ Items: [{ pk: 'ORDER#never-started' }, { pk: 'ORDER#finished' }, { pk: 'ORDER#raced' }] });
    ddb
      .on(GetCommand, { Key: { pk: 'ORDER#never-started', sk: 'ORDER' } })
      .resolves({ Item: order('never-started') });
    ddb.on(GetCommand, { Key: { pk: 'ORDER#finished', sk: 'ORDER' } }).resolves({ Item: order('finished') });
    ddb.on(GetCommand, { Key: { pk: 'ORDER#raced', sk: 'ORDER' } }).resolves({ Item: order('raced') });
    ddb.on(GetCommand, { Key: { pk: 'OUTBOX#finished', sk: 'OrderConfirmed' } }).resolves({});
    ddb.on(GetCommand, { Key: { pk: 'OUTBOX#raced', sk: 'OrderConfirmed' } }).resolves({});
    ddb.on(TransactWriteCommand).resolvesOnce({}).rejectsOnce(cancelled(CONDITION_FAILED, NONE));
    sfn
      .on(DescribeExecutionCommand, {
        executionArn: 'arn:aws:states:us-east-1:111111111111:execution:OrderSaga:never-started',
      })
      .rejects(new ExecutionDoesNotExist({ message: 'no', $metadata: {} }));
    sfn
      .on(DescribeExecutionCommand, {
        executionArn: 'arn:aws:states:us-east-1:111111111111:execution:OrderSaga:finished',
      })
      .resolves({ status: 'SUCCEEDED' } as never);
    sfn
      .on(DescribeExecutionCommand, {
        executionArn: 'arn:aws:states:us-east-1:111111111111:execution:OrderSaga:raced',
      })
      .resolves({ status: 'SUCCEEDED' } as never);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });

    const summary = await handler();

    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'byStatus',
      KeyConditionExpression: '#status = :pending AND updatedAt < :cutoff',
      ExpressionAttributeValues: { ':pending': 'PENDING', ':cutoff': '2026-01-01T00:55:00.000Z' },
    });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: 'never-started' });
    expect(summary).toEqual({
      examined: 3,
      actions: { 'started-execution': 1, 'set-status-CONFIRMED': 1 },
      conflicts: 1,
    });
  });

  it('skips an order that moved on since the index was read', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ pk: 'ORDER#done' }] });
    ddb.on(GetCommand).resolves({ Item: { ...order('done'), status: 'CONFIRMED' } });

    expect(await handler()).toMatchObject({ examined: 0 });
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 0);
  });
});
