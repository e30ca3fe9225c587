import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { beginInvocation, clearInvocationKeys, logger } from '../shared/logger.js';
import { flushMetrics, unexpectedErrorMetric } from '../shared/metrics.js';
import { parseOrderEvent } from '../shared/outbox.js';
import { publishEvent } from './publish.js';
import { publishDepsFromEnv } from './publish-env.js';

const deps = publishDepsFromEnv('relay');

async function relay(record: DynamoDBRecord): Promise<void> {
  const image = record.dynamodb?.NewImage;
  // aws-lambda's AttributeValue and the SDK's describe the same wire shape under two type names.
  const event = parseOrderEvent(image ? unmarshall(image as Record<string, AttributeValue>) : undefined);
  if (!event) throw new Error(`Stream record ${record.eventID} is not an outbox event`);
  logger.appendKeys({ orderId: event.orderId, ...(event.traceId ? { traceId: event.traceId } : {}) });
  await publishEvent(deps, event);
}

/**
 * Publishes new outbox rows (the stream filter lets only their INSERTs through) to the order-events
 * queue, in stream order: the first failure ends the batch and is reported, so Lambda retries from it.
 * What the stream gives up on stays unpublished for the republisher.
 */
export const handler = async (
  event: DynamoDBStreamEvent,
  context?: Context,
): Promise<DynamoDBBatchResponse> => {
  beginInvocation(context);
  try {
    return await relayAll(event);
  } finally {
    flushMetrics();
  }
};

async function relayAll(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  for (const record of event.Records) {
    try {
      await relay(record);
    } catch (error) {
      unexpectedErrorMetric('OutboxRelay');
      logger.error('relay failed', {
        eventID: record.eventID,
        errorMessage: error instanceof Error ? error.message : String(error),
      });
      return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
    } finally {
      clearInvocationKeys('orderId', 'traceId');
    }
  }
  return { batchItemFailures: [] };
}
