import {
  DynamoDBDocumentClient,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/notifications/handler.js';
import { orderEvent } from '../../lambdas/shared/outbox.js';
import { CONDITION_FAILED, cancelled, NONE, RELAY_ROLE_ID, sqsEvent } from './aws-fakes.js';

// Before the handler module loads: it reads the trusted senders once, as on a cold start.
vi.hoisted(() => {
  process.env.TRUSTED_SENDER_ROLE_IDS = 'AROARELAYROLE0000000,AROAREPUBLISHER00000';
});

const ddb = mockClient(DynamoDBDocumentClient);
const confirmed = orderEvent('ord-1', 'OrderConfirmed', 3, '2026-01-01T00:00:00.000Z');

type Row = Record<string, unknown>;

/** A table that honours the inbox row's condition, as DynamoDB does: the rows it holds, by pk and sk. */
function conditionalTable(): Map<string, Row> {
  const rows = new Map<string, Row>();
  ddb.on(TransactWriteCommand).callsFake(async (input: TransactWriteCommandInput) => {
    const puts = (input.TransactItems ?? []).map((item) => item.Put?.Item as Row);
    const keyOf = (row: Row) => `${row.pk}|${row.sk}`;
    // The inbox row comes first and is put only if it does not exist yet.
    const [inbox] = puts;
    if (inbox && rows.has(keyOf(inbox))) throw cancelled(CONDITION_FAILED, NONE);
    for (const row of puts) rows.set(keyOf(row), row);
    return {};
  });
  return rows;
}

const notificationsIn = (rows: Map<string, Row>) =>
  [...rows.values()].filter((row) => String(row.pk).startsWith('NOTIFICATION#'));

beforeEach(() => {
  ddb.reset();
  ddb.on(TransactWriteCommand).resolves({});
});

describe('notifications consumer', () => {
  it('records the inbox row, keyed by event id, and the notification in one transaction', async () => {
    const response = await handler(sqsEvent(confirmed));

    expect(response.batchItemFailures).toEqual([]);
    const [inbox, notification] =
      ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(inbox?.Put).toMatchObject({
      Item: { pk: 'INBOX#ord-1#OrderConfirmed#3', sk: 'INBOX', eventId: 'ord-1#OrderConfirmed#3' },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(notification?.Put?.Item).toMatchObject({
      pk: 'NOTIFICATION#ord-1',
      sk: 'OrderConfirmed#3',
      orderId: 'ord-1',
      eventType: 'OrderConfirmed',
      message: 'Your order ord-1 is confirmed and on its way.',
    });
  });

  it('notifies both of two transitions to the same status, told apart by version', async () => {
    const rows = conditionalTable();
    const firstAttention = orderEvent('ord-1', 'OrderNeedsAttention', 4, confirmed.occurredAt);
    const secondAttention = orderEvent('ord-1', 'OrderNeedsAttention', 6, confirmed.occurredAt);

    const response = await handler(sqsEvent(firstAttention, secondAttention));

    expect(response.batchItemFailures).toEqual([]);
    expect(notificationsIn(rows).map((row) => [row.sk, row.eventType, row.message])).toEqual([
      [
        'OrderNeedsAttention#4',
        'OrderNeedsAttention',
        'Your order ord-1 needs one of our team to look at it; we will contact you.',
      ],
      [
        'OrderNeedsAttention#6',
        'OrderNeedsAttention',
        'Your order ord-1 needs one of our team to look at it; we will contact you.',
      ],
    ]);
  });

  it('notifies once for the same event id delivered twice, and acknowledges the duplicate', async () => {
    const rows = conditionalTable();

    const response = await handler(sqsEvent(confirmed, { ...confirmed, detail: { redelivered: true } }));

    expect(response.batchItemFailures).toEqual([]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(notificationsIn(rows)).toHaveLength(1);
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
        orderEvent('ord-2', 'OrderPlaced', 1, confirmed.occurredAt),
        'not json',
        { eventType: 'Unknown' },
        orderEvent('ord-3', 'OrderCancelled', 2, confirmed.occurredAt),
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

describe('notifications consumer: who may send', () => {
  /** The same delivery with another `SenderId`, as SQS sets it from the credentials the message was sent with. */
  const sentBy = (senderId: string | undefined, ...bodies: unknown[]) => {
    const event = sqsEvent(...bodies);
    for (const record of event.Records)
      record.attributes = { ...record.attributes, SenderId: senderId } as typeof record.attributes;
    return event;
  };

  it('refuses an event from a principal that is not the relay: no inbox row, no notification, the message fails', async () => {
    const rows = conditionalTable();
    const warn = vi.spyOn(console, 'error');

    const response = await handler(sentBy('AROAANYONEELSE000000:alice', confirmed));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }]);
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(rows.size).toBe(0);
    const lines = warn.mock.calls.map((call) => String(call[0]));
    expect(lines.some((line) => line.includes('its sender is not the outbox relay'))).toBe(true);
  });

  it('refuses a user, an account id and a missing sender alike', async () => {
    for (const senderId of ['AIDAUSERID0000000000', '111111111111', undefined, `:${RELAY_ROLE_ID}`]) {
      const response = await handler(sentBy(senderId, confirmed));
      expect(response.batchItemFailures, String(senderId)).toEqual([{ itemIdentifier: 'm-0' }]);
    }
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('takes the real event after a forged one of the same id was refused', async () => {
    const rows = conditionalTable();

    await handler(sentBy('AROAANYONEELSE000000:mallory', confirmed));
    const response = await handler(sentBy('AROAREPUBLISHER00000:OrderSaga-republisher', confirmed));

    expect(response.batchItemFailures).toEqual([]);
    // The forged event never wrote: the inbox row was still free for the real one.
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    expect(notificationsIn(rows)).toHaveLength(1);
  });
});
