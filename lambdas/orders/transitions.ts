import type { ActionPlan } from '../shared/barrier.js';
import { OrderStateConflict, TransientError } from '../shared/errors.js';
import { orderEvent, outboxPut } from '../shared/outbox.js';
import { COUNTED_IN_FLIGHT, releaseInFlight } from './in-flight.js';
import { FIRST_VERSION, orderKey, type StoredOrder } from './orders.js';
import { actionAsRead, endActionClause, versionAsRead } from './read-conditions.js';
import { canTransition, EVENT_OF_STATUS, type OrderStatus, type TargetStatus } from './status.js';

export interface StatusChange {
  to: TargetStatus;
  /** Attributes stored on the order with the change (shipmentId, failure); also the event's detail. */
  set?: Record<string, unknown>;
}

export type OrderAsRead = Pick<StoredOrder, 'orderId' | 'status' | 'version' | 'pendingAction'> &
  Partial<Pick<StoredOrder, 'traceId' | 'placedBy' | 'customerId' | 'countedInFlight'>>;

/**
 * The writes that move an order as it was read to a new status, announced by an outbox row in the same
 * commit. The condition pins the order as read, so two writers never both move it: the loser's
 * transaction is cancelled and it reads again. The event id carries the new version, so reaching a status
 * twice announces it twice. An operator action in flight ends with the change: it leaves `pendingAction`
 * for the order's list of actions, and the event names it.
 */
export function planStatusChange(
  tableName: string,
  order: OrderAsRead,
  change: StatusChange,
  at: string,
): ActionPlan<{ status: TargetStatus }> {
  if (!canTransition(order.status, change.to)) {
    throw new OrderStateConflict(`Order ${order.orderId} is ${order.status}, cannot become ${change.to}`);
  }
  const version = order.version ?? FIRST_VERSION - 1;
  const next = version + 1;
  const set = change.set ?? {};
  const names: Record<string, string> = { '#status': 'status', '#version': 'version' };
  const values: Record<string, unknown> = { ':to': change.to, ':next': next, ':at': at };
  const setClauses = ['#status = :to', '#version = :next', 'updatedAt = :at'];
  // Every attribute goes through a name placeholder: DynamoDB reserves hundreds of words.
  for (const [name, value] of Object.entries(set)) {
    names[`#${name}`] = name;
    values[`:${name}`] = value;
    setClauses.push(`#${name} = :${name}`);
  }
  const action = order.pendingAction;
  if (action) setClauses.push(endActionClause(action, at, change.to, values));
  // Leaving PENDING is the one moment an order stops being in flight; nothing returns to PENDING.
  const release =
    order.status === 'PENDING' && order.countedInFlight === true && order.customerId !== undefined
      ? releaseInFlight(tableName, order.customerId, at)
      : undefined;
  const removed = [...(action ? ['pendingAction'] : []), ...(release ? [COUNTED_IN_FLIGHT] : [])];
  // Pinned as read: the status, the version, and the operator action in flight (or its absence), so a
  // change planned before an action began never ends that action unrecorded.
  values[':from'] = order.status;
  const conditions = ['#status = :from', versionAsRead(order.version, values), actionAsRead(action, values)];
  const detail = {
    ...set,
    from: order.status,
    ...(action
      ? { operatorAction: { action: action.action, actor: action.actor, reason: action.reason } }
      : {}),
  };
  return {
    result: { status: change.to },
    writes: [
      {
        Update: {
          TableName: tableName,
          Key: orderKey(order.orderId),
          UpdateExpression: `SET ${setClauses.join(', ')}${removed.length > 0 ? ` REMOVE ${removed.join(', ')}` : ''}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      outboxPut(
        tableName,
        orderEvent(
          order.orderId,
          EVENT_OF_STATUS[change.to],
          next,
          at,
          detail,
          order.traceId,
          order.placedBy,
        ),
      ),
      ...(release ? [release] : []),
    ],
    explainConditionFailure: (index, item) => {
      if (index === 1)
        return new TransientError(`Order ${order.orderId} version ${next} was already announced`);
      if (!item) return new OrderStateConflict(`Order ${order.orderId} does not exist`);
      const now = item.status as OrderStatus;
      // Moved meanwhile: where the new status still allows the change, reading again and retrying succeeds.
      return canTransition(now, change.to)
        ? new TransientError(`Order ${order.orderId} changed while moving to ${change.to}; retry`)
        : new OrderStateConflict(`Order ${order.orderId} is ${now}, cannot become ${change.to}`);
    },
  };
}
