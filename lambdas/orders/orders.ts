import type { ActionPlan } from '../shared/barrier.js';
import { OrderStateConflict } from '../shared/errors.js';
import { type OrderEventType, orderEvent, outboxPut } from '../shared/outbox.js';
import type { OrderLine, ShippingAddress, StepFailure } from '../shared/step-input.js';

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLED' | 'COMPENSATION_FAILED';

/** Finds orders by status, oldest update first: how the sweeper finds sagas stuck in PENDING. */
export const ORDERS_BY_STATUS_INDEX = 'byStatus';

export function orderKey(orderId: string): { pk: string; sk: string } {
  return { pk: `ORDER#${orderId}`, sk: 'ORDER' };
}

export interface NewOrder {
  orderId: string;
  customerId: string;
  items: OrderLine[];
  shippingAddress: ShippingAddress;
  traceId: string;
  /** Fingerprint of the request that created the order: a replay with another body is refused. */
  requestHash: string;
}

/** The order as placed, before its saga starts; the execution input is derived from it. */
export function pendingOrderRow(order: NewOrder, at: string) {
  return {
    ...orderKey(order.orderId),
    ...order,
    status: 'PENDING' as OrderStatus,
    createdAt: at,
    updatedAt: at,
  };
}

/** What the saga's execution receives: the same for every start of one order, so StartExecution stays idempotent. */
export function sagaInputOf(order: Omit<NewOrder, 'requestHash'>) {
  return {
    orderId: order.orderId,
    traceId: order.traceId,
    customerId: order.customerId,
    items: order.items,
    shippingAddress: order.shippingAddress,
  };
}

export interface FailureSummary {
  step: string;
  error: string;
  cause: string;
}

/** Causes are shown to people and stored on orders: long enough to read, short enough to keep. */
const MAX_CAUSE_LENGTH = 1000;

/**
 * The first failure is the one that turned the saga around; later ones are compensations failing.
 * Lambda causes are JSON with a stack trace we do not want on the order, so only the message is kept.
 */
export function summarizeFailures(failures: Record<string, StepFailure>): FailureSummary[] {
  return Object.entries(failures).map(([step, failure]) => ({
    step,
    error: failure.Error ?? 'Unknown',
    cause: readableCause(failure.Cause),
  }));
}

/** Lambda causes are JSON with a stack trace: keep the message, never the trace, and never too much of it. */
export function readableCause(cause: string | undefined): string {
  if (!cause) return '';
  let message = cause;
  try {
    const parsed: unknown = JSON.parse(cause);
    if (typeof parsed === 'object' && parsed !== null && 'errorMessage' in parsed) {
      message = String((parsed as { errorMessage: unknown }).errorMessage);
    }
  } catch {
    // Not JSON: Step Functions' own causes (timeouts, heartbeats) are plain text.
  }
  return message.slice(0, MAX_CAUSE_LENGTH);
}

/** The event each status change announces. */
export const EVENT_OF_STATUS: Record<Exclude<OrderStatus, 'PENDING'>, OrderEventType> = {
  CONFIRMED: 'OrderConfirmed',
  CANCELLED: 'OrderCancelled',
  COMPENSATION_FAILED: 'OrderCompensationFailed',
};

interface Transition {
  to: Exclude<OrderStatus, 'PENDING'>;
  /** Only these statuses may move to `to`; anything else is a saga bug or a race with a person. */
  from: readonly OrderStatus[];
  set: Record<string, unknown>;
}

function planTransition(
  tableName: string,
  orderId: string,
  at: string,
  transition: Transition,
): ActionPlan<{ status: OrderStatus }> {
  const values: Record<string, unknown> = { ':to': transition.to, ':at': at };
  // Every attribute goes through a name placeholder: DynamoDB reserves hundreds of words.
  const names: Record<string, string> = { '#status': 'status' };
  const setClauses = ['#status = :to', 'updatedAt = :at'];
  for (const [name, value] of Object.entries(transition.set)) {
    names[`#${name}`] = name;
    values[`:${name}`] = value;
    setClauses.push(`#${name} = :${name}`);
  }
  const fromPlaceholders = transition.from.map((status, index) => {
    values[`:from${index}`] = status;
    return `:from${index}`;
  });
  return {
    result: { status: transition.to },
    writes: [
      {
        Update: {
          TableName: tableName,
          Key: orderKey(orderId),
          UpdateExpression: `SET ${setClauses.join(', ')}`,
          ConditionExpression: `#status IN (${fromPlaceholders.join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      outboxPut(tableName, orderEvent(orderId, EVENT_OF_STATUS[transition.to], at, transition.set)),
    ],
    explainConditionFailure: (index, item) =>
      new OrderStateConflict(
        index === 1
          ? `Order ${orderId} already announced ${EVENT_OF_STATUS[transition.to]}`
          : item
            ? `Order ${orderId} is ${String(item.status)}, cannot become ${transition.to}`
            : `Order ${orderId} does not exist`,
      ),
  };
}

export function planConfirmation(tableName: string, orderId: string, shipmentId: string, at: string) {
  return planTransition(tableName, orderId, at, { to: 'CONFIRMED', from: ['PENDING'], set: { shipmentId } });
}

export function planCancellation(tableName: string, orderId: string, failures: FailureSummary[], at: string) {
  return planTransition(tableName, orderId, at, {
    to: 'CANCELLED',
    from: ['PENDING'],
    set: { failure: failures[0] ?? null },
  });
}

/** A person must look at these: the saga could neither finish nor fully undo. Any non-final status may escalate. */
export function planCompensationFailure(
  tableName: string,
  orderId: string,
  failures: FailureSummary[],
  at: string,
) {
  return planTransition(tableName, orderId, at, {
    to: 'COMPENSATION_FAILED',
    from: ['PENDING', 'CANCELLED', 'CONFIRMED'],
    set: { failure: failures[0] ?? null, failures },
  });
}
