import { SendMessageCommand, type SendMessageCommandInput, type SQSClient } from '@aws-sdk/client-sqs';
import { type DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { logger } from '../shared/logger.js';
import {
  type OrderEvent,
  OUTBOX_RETENTION_SECONDS,
  outboxKey,
  UNPUBLISHED_SHARD_ATTRIBUTE,
} from '../shared/outbox.js';

/** What publishing needs, passed in so the relay, the republisher and their tests share one routine. */
export interface PublishDeps {
  sqs: SQSClient;
  db: DynamoDBDocumentClient;
  /** The order-events queue. */
  queueUrl: string;
  /** The orders table, which holds the outbox rows. */
  tableName: string;
  /** Which publisher runs the routine, for the log: the relay or the republisher. */
  publisher: 'relay' | 'republisher';
  now?: () => Date;
}

/** The message announcing an event: its JSON as the body, its type and id as attributes to filter on. */
export function eventMessage(queueUrl: string, event: OrderEvent): SendMessageCommandInput {
  return {
    QueueUrl: queueUrl,
    MessageBody: JSON.stringify(event),
    MessageAttributes: {
      eventType: { DataType: 'String', StringValue: event.eventType },
      eventId: { DataType: 'String', StringValue: event.eventId },
      ...(event.traceId ? { traceId: { DataType: 'String', StringValue: event.traceId } } : {}),
    },
  };
}

/**
 * Marks an outbox row published: it leaves the unpublished index (so the republisher stops seeing it) and
 * starts its retention clock. The condition keeps a mark from recreating a row that no longer exists.
 */
export function markPublished(tableName: string, event: OrderEvent, at: Date): UpdateCommandInput {
  return {
    TableName: tableName,
    Key: outboxKey(event),
    UpdateExpression: `SET publishedAt = :now, expiresAt = :expires REMOVE ${UNPUBLISHED_SHARD_ATTRIBUTE}`,
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: {
      ':now': at.toISOString(),
      ':expires': Math.floor(at.getTime() / 1000) + OUTBOX_RETENTION_SECONDS,
    },
  };
}

/**
 * Sends an event to the order-events queue, then marks its outbox row published. A send failure is
 * thrown, so the caller retries the event; a marking failure is only logged: the row stays unpublished and
 * is republished later, which the consumers' inboxes deduplicate.
 */
export async function publishEvent(deps: PublishDeps, event: OrderEvent): Promise<void> {
  await deps.sqs.send(new SendMessageCommand(eventMessage(deps.queueUrl, event)));
  const at = (deps.now ?? (() => new Date()))();
  try {
    await deps.db.send(new UpdateCommand(markPublished(deps.tableName, event, at)));
  } catch (error) {
    logger.warn('outbox row not marked', {
      eventId: event.eventId,
      publisher: deps.publisher,
      errorMessage: error instanceof Error ? error.message : String(error),
    });
  }
  logger.info('event published', {
    eventId: event.eventId,
    orderId: event.orderId,
    publisher: deps.publisher,
  });
}
