import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { documentClient } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import { log } from '../shared/logger.js';
import { outboxKey, parseOrderEvent } from '../shared/outbox.js';

const sqs = new SQSClient({});
const queueUrl = requireEnv('ORDER_EVENTS_QUEUE_URL');
const tableName = requireEnv('TABLE_NAME');

async function publish(record: DynamoDBRecord): Promise<void> {
  const image = record.dynamodb?.NewImage;
  // aws-lambda's AttributeValue and the SDK's describe the same wire shape under two type names.
  const event = parseOrderEvent(image ? unmarshall(image as Record<string, AttributeValue>) : undefined);
  if (!event) throw new Error(`Stream record ${record.eventID} is not an outbox event`);
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(event),
      MessageAttributes: {
        eventType: { DataType: 'String', StringValue: event.eventType },
        eventId: { DataType: 'String', StringValue: event.eventId },
      },
    }),
  );
  // Marking is bookkeeping, not a guard: a republish after a crash here is deduplicated by the consumer's inbox.
  await documentClient
    .send(
      new UpdateCommand({
        TableName: tableName,
        Key: outboxKey(event),
        UpdateExpression: 'SET publishedAt = :now',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':now': new Date().toISOString() },
      }),
    )
    .catch((error: unknown) =>
      log('warn', 'outbox row not marked', { eventId: event.eventId, errorMessage: String(error) }),
    );
  log('info', 'event published', { eventId: event.eventId, orderId: event.orderId });
}

/**
 * Publishes new outbox rows (the stream filter lets only their INSERTs through) to the order-events
 * queue, in stream order: the first failure ends the batch and is reported, so Lambda retries from it.
 */
export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  for (const record of event.Records) {
    try {
      await publish(record);
    } catch (error) {
      log('error', 'relay failed', {
        eventID: record.eventID,
        errorMessage: error instanceof Error ? error.message : String(error),
      });
      return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
    }
  }
  return { batchItemFailures: [] };
};
