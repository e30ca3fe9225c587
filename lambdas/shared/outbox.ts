import type { TransactWrite } from './dynamodb.js';

/**
 * The transactional outbox: an order's state change and the event announcing it commit in one
 * TransactWriteItems, so an event is never published for a change that did not happen, nor lost for one
 * that did. The orders table's stream hands new outbox rows to the relay, which publishes them; a
 * scheduled republisher publishes whatever the relay could not (its retries ran out, the stream's 24 hours
 * passed), so a row stays marked unpublished, and never expires, until it is published.
 */

export const ORDER_EVENT_TYPES = [
  'OrderPlaced',
  'OrderConfirmed',
  'OrderCancelled',
  'OrderCompensationFailed',
  'OrderNeedsAttention',
] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

export interface OrderEvent {
  /**
   * `<orderId>#<eventType>#<version>`: unique per transition, since an order may reach one status twice
   * (an operator action that fails again). Consumers deduplicate on it.
   */
  eventId: string;
  eventType: OrderEventType;
  orderId: string;
  /** The order's version after the change this event announces. */
  version: number;
  occurredAt: string;
  detail: Record<string, unknown>;
  /** The trace of the request that placed the order, so every handler of the event logs under it. */
  traceId?: string;
  /** Who placed the order and through which API request: a consumer can trace any event back to its caller. */
  placedBy?: PlacedBy;
}

/** The authenticated caller that placed an order (a customer's token or a service's IAM identity) and the request. */
export interface PlacedBy {
  /** `<issuer>#<sub>` for a customer's token, the IAM ARN for a service. */
  principal: string;
  /** API Gateway's request id, the key to its access log line. */
  requestId: string;
}

/** Rows marked with this kind are what the stream filter lets through to the relay. */
export const OUTBOX_KIND = 'outbox';
/** Published rows are kept a week for audit, then expire; unpublished rows never do. */
export const OUTBOX_RETENTION_SECONDS = 7 * 24 * 3600;

/**
 * The sparse index of rows not yet published: a row is in it from its insert until it is published. Its
 * partition is one of a few shards, so the index never funnels every order's writes into one partition.
 */
export const UNPUBLISHED_INDEX = 'byUnpublished';
export const UNPUBLISHED_SHARD_ATTRIBUTE = 'unpublishedShard';
export const UNPUBLISHED_SHARDS = 8;

export function unpublishedShardOf(orderId: string): string {
  let hash = 0;
  for (const char of orderId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `UNPUBLISHED#${hash % UNPUBLISHED_SHARDS}`;
}

export function allUnpublishedShards(): string[] {
  return Array.from({ length: UNPUBLISHED_SHARDS }, (_, shard) => `UNPUBLISHED#${shard}`);
}

export function orderEvent(
  orderId: string,
  eventType: OrderEventType,
  version: number,
  occurredAt: string,
  detail: Record<string, unknown> = {},
  traceId?: string,
  placedBy?: PlacedBy,
): OrderEvent {
  return {
    eventId: `${orderId}#${eventType}#${version}`,
    eventType,
    orderId,
    version,
    occurredAt,
    detail,
    ...(traceId ? { traceId } : {}),
    ...(placedBy ? { placedBy } : {}),
  };
}

export function outboxKey(event: Pick<OrderEvent, 'orderId' | 'eventType' | 'version'>): {
  pk: string;
  sk: string;
} {
  // Version 0 is a row written before events carried versions: it was keyed by the event type alone.
  const sk = event.version === 0 ? event.eventType : `${event.eventType}#${event.version}`;
  return { pk: `OUTBOX#${event.orderId}`, sk };
}

/** The outbox row to add to the transaction that makes the change. */
export function outboxPut(tableName: string, event: OrderEvent): TransactWrite {
  return {
    Put: {
      TableName: tableName,
      Item: {
        ...outboxKey(event),
        kind: OUTBOX_KIND,
        ...event,
        [UNPUBLISHED_SHARD_ATTRIBUTE]: unpublishedShardOf(event.orderId),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads an event back from an outbox row or a message body; undefined when it is not one. */
export function parseOrderEvent(value: unknown): OrderEvent | undefined {
  if (!isRecord(value)) return undefined;
  const { eventId, eventType, orderId, version, occurredAt, detail, traceId, placedBy } = value;
  if (
    typeof eventId !== 'string' ||
    typeof orderId !== 'string' ||
    typeof occurredAt !== 'string' ||
    (version !== undefined && !Number.isSafeInteger(version)) ||
    !(ORDER_EVENT_TYPES as readonly unknown[]).includes(eventType)
  ) {
    return undefined;
  }
  return {
    eventId,
    eventType: eventType as OrderEventType,
    orderId,
    // Rows and messages written before events carried versions: their ids were already unique per order.
    version: (version as number | undefined) ?? 0,
    occurredAt,
    detail: isRecord(detail) ? detail : {},
    ...(typeof traceId === 'string' && traceId !== '' ? { traceId } : {}),
    ...(isPlacedBy(placedBy)
      ? { placedBy: { principal: placedBy.principal, requestId: placedBy.requestId } }
      : {}),
  };
}

function isPlacedBy(value: unknown): value is PlacedBy {
  return isRecord(value) && typeof value.principal === 'string' && typeof value.requestId === 'string';
}
