import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/outbox-relay/handler.js';
import { type OrderEvent, orderEvent, outboxPut } from '../../lambdas/shared/outbox.js';

const sqs = mockClient(SQSClient);
const ddb = mockClient(DynamoDBDocumentClient);

const NOW = '2026-01-01T00:00:05.000Z';
const NOW_EPOCH_SECONDS = Date.parse(NOW) / 1000;
const events = ['ord-1', 'ord-2', 'ord-3'].map((orderId) =>
  orderEvent(orderId, 'OrderPlaced', 1, '2026-01-01T00:00:00.000Z'),
);
const [first] = events as [OrderEvent, ...OrderEvent[]];

function streamOf(images: Record<string, unknown>[]): DynamoDBStreamEvent {
  return {
    Records: images.map((image, index) => ({
      eventID: `e-${index}`,
      eventName: 'INSERT',
      dynamodb: { SequenceNumber: `${100 + index}`, NewImage: marshall(image) },
    })),
  } as unknown as DynamoDBStreamEvent;
}

/** The row as the transaction wrote it: keys, kind and unpublished shard around the event. */
const rowOf = (event: OrderEvent) => outboxPut('service-table', event).Put?.Item as Record<string, unknown>;

beforeEach(() => {
  sqs.reset();
  ddb.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
  ddb.on(UpdateCommand).resolves({});
  vi.useFakeTimers({ now: new Date(NOW), toFake: ['Date'] });
});

describe('outbox relay', () => {
  it('publishes each new outbox row, in order, as the event alone', async () => {
    const response = await handler(streamOf(events.map(rowOf)));

    expect(response.batchItemFailures).toEqual([]);
    expect(sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input)).toEqual(
      events.map((event) => ({
        QueueUrl: 'https://sqs.us-east-1.amazonaws.com/111111111111/OrderSaga-order-events',
        MessageBody: JSON.stringify(event),
        MessageAttributes: {
          eventType: { DataType: 'String', StringValue: 'OrderPlaced' },
          eventId: { DataType: 'String', StringValue: `${event.orderId}#OrderPlaced#1` },
        },
      })),
    );
  });

  it('marks each row published: out of the unpublished index, expiring a week later', async () => {
    await handler(streamOf([rowOf(first)]));

    expect(ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: 'service-table',
        Key: { pk: 'OUTBOX#ord-1', sk: 'OrderPlaced#1' },
        UpdateExpression: 'SET publishedAt = :now, expiresAt = :expires REMOVE unpublishedShard',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':now': NOW, ':expires': NOW_EPOCH_SECONDS + 7 * 24 * 3600 },
      },
    ]);
  });

  it('marks a row only after its event was sent', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('queue unavailable'));

    await handler(streamOf([rowOf(first)]));

    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
  });

  it('stops at the first failure and reports it, so the stream retries from there in order', async () => {
    sqs
      .on(SendMessageCommand)
      .resolvesOnce({ MessageId: 'm' })
      .rejectsOnce(new Error('queue unavailable'))
      .resolves({ MessageId: 'm' });

    const response = await handler(streamOf(events.map(rowOf)));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '101' }]);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 2);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });

  it('reports a record that is not an outbox event (poison) instead of publishing it', async () => {
    const response = await handler(streamOf([{ pk: 'ORDER#x', sk: 'ORDER', status: 'PENDING' }]));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '100' }]);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 0);
  });

  it('still counts an event as published when only the bookkeeping mark fails', async () => {
    ddb.on(UpdateCommand).rejects(new Error('conditional check failed'));

    const response = await handler(streamOf(events.map(rowOf)));

    expect(response.batchItemFailures).toEqual([]);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 3);
  });
});

describe('outbox rows from before events carried versions', () => {
  it('are read as version 0 and marked published under their own key', async () => {
    const legacy = {
      pk: 'OUTBOX#ord-old',
      sk: 'OrderPlaced',
      kind: 'outbox',
      eventId: 'ord-old#OrderPlaced',
      eventType: 'OrderPlaced',
      orderId: 'ord-old',
      occurredAt: '2026-01-01T00:00:00.000Z',
      detail: {},
    };

    const response = await handler(streamOf([legacy]));

    expect(response.batchItemFailures).toEqual([]);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: 'OUTBOX#ord-old', sk: 'OrderPlaced' },
    });
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      MessageAttributes: expect.objectContaining({
        eventId: { DataType: 'String', StringValue: 'ord-old#OrderPlaced' },
      }),
    });
  });
});
