import { randomUUID } from 'node:crypto';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { orderEvent } from '../../lambdas/shared/outbox.js';
import { apiUrl, eventually, placeOrderDirectly, rowsOf, snapshot, sqs } from './harness.js';

const EVENTS = 'OrderSaga-order-events';

/** The consumer's lines about one message, as the local cloud keeps the function's output. */
async function consumerLines(): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${apiUrl}/_local/logs?function=NotificationsConsumer`);
  const { lines } = (await response.json()) as { lines: string[] };
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

const dlqDepth = async () => {
  const queue = (await snapshot()).queues.find((candidate) => candidate.name === `${EVENTS}-dlq`);
  return (queue?.visible ?? 0) + (queue?.inFlight ?? 0);
};

describe('order events trust only the relay', () => {
  it('refuses an OrderConfirmed forged by another principal, and still notifies the real one after it', async () => {
    const orderId = `ord-forged-${randomUUID()}`;
    const dlqBefore = await dlqDepth();
    // What the relay will send when the order is confirmed (its second version): the same event id, so that,
    // taken, it would hold the inbox row the real event needs. Sent before the saga starts, it is first in line.
    const forged = [orderEvent(orderId, 'OrderConfirmed', 2, new Date().toISOString())];
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: EVENTS }));
    const sent: { MessageId?: string }[] = [];
    for (const event of forged)
      sent.push(await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(event) })));

    await placeOrderDirectly({ orderId, customerId: 'api', items: [{ sku: 'API-1', quantity: 1 }] });

    const confirmation = await eventually('the real confirmation notified', async () => {
      const rows = await rowsOf('NotificationsTableName', `NOTIFICATION#${orderId}`);
      return rows.find((row) => row.eventType === 'OrderConfirmed');
    });
    expect(confirmation.eventId).toBe(forged[0]?.eventId);

    // Each forged message is refused on every delivery, naming the sender SQS gave it, and never notified.
    const refusals = await eventually('the forged messages refused', async () => {
      const lines = (await consumerLines()).filter(
        (line) =>
          line.message === 'event refused: its sender is not the outbox relay' &&
          sent.some(({ MessageId }) => MessageId === line.messageId),
      );
      return new Set(lines.map((line) => line.messageId)).size === sent.length ? lines : undefined;
    });
    expect(new Set(refusals.map((line) => line.senderId))).toEqual(new Set(['000000000000']));
    // Refused five times, they wait in the DLQ for a person, and the DLQ alarm calls one.
    await eventually('the forged messages in the DLQ', async () =>
      (await dlqDepth()) >= dlqBefore + sent.length ? true : undefined,
    );
    const notifications = await rowsOf('NotificationsTableName', `NOTIFICATION#${orderId}`);
    expect(notifications.filter((row) => row.eventType === 'OrderConfirmed')).toHaveLength(1);
  }, 60_000);

  it("names a function's role as the sender, as SQS does: the relay's events are taken", async () => {
    const orderId = `ord-sender-${randomUUID()}`;
    await placeOrderDirectly({ orderId, customerId: 'api', items: [{ sku: 'API-1', quantity: 1 }] });
    const recorded = await eventually('the notification', async () => {
      const rows = await rowsOf('NotificationsTableName', `NOTIFICATION#${orderId}`);
      return rows.find((row) => row.eventType === 'OrderConfirmed');
    });
    const line = (await consumerLines()).find(
      (candidate) => candidate.message === 'notification recorded' && candidate.eventId === recorded.eventId,
    );
    // `<role id>:<session>`: the relay's role, and the function's name as the session.
    expect(line?.senderId).toMatch(/^AROA[0-9A-Z]{16}:OrderSaga-/);
    // The queue policies are evaluated with every call: the channels' own producers and consumers pass them.
    const { denials } = (await (await fetch(`${apiUrl}/_local/iam`)).json()) as {
      denials: { resource: string }[];
    };
    expect(
      denials.filter((denial) => /:OrderSaga-(order-events|shipping-requests)/.test(denial.resource)),
    ).toEqual([]);
  });
});
