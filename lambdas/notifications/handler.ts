import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { documentClient } from '../shared/clients.js';
import { cancellationReasons } from '../shared/dynamodb.js';
import { requireEnv } from '../shared/env.js';
import { logger } from '../shared/logger.js';
import { countMetric } from '../shared/metrics.js';
import { parseOrderEvent } from '../shared/outbox.js';
import { sqsBatchHandler } from '../shared/sqs-batch.js';
import { isTrustedSender, planNotification } from './notifications.js';

const tableName = requireEnv('TABLE_NAME');
/** The role ids (AROA…) of the relay and the republisher, and of the break-glass role when the stack owns it. */
const trustedSenders = new Set(
  requireEnv('TRUSTED_SENDER_ROLE_IDS')
    .split(',')
    .filter((id) => id !== ''),
);

/**
 * An event from anyone but the relay is refused before it is read: an `OrderConfirmed` forged by any principal
 * that could send to the queue would otherwise take the inbox row of the real one and suppress it. The message
 * fails like poison, so it ends in the DLQ, where the DLQ alarm calls a person and the evidence is kept.
 */
class UntrustedSender extends Error {
  override name = 'UntrustedSender';
}

async function consume(record: SQSRecord): Promise<{ outcome: 'notified' | 'duplicate'; eventId: string }> {
  const senderId = record.attributes?.SenderId;
  if (!isTrustedSender(senderId, trustedSenders)) {
    countMetric('UntrustedSenderRefused');
    logger.error('event refused: its sender is not the outbox relay', {
      messageId: record.messageId,
      senderId,
    });
    throw new UntrustedSender(`Message ${record.messageId} was sent by ${senderId ?? 'nobody named'}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  const event = parseOrderEvent(body);
  if (event) logger.appendKeys({ orderId: event.orderId });
  // Poison: retries cannot fix it, so it fails until the queue moves it to the DLQ for a person.
  if (!event) throw new Error(`Message ${record.messageId} is not an order event`);
  try {
    await documentClient.send(
      new TransactWriteCommand({
        TransactItems: planNotification(tableName, event, new Date().toISOString()),
      }),
    );
    return { outcome: 'notified', eventId: event.eventId };
  } catch (error) {
    // The inbox row (first in the transaction) exists: this event id was handled already.
    if (cancellationReasons(error)?.[0]?.Code === 'ConditionalCheckFailed') {
      return { outcome: 'duplicate', eventId: event.eventId };
    }
    throw error;
  }
}

/** Records one notification per order event (per event id), whatever the number of deliveries. */
export const handler = sqsBatchHandler('notifications', async (record) => {
  const { outcome, eventId } = await consume(record);
  logger.info(outcome === 'duplicate' ? 'duplicate event acknowledged' : 'notification recorded', {
    messageId: record.messageId,
    eventId,
    senderId: record.attributes?.SenderId,
  });
});
