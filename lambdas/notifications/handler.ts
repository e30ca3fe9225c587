import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { documentClient } from '../shared/clients.js';
import { cancellationReasons } from '../shared/dynamodb.js';
import { requireEnv } from '../shared/env.js';
import { logger } from '../shared/logger.js';
import { parseOrderEvent } from '../shared/outbox.js';
import { sqsBatchHandler } from '../shared/sqs-batch.js';
import { planNotification } from './notifications.js';

const tableName = requireEnv('TABLE_NAME');

async function consume(record: SQSRecord): Promise<{ outcome: 'notified' | 'duplicate'; eventId: string }> {
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
  });
});
