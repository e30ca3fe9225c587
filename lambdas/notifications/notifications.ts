import type { TransactWrite } from '../shared/barrier.js';
import type { OrderEvent, OrderEventType } from '../shared/outbox.js';

/** The inbox keeps what was handled for longer than any message can live (SQS keeps at most 14 days). */
export const INBOX_RETENTION_SECONDS = 30 * 24 * 3600;

/** One inbox row per order and event type: the dedupe key at-least-once delivery needs. */
export function inboxKey(event: Pick<OrderEvent, 'orderId' | 'eventType'>): { pk: string; sk: string } {
  return { pk: `INBOX#${event.orderId}#${event.eventType}`, sk: 'INBOX' };
}

export function notificationKey(event: Pick<OrderEvent, 'orderId' | 'eventType'>): {
  pk: string;
  sk: string;
} {
  return { pk: `NOTIFICATION#${event.orderId}`, sk: event.eventType };
}

const MESSAGES: Record<OrderEventType, (orderId: string) => string> = {
  OrderPlaced: (orderId) => `We received your order ${orderId}.`,
  OrderConfirmed: (orderId) => `Your order ${orderId} is confirmed and on its way.`,
  OrderCancelled: (orderId) => `Your order ${orderId} was cancelled; nothing was charged.`,
  OrderCompensationFailed: (orderId) => `Your order ${orderId} needs our attention; we will contact you.`,
};

/** The inbox row and the notification, to commit together: either both exist or neither. */
export function planNotification(tableName: string, event: OrderEvent, at: string): TransactWrite[] {
  return [
    {
      Put: {
        TableName: tableName,
        Item: {
          ...inboxKey(event),
          eventId: event.eventId,
          receivedAt: at,
          expiresAt: Math.floor(Date.parse(at) / 1000) + INBOX_RETENTION_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
    {
      Put: {
        TableName: tableName,
        Item: {
          ...notificationKey(event),
          orderId: event.orderId,
          eventType: event.eventType,
          channel: 'email',
          message: MESSAGES[event.eventType](event.orderId),
          createdAt: at,
        },
      },
    },
  ];
}
