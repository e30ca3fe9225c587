import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { PublishDeps } from '../../lambdas/outbox-relay/publish.js';
import { republishUnpublished } from '../../lambdas/outbox-relay/republisher.js';
import { handler } from '../../lambdas/outbox-relay/republisher-handler.js';
import { type OrderEvent, orderEvent, outboxPut } from '../../lambdas/shared/outbox.js';

// The handler reads its configuration at module load, as on a cold start.
vi.hoisted(() => {
  process.env.REPUBLISH_AFTER_SECONDS = '180';
  process.env.REPUBLISH_BATCH_LIMIT = '500';
});

const sqs = mockClient(SQSClient);
const ddb = mockClient(DynamoDBDocumentClient);

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/111111111111/OrderSaga-order-events';
/** A minute whose runs start at shard 0 (runs rotate their first shard by the minute). */
const NOW = '2026-01-01T00:56:00.000Z';
const CUTOFF = '2026-01-01T00:53:00.000Z';
const SHARDS = Array.from({ length: 8 }, (_, shard) => `UNPUBLISHED#${shard}`);

const deps: PublishDeps = {
  sqs: new SQSClient({}),
  db: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  queueUrl: QUEUE_URL,
  tableName: 'service-table',
  publisher: 'republisher',
  now: () => new Date(NOW),
};

const eventOf = (orderId: string) => orderEvent(orderId, 'OrderConfirmed', 2, '2026-01-01T00:50:00.000Z');
/** The row as the unpublished index returns it (projection ALL): the whole outbox row. */
const rowOf = (event: OrderEvent) => outboxPut('service-table', event).Put?.Item as Record<string, unknown>;
const [a, b, c, d] = ['ord-a', 'ord-b', 'ord-c', 'ord-d'].map(eventOf) as [
  OrderEvent,
  OrderEvent,
  OrderEvent,
  OrderEvent,
];

/** The index's answers in order, then empty pages (a mocked command answers nothing after its Once answers). */
function queryReturns(
  ...pages: { Items: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> }[]
) {
  let stub = ddb.on(QueryCommand);
  for (const page of pages) stub = stub.resolvesOnce(page);
  stub.resolves({ Items: [] });
}

const queryInputs = () => ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
const sentEvents = () =>
  sqs.commandCalls(SendMessageCommand).map((call) => JSON.parse(call.args[0].input.MessageBody ?? ''));

beforeEach(() => {
  vi.restoreAllMocks();
  sqs.reset();
  ddb.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
  ddb.on(UpdateCommand).resolves({});
  ddb.on(QueryCommand).resolves({ Items: [] });
  vi.useFakeTimers({ now: new Date(NOW), toFake: ['Date'] });
});

describe('outbox republisher', () => {
  it('asks every shard of the unpublished index for rows whose event occurred before the cutoff', async () => {
    await handler();

    expect(queryInputs()).toEqual(
      SHARDS.map((shard) => ({
        TableName: 'service-table',
        IndexName: 'byUnpublished',
        KeyConditionExpression: 'unpublishedShard = :shard AND occurredAt < :cutoff',
        ExpressionAttributeValues: { ':shard': shard, ':cutoff': CUTOFF },
        Limit: 500,
      })),
    );
  });

  it('starts each minute at another shard, so a shard full of failing rows cannot use up every run', async () => {
    vi.setSystemTime(new Date(Date.parse(NOW) + 3 * 60_000));
    await handler();

    expect(queryInputs().map((input) => input.ExpressionAttributeValues?.[':shard'])).toEqual([
      ...SHARDS.slice(3),
      ...SHARDS.slice(0, 3),
    ]);
  });

  it('publishes exactly the rows the query returns, event alone as the body, and reports them', async () => {
    ddb.on(QueryCommand, { ExpressionAttributeValues: { ':shard': 'UNPUBLISHED#3' } }).resolves({
      Items: [rowOf(a), rowOf(b)],
    });

    const summary = await handler();

    expect(sentEvents()).toEqual([a, b]);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: QUEUE_URL,
      MessageAttributes: {
        eventType: { DataType: 'String', StringValue: 'OrderConfirmed' },
        eventId: { DataType: 'String', StringValue: 'ord-a#OrderConfirmed#2' },
      },
    });
    expect(summary).toEqual({ examined: 2, published: 2, failed: 0 });
  });

  it('marks each republished row published, so it leaves the index and starts to expire', async () => {
    queryReturns({ Items: [rowOf(a)] });

    await handler();

    expect(ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: 'service-table',
        Key: { pk: 'OUTBOX#ord-a', sk: 'OrderConfirmed#2' },
        UpdateExpression: 'SET publishedAt = :now, expiresAt = :expires REMOVE unpublishedShard',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':now': NOW, ':expires': Date.parse(NOW) / 1000 + 7 * 24 * 3600 },
      },
    ]);
  });

  it('pages through a shard (LastEvaluatedKey) before moving on to the next', async () => {
    const pageEnd = { pk: 'OUTBOX#ord-a', sk: 'OrderConfirmed#2', unpublishedShard: 'UNPUBLISHED#0' };
    queryReturns(
      { Items: [rowOf(a)], LastEvaluatedKey: pageEnd },
      { Items: [rowOf(b)] },
      { Items: [rowOf(c)] },
    );

    const summary = await republishUnpublished(deps, { republishAfterSeconds: 180, batchLimit: 10 });

    expect(
      queryInputs().map((input) => [
        input.ExpressionAttributeValues?.[':shard'],
        input.Limit,
        input.ExclusiveStartKey,
      ]),
    ).toEqual([
      ['UNPUBLISHED#0', 10, undefined],
      ['UNPUBLISHED#0', 9, pageEnd],
      ['UNPUBLISHED#1', 8, undefined],
      ...SHARDS.slice(2).map((shard) => [shard, 7, undefined]),
    ]);
    expect(sentEvents()).toEqual([a, b, c]);
    expect(summary).toEqual({ examined: 3, published: 3, failed: 0 });
  });

  it('stops at the batch limit, counted across shards, and asks for no more than what is left', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [rowOf(a), rowOf(b)] })
      .resolvesOnce({ Items: [rowOf(c)], LastEvaluatedKey: { pk: 'OUTBOX#ord-c' } })
      .resolves({ Items: [rowOf(d)] });

    const summary = await republishUnpublished(deps, { republishAfterSeconds: 180, batchLimit: 3 });

    expect(queryInputs().map((input) => [input.ExpressionAttributeValues?.[':shard'], input.Limit])).toEqual([
      ['UNPUBLISHED#0', 3],
      ['UNPUBLISHED#1', 1],
    ]);
    expect(sentEvents()).toEqual([a, b, c]);
    expect(summary).toEqual({ examined: 3, published: 3, failed: 0 });
  });

  it('never publishes more than the batch limit, even from a page longer than asked for', async () => {
    queryReturns({ Items: [rowOf(a), rowOf(b), rowOf(c)] });

    const summary = await republishUnpublished(deps, { republishAfterSeconds: 180, batchLimit: 2 });

    expect(sentEvents()).toEqual([a, b]);
    expect(summary).toEqual({ examined: 2, published: 2, failed: 0 });
  });

  it('goes on after a row whose send fails, and reports it with its event id', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    queryReturns({ Items: [rowOf(a), rowOf(b), rowOf(c)] });
    sqs.on(SendMessageCommand, { MessageBody: JSON.stringify(b) }).rejects(new Error('queue unavailable'));

    const summary = await handler();

    expect(sentEvents()).toEqual([a, b, c]);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 2);
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: 'OUTBOX#ord-b', sk: 'OrderConfirmed#2' },
    });
    expect(summary).toEqual({ examined: 3, published: 2, failed: 1 });
    expect(errors.mock.calls.map(([line]) => JSON.parse(String(line)))).toContainEqual(
      expect.objectContaining({ eventId: 'ord-b#OrderConfirmed#2', errorMessage: 'queue unavailable' }),
    );
  });

  it('goes on after a row that is not an event, reports it with its event id, and leaves it unmarked', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const broken = { ...rowOf(b), eventType: 'OrderTeleported' };
    queryReturns({ Items: [rowOf(a), broken, rowOf(c)] });

    const summary = await handler();

    expect(sentEvents()).toEqual([a, c]);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 2);
    expect(summary).toEqual({ examined: 3, published: 2, failed: 1 });
    expect(errors.mock.calls.map(([line]) => JSON.parse(String(line)))).toContainEqual(
      expect.objectContaining({ eventId: 'ord-b#OrderConfirmed#2', pk: 'OUTBOX#ord-b' }),
    );
  });

  it('counts a row as published when only the bookkeeping mark fails', async () => {
    queryReturns({ Items: [rowOf(a)] });
    ddb.on(UpdateCommand).rejects(new Error('conditional check failed'));

    expect(await handler()).toEqual({ examined: 1, published: 1, failed: 0 });
  });

  it('fails the run when the index cannot be read, so the schedule retries it', async () => {
    ddb.on(QueryCommand).rejects(new Error('throttled'));

    await expect(handler()).rejects.toThrow('throttled');
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 0);
  });
});
