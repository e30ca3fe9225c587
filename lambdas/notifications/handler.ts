import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { cancellationReasons } from '../shared/barrier.js';
import { documentClient } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import { log } from '../shared/logger.js';
import { parseOrderEvent } from '../shared/outbox.js';
import { planNotification } from './notifications.js';

const tableName = requireEnv('TABLE_NAME');

async function consume(record: SQSRecord): Promise<'notified' | 'duplicate'> {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  const event = parseOrderEvent(body);
  // Poison: retries cannot fix it, so it fails until the queue moves it to the DLQ for a person.
  if (!event) throw new Error(`Message ${record.messageId} is not an order event`);
  try {
    await documentClient.send(
      new TransactWriteCommand({
        TransactItems: planNotification(tableName, event, new Date().toISOString()),
      }),
    );
    return 'notified';
  } catch (error) {
    if (cancellationReasons(error)?.[0]?.Code === 'ConditionalCheckFailed') return 'duplicate';
    throw error;
  }
}

/**
 * Records one notification per order event, whatever the number of deliveries: the inbox row and the
 * notification commit together. Failures are reported per message, never thrown for the batch, so one
 * bad message does not redeliver the others.
 */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const outcome = await consume(record);
      log('info', outcome === 'duplicate' ? 'duplicate event acknowledged' : 'notification recorded', {
        messageId: record.messageId,
      });
    } catch (error) {
      log('warn', 'message failed', {
        messageId: record.messageId,
        errorMessage: error instanceof Error ? error.message : String(error),
      });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
