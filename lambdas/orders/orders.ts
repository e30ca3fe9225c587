import type { PlacedBy } from '../shared/outbox.js';
import { SAGA_STEPS } from '../shared/saga-states.js';
import type { OrderLine, ShippingAddress, StepFailure } from '../shared/step-input.js';
import type { OrderFailure, OrderStatus, PendingAction } from './status.js';

export type { OrderStatus } from './status.js';

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
  /** The caller and API request that placed it; absent on orders placed before it was recorded. */
  placedBy?: PlacedBy;
}

/** The order record as stored. */
export interface StoredOrder extends NewOrder {
  status: OrderStatus;
  /** Counts transitions; each event id carries the version it announces. Absent on rows older than it. */
  version?: number;
  createdAt: string;
  updatedAt: string;
  failure?: OrderFailure | null;
  failures?: unknown;
  shipmentId?: string;
  /** What inventory reserved, recorded with the first status change after the reservation. */
  totalCents?: number;
  /** Every execution started for the order, recorded once its start succeeded; decisions use only these. */
  executionArns?: Set<string> | string[];
  pendingAction?: PendingAction;
  /** Operator actions that ended, oldest first. */
  actions?: (PendingAction & { endedAt: string; outcome: OrderStatus })[];
  /** Automatic redrives since the order was placed or an operator last acted. */
  autoRedrives?: number;
  /** True while the order counts against its customer's in-flight cap (see in-flight.ts). */
  countedInFlight?: boolean;
}

/** The first version an order has: the one its OrderPlaced event announces. */
export const FIRST_VERSION = 1;

/** The order as placed, before its saga starts; the execution input is derived from it. */
export function pendingOrderRow(order: NewOrder, at: string) {
  return {
    ...orderKey(order.orderId),
    ...order,
    status: 'PENDING' as OrderStatus,
    version: FIRST_VERSION,
    createdAt: at,
    updatedAt: at,
  };
}

export function recordedExecutionArns(order: Pick<StoredOrder, 'executionArns'>): string[] {
  return [...(order.executionArns ?? [])];
}

/**
 * What the saga's execution receives: the same for every start of one order, so StartExecution stays idempotent.
 * `results` starts empty so the orders service's steps can always be handed `$.results` (a JSONPath to a field
 * that does not exist fails the execution, uncaught), and read the total once inventory has reserved.
 */
export function sagaInputOf(order: Omit<NewOrder, 'requestHash'>) {
  return {
    orderId: order.orderId,
    traceId: order.traceId,
    customerId: order.customerId,
    items: order.items,
    shippingAddress: order.shippingAddress,
    results: {},
  };
}

/** The order's total as inventory reserved it, when the saga got that far: what the order record keeps. */
export function reservedTotalOf(results: unknown): number | undefined {
  const reservation = (results as Record<string, { totalCents?: unknown } | undefined> | undefined)?.[
    SAGA_STEPS.reserveInventory.state
  ];
  return typeof reservation?.totalCents === 'number' ? reservation.totalCents : undefined;
}

/** The attributes a status change stores besides the status: the total once known, and the step's own. */
export function withTotal(
  payload: { results?: unknown },
  set: Record<string, unknown>,
): Record<string, unknown> {
  const totalCents = reservedTotalOf(payload.results);
  return totalCents === undefined ? set : { ...set, totalCents };
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
