import type { TransactWrite } from './barrier.js';

/**
 * The transactional outbox: an order's state change and the event announcing it commit in one
 * TransactWriteItems, so an event is never published for a change that did not happen, nor lost for one
 * that did. The orders table's stream hands new outbox rows to the relay, which publishes them.
 */

export const ORDER_EVENT_TYPES = [
  'OrderPlaced',
  'OrderConfirmed',
  'OrderCancelled',
  'OrderCompensationFailed',
] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

export interface OrderEvent {
  /** `<orderId>#<eventType>`: each order announces each change once, so this is also the dedupe key. */
  eventId: string;
  eventType: OrderEventType;
  orderId: string;
  occurredAt: string;
  detail: Record<string, unknown>;
}

/** Rows marked with this kind are what the stream filter lets through to the relay. */
export const OUTBOX_KIND = 'outbox';
/** Published rows are kept a week for audit, then expire. */
export const OUTBOX_RETENTION_SECONDS = 7 * 24 * 3600;

export function orderEvent(
  orderId: string,
  eventType: OrderEventType,
  occurredAt: string,
  detail: Record<string, unknown> = {},
): OrderEvent {
  return { eventId: `${orderId}#${eventType}`, eventType, orderId, occurredAt, detail };
}

export function outboxKey(event: Pick<OrderEvent, 'orderId' | 'eventType'>): { pk: string; sk: string } {
  return { pk: `OUTBOX#${event.orderId}`, sk: event.eventType };
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
        expiresAt: Math.floor(Date.parse(event.occurredAt) / 1000) + OUTBOX_RETENTION_SECONDS,
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
  const { eventId, eventType, orderId, occurredAt, detail } = value;
  if (
    typeof eventId !== 'string' ||
    typeof orderId !== 'string' ||
    typeof occurredAt !== 'string' ||
    !(ORDER_EVENT_TYPES as readonly unknown[]).includes(eventType)
  ) {
    return undefined;
  }
  return {
    eventId,
    eventType: eventType as OrderEventType,
    orderId,
    occurredAt,
    detail: isRecord(detail) ? detail : {},
  };
}
