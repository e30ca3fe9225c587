import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { allUnpublishedShards } from '../../lambdas/shared/outbox.js';
import { handler } from '../../lambdas/sweeper/handler.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const NOW = new Date('2026-01-01T01:00:00.000Z');
const CURSOR_KEY = { pk: 'SWEEPER', sk: 'CURSOR' };
const arnOf = (orderId: string) => `arn:aws:states:us-east-1:111111111111:execution:OrderSaga:${orderId}`;

function order(orderId: string, recorded = true) {
  return {
    pk: `ORDER#${orderId}`,
    sk: 'ORDER',
    orderId,
    status: 'PENDING',
    version: 1,
    customerId: 'c-1',
    traceId: 't',
    items: [{ sku: 'S', quantity: 1 }],
    shippingAddress: { line1: 'a', city: 'b', postalCode: 'c', country: 'US' },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...(recorded ? { executionArns: new Set([arnOf(orderId)]) } : {}),
  };
}

/** Stores orders the sweeper reads by key, and the index pages it queries, keyed by the start key's pk. */
function storeOrders(orders: ReturnType<typeof order>[]) {
  for (const stored of orders)
    ddb.on(GetCommand, { Key: { pk: stored.pk, sk: 'ORDER' } }).resolves({ Item: stored });
}

function running(orderId: string) {
  sfn.on(DescribeExecutionCommand, { executionArn: arnOf(orderId) }).resolves({ status: 'RUNNING' } as never);
}

/** The sweep's own index pages, apart from the backlog gauges' reads of the oldest rows. */
const sweepQueries = () =>
  ddb
    .commandCalls(QueryCommand)
    .filter((call) => call.args[0].input.KeyConditionExpression?.includes(':cutoff'));

const savedCursor = () => ddb.commandCalls(PutCommand).at(-1)?.args[0].input.Item?.startKey;

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
  ddb.on(GetCommand, { Key: CURSOR_KEY }).resolves({});
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
  // Orders stored without a recorded execution never had one started.
  sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'none', $metadata: {} }));
});

describe('sweeper', () => {
  it('queries PENDING orders past the deadline, oldest first, and reconciles each as reconcile would', async () => {
    storeOrders([order('never-started', false), order('stopped')]);
    sfn
      .on(DescribeExecutionCommand, { executionArn: arnOf('stopped') })
      .resolves({ status: 'ABORTED', redriveStatus: 'REDRIVABLE' } as never);
    ddb.on(QueryCommand).resolves({ Items: [{ pk: 'ORDER#never-started' }, { pk: 'ORDER#stopped' }] });

    const summary = await handler();

    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'byStatus',
      KeyConditionExpression: '#status = :pending AND updatedAt < :cutoff',
      ExpressionAttributeValues: { ':pending': 'PENDING', ':cutoff': '2026-01-01T00:55:00.000Z' },
      Limit: 100,
    });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: 'never-started' });
    expect(summary).toEqual({
      examined: 2,
      results: { started: 1, changed: 1 },
      actions: { 'started-execution': 1, 'set-status-NEEDS_ATTENTION': 1 },
      failed: 0,
      complete: true,
      outOfTime: false,
    });
    // Reached the end: the next run starts from the oldest again.
    expect(savedCursor()).toBeUndefined();
    expect(ddb.commandCalls(PutCommand).at(-1)?.args[0].input.Item).toEqual({
      ...CURSOR_KEY,
      at: NOW.toISOString(),
    });
  });

  it('starts from the oldest again after a run that reached the end, also from a row that says so with null', async () => {
    ddb.on(GetCommand, { Key: CURSOR_KEY }).resolves({ Item: { ...CURSOR_KEY, startKey: null } });
    storeOrders([order('a', false)]);
    ddb.on(QueryCommand).resolves({ Items: [{ pk: 'ORDER#a' }] });

    expect(await handler()).toMatchObject({ examined: 1, complete: true });
    expect(sweepQueries()[0]?.args[0].input.ExclusiveStartKey).toBeUndefined();
  });

  it('starts from the oldest when its saved place is no longer valid (the deadline changed)', async () => {
    const stale = { pk: 'ORDER#gone', sk: 'ORDER', status: 'PENDING', updatedAt: '2099-01-01T00:00:00.000Z' };
    ddb.on(GetCommand, { Key: CURSOR_KEY }).resolves({ Item: { ...CURSOR_KEY, startKey: stale } });
    storeOrders([order('a', false)]);
    ddb
      .on(QueryCommand, { ExclusiveStartKey: stale })
      .rejects(
        Object.assign(new Error('The provided starting key is invalid'), { name: 'ValidationException' }),
      )
      .on(QueryCommand, { ExclusiveStartKey: undefined })
      .resolves({ Items: [{ pk: 'ORDER#a' }] });

    expect(await handler()).toMatchObject({ examined: 1, actions: { 'started-execution': 1 } });
  });

  it('goes on after an order whose reconcile fails, and reports it', async () => {
    storeOrders([order('broken'), order('fine', false)]);
    sfn.on(DescribeExecutionCommand, { executionArn: arnOf('broken') }).rejects(new Error('throttled'));
    ddb.on(QueryCommand).resolves({ Items: [{ pk: 'ORDER#broken' }, { pk: 'ORDER#fine' }] });

    const summary = await handler();

    expect(summary).toMatchObject({ examined: 2, failed: 1, actions: { 'started-execution': 1 } });
  });

  it('stops at the batch limit and continues from there on the next run, so orders behind running sagas are reached', async () => {
    const ahead = Array.from({ length: 100 }, (_, index) => order(`running-${index}`));
    storeOrders([...ahead, order('stuck-behind', false)]);
    for (const stuck of ahead) running(stuck.orderId);
    const afterFirstPage = { pk: 'ORDER#running-99', sk: 'ORDER', status: 'PENDING', updatedAt: 'x' };
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: ahead.map(({ pk }) => ({ pk })), LastEvaluatedKey: afterFirstPage })
      .resolves({ Items: [{ pk: 'ORDER#stuck-behind' }] });

    const first = await handler();
    expect(first).toMatchObject({ examined: 100, complete: false, actions: { none: 100 } });
    const lastExamined = { pk: 'ORDER#running-99' };
    expect(savedCursor()).toEqual(lastExamined);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);

    ddb.on(GetCommand, { Key: CURSOR_KEY }).resolves({ Item: { ...CURSOR_KEY, startKey: lastExamined } });
    const second = await handler();

    expect(sweepQueries()[1]?.args[0].input.ExclusiveStartKey).toEqual(lastExamined);
    expect(second).toMatchObject({ examined: 1, complete: true, actions: { 'started-execution': 1 } });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: 'stuck-behind' });
  });

  it('stops before its own timeout and keeps its place at the last order it examined', async () => {
    storeOrders([order('a', false), order('b', false), order('c', false)]);
    ddb.on(QueryCommand).resolves({ Items: [{ pk: 'ORDER#a' }, { pk: 'ORDER#b' }, { pk: 'ORDER#c' }] });
    // 60 s at the start, then every check finds a little less than the reserve left.
    const remaining = [60_000, 60_000, 60_000, 4_000];
    const context = { getRemainingTimeInMillis: () => remaining.shift() ?? 1_000 };

    const summary = await handler(undefined, context);

    expect(summary).toMatchObject({ examined: 2, outOfTime: true, complete: false });
    expect(savedCursor()).toEqual({ pk: 'ORDER#b' });
    expect(sfn).not.toHaveReceivedCommandWith(StartExecutionCommand, { name: 'c' });
  });

  it('wraps around once in a run that resumed mid-index, reaching orders older than where it resumed', async () => {
    storeOrders([order('newer', false), order('older', false)]);
    const resumeAt = { pk: 'ORDER#x', sk: 'ORDER', status: 'PENDING', updatedAt: 'x' };
    ddb.on(GetCommand, { Key: CURSOR_KEY }).resolves({ Item: { ...CURSOR_KEY, startKey: resumeAt } });
    ddb
      .on(QueryCommand, { ExclusiveStartKey: resumeAt })
      .resolves({ Items: [{ pk: 'ORDER#newer' }] })
      .on(QueryCommand, { ExclusiveStartKey: undefined })
      .resolves({ Items: [{ pk: 'ORDER#older' }, { pk: 'ORDER#newer' }] });

    const summary = await handler();

    expect(summary).toMatchObject({ examined: 2, complete: true, actions: { 'started-execution': 2 } });
    expect(sweepQueries()).toHaveLength(2);
    expect(savedCursor()).toBeUndefined();
  });

  it('follows index pages within a run until the batch limit', async () => {
    storeOrders([order('a', false), order('b', false)]);
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ pk: 'ORDER#a' }], LastEvaluatedKey: { pk: 'ORDER#a' } })
      .resolves({ Items: [{ pk: 'ORDER#b' }] });

    expect(await handler()).toMatchObject({ examined: 2, complete: true });
    expect(sweepQueries().map((call) => call.args[0].input.Limit)).toEqual([100, 99]);
  });

  it('skips an order that moved on since the index was read', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ pk: 'ORDER#done' }] });
    ddb.on(GetCommand, { Key: { pk: 'ORDER#done', sk: 'ORDER' } }).resolves({
      Item: { ...order('done'), status: 'CONFIRMED' },
    });

    expect(await handler()).toMatchObject({ examined: 1, results: {} });
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 0);
  });
});

describe('the backlog ages the sweeper reports', () => {
  /** The value and unit of each metric the run printed, by name. */
  const printedMetrics = (spy: { mock: { calls: unknown[][] } }) => {
    const metrics: Record<string, { value: unknown; unit: unknown }> = {};
    for (const [line] of spy.mock.calls) {
      const record = JSON.parse(String(line)) as Record<string, unknown> & {
        _aws?: { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] };
      };
      for (const directive of record._aws?.CloudWatchMetrics ?? [])
        for (const { Name, Unit } of directive.Metrics) metrics[Name] = { value: record[Name], unit: Unit };
    }
    return metrics;
  };
  const oldestPending = { IndexName: 'byStatus', KeyConditionExpression: '#status = :pending', Limit: 1 };
  const oldestOfShard = (shard: string) => ({
    IndexName: 'byUnpublished',
    ExpressionAttributeValues: { ':shard': shard },
    Limit: 1,
  });

  beforeEach(() => {
    ddb.on(QueryCommand).resolves({ Items: [] });
  });

  it('are the oldest PENDING order and unpublished outbox row, in seconds, read from one row of each index shard', async () => {
    const [first, second, third] = allUnpublishedShards();
    ddb
      .on(QueryCommand, oldestPending)
      .resolves({ Items: [{ pk: 'ORDER#a', updatedAt: '2026-01-01T00:30:00.000Z' }] });
    ddb
      .on(QueryCommand, oldestOfShard(String(first)))
      .resolves({ Items: [{ occurredAt: '2026-01-01T00:59:00.000Z' }] });
    ddb
      .on(QueryCommand, oldestOfShard(String(third)))
      .resolves({ Items: [{ occurredAt: '2026-01-01T00:58:20.000Z' }] });
    const printed = vi.spyOn(console, 'log').mockImplementation(() => undefined);

    await handler();

    expect(printedMetrics(printed)).toMatchObject({
      OldestPendingOrderAge: { value: 1800, unit: 'Seconds' },
      OldestUnpublishedEventAge: { value: 100, unit: 'Seconds' },
    });
    for (const shard of allUnpublishedShards())
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, oldestOfShard(shard));
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ...oldestOfShard(String(second)),
      KeyConditionExpression: 'unpublishedShard = :shard',
    });
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 0);
    printed.mockRestore();
  });

  it('are 0 when no order is PENDING and every event is published', async () => {
    const printed = vi.spyOn(console, 'log').mockImplementation(() => undefined);

    await handler();

    expect(printedMetrics(printed)).toMatchObject({
      OldestPendingOrderAge: { value: 0, unit: 'Seconds' },
      OldestUnpublishedEventAge: { value: 0, unit: 'Seconds' },
    });
    printed.mockRestore();
  });
});
