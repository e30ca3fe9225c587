import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler } from '../../lambdas/outbox-relay/handler.js';
import { orderEvent, outboxPut } from '../../lambdas/shared/outbox.js';

const sqs = mockClient(SQSClient);
const ddb = mockClient(DynamoDBDocumentClient);

const events = ['ord-1', 'ord-2', 'ord-3'].map((orderId) =>
  orderEvent(orderId, 'OrderPlaced', '2026-01-01T00:00:00.000Z'),
);

function streamOf(images: Record<string, unknown>[]): DynamoDBStreamEvent {
  return {
    Records: images.map((image, index) => ({
      eventID: `e-${index}`,
      eventName: 'INSERT',
      dynamodb: { SequenceNumber: `${100 + index}`, NewImage: marshall(image) },
    })),
  } as unknown as DynamoDBStreamEvent;
}

const rowOf = (event: (typeof events)[number]) =>
  outboxPut('service-table', event).Put?.Item as Record<string, unknown>;

beforeEach(() => {
  sqs.reset();
  ddb.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
  ddb.on(UpdateCommand).resolves({});
});

describe('outbox relay', () => {
  it('publishes each new outbox row, in order, and marks it published', async () => {
    const response = await handler(streamOf(events.map(rowOf)));

    expect(response.batchItemFailures).toEqual([]);
    expect(
      sqs.commandCalls(SendMessageCommand).map((call) => JSON.parse(call.args[0].input.MessageBody ?? '')),
    ).toEqual(events);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      MessageAttributes: {
        eventType: { DataType: 'String', StringValue: 'OrderPlaced' },
        eventId: { DataType: 'String', StringValue: 'ord-1#OrderPlaced' },
      },
    });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: 'OUTBOX#ord-1', sk: 'OrderPlaced' },
      ConditionExpression: 'attribute_exists(pk)',
    });
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
  });

  it('reports a record that is not an outbox event (poison) instead of publishing it', async () => {
    const response = await handler(streamOf([{ pk: 'ORDER#x', sk: 'ORDER', status: 'PENDING' }]));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '100' }]);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 0);
  });

  it('still counts an event as published when only the bookkeeping mark fails', async () => {
    ddb.on(UpdateCommand).rejects(new Error('conditional check failed'));

    expect(
      (await handler(streamOf([rowOf(events[0] as (typeof events)[number])]))).batchItemFailures,
    ).toEqual([]);
  });
});
