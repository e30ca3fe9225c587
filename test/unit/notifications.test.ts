import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler } from '../../lambdas/notifications/handler.js';
import { orderEvent } from '../../lambdas/shared/outbox.js';
import { CONDITION_FAILED, cancelled, NONE, sqsEvent } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const confirmed = orderEvent('ord-1', 'OrderConfirmed', '2026-01-01T00:00:00.000Z');

beforeEach(() => {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
});

describe('notifications consumer', () => {
  it('records the inbox row and the notification in one transaction', async () => {
    const response = await handler(sqsEvent(confirmed));

    expect(response.batchItemFailures).toEqual([]);
    const [inbox, notification] =
      ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(inbox?.Put).toMatchObject({
      Item: { pk: 'INBOX#ord-1#OrderConfirmed', sk: 'INBOX', eventId: 'ord-1#OrderConfirmed' },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(notification?.Put?.Item).toMatchObject({
      pk: 'NOTIFICATION#ord-1',
      sk: 'OrderConfirmed',
      message: 'Your order ord-1 is confirmed and on its way.',
    });
  });

  it('acknowledges a duplicate without doing anything twice', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(CONDITION_FAILED, NONE));

    expect((await handler(sqsEvent(confirmed))).batchItemFailures).toEqual([]);
  });

  it('reports only the messages that failed, and never throws for the batch', async () => {
    ddb
      .on(TransactWriteCommand)
      .resolvesOnce({})
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))
      .resolves({});

    const response = await handler(
      sqsEvent(
        confirmed,
        orderEvent('ord-2', 'OrderPlaced', confirmed.occurredAt),
        'not json',
        { eventType: 'Unknown' },
        orderEvent('ord-3', 'OrderCancelled', confirmed.occurredAt),
      ),
    );

    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: 'm-1' },
      { itemIdentifier: 'm-2' },
      { itemIdentifier: 'm-3' },
    ]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
  });
});
