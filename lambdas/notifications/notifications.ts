import type { TransactWrite } from '../shared/dynamodb.js';
import type { OrderEvent, OrderEventType } from '../shared/outbox.js';

/** The inbox keeps what was handled for longer than any message can live (SQS keeps at most 14 days). */
export const INBOX_RETENTION_SECONDS = 30 * 24 * 3600;

/**
 * Whether SQS's `SenderId` names one of the trusted roles. An assumed role sends as `<role id>:<session>` (a
 * function's session is its name), so the role id before the colon is what is compared; a user or an account
 * id never matches.
 */
export function isTrustedSender(senderId: string | undefined, trustedRoleIds: ReadonlySet<string>): boolean {
  const roleId = senderId?.split(':')[0];
  return roleId !== undefined && roleId !== '' && trustedRoleIds.has(roleId);
}

/**
 * One inbox row per event id: the dedupe key at-least-once delivery (and the republisher) needs. The id
 * carries the order's version, so an order reaching one status twice is two events, not a duplicate.
 */
export function inboxKey(event: Pick<OrderEvent, 'eventId'>): { pk: string; sk: string } {
  return { pk: `INBOX#${event.eventId}`, sk: 'INBOX' };
}

/** One notification per event: an order's notifications share a partition, one row per transition. */
export function notificationKey(event: Pick<OrderEvent, 'orderId' | 'eventType' | 'version'>): {
  pk: string;
  sk: string;
} {
  return { pk: `NOTIFICATION#${event.orderId}`, sk: `${event.eventType}#${event.version}` };
}

const MESSAGES: Record<OrderEventType, (orderId: string) => string> = {
  OrderPlaced: (orderId) => `We received your order ${orderId}.`,
  OrderConfirmed: (orderId) => `Your order ${orderId} is confirmed and on its way.`,
  OrderCancelled: (orderId) => `Your order ${orderId} was cancelled; nothing was charged.`,
  OrderCompensationFailed: (orderId) => `Your order ${orderId} needs our attention; we will contact you.`,
  OrderNeedsAttention: (orderId) =>
    `Your order ${orderId} needs one of our team to look at it; we will contact you.`,
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
          version: event.version,
          eventId: event.eventId,
          channel: 'email',
          message: MESSAGES[event.eventType](event.orderId),
          createdAt: at,
        },
      },
    },
  ];
}
