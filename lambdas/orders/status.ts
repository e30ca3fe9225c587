import type { OrderEventType } from '../shared/outbox.js';

/**
 * The order's status model. In flight: PENDING. Waiting for a person: NEEDS_ATTENTION (automation stopped
 * on purpose) and COMPENSATION_FAILED. Final: CONFIRMED and CANCELLED, which never change again.
 */
export const ORDER_STATUSES = [
  'PENDING',
  'NEEDS_ATTENTION',
  'COMPENSATION_FAILED',
  'CONFIRMED',
  'CANCELLED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
/** Every status an order can move to; nothing ever returns to PENDING. */
export type TargetStatus = Exclude<OrderStatus, 'PENDING'>;

export const FINAL_STATUSES: ReadonlySet<OrderStatus> = new Set(['CONFIRMED', 'CANCELLED']);

export function isFinal(status: OrderStatus): boolean {
  return FINAL_STATUSES.has(status);
}

export function isPersonWaiting(status: OrderStatus): boolean {
  return status === 'NEEDS_ATTENTION' || status === 'COMPENSATION_FAILED';
}

/** Why automation handed an order to a person; the contract lists these. */
export const ATTENTION_REASONS = [
  'execution-stopped',
  'not-redrivable',
  'redrive-budget-spent',
  'execution-missing',
  'barrier-expired',
  'failed-after-pivot',
] as const;
export type AttentionReason = (typeof ATTENTION_REASONS)[number];

/**
 * Which statuses may move to each status. Final statuses appear in no list, so nothing leaves them; a
 * person-waiting status may be reached again (an operator action that fails again is a new transition).
 */
export const ALLOWED_FROM: Record<TargetStatus, readonly OrderStatus[]> = {
  CONFIRMED: ['PENDING', 'NEEDS_ATTENTION'],
  CANCELLED: ['PENDING', 'NEEDS_ATTENTION', 'COMPENSATION_FAILED'],
  COMPENSATION_FAILED: ['PENDING', 'NEEDS_ATTENTION', 'COMPENSATION_FAILED'],
  NEEDS_ATTENTION: ['PENDING', 'NEEDS_ATTENTION', 'COMPENSATION_FAILED'],
};

export function canTransition(from: OrderStatus, to: TargetStatus): boolean {
  return ALLOWED_FROM[to].includes(from);
}

/** The event each status change announces. */
export const EVENT_OF_STATUS: Record<TargetStatus, OrderEventType> = {
  CONFIRMED: 'OrderConfirmed',
  CANCELLED: 'OrderCancelled',
  COMPENSATION_FAILED: 'OrderCompensationFailed',
  NEEDS_ATTENTION: 'OrderNeedsAttention',
};

/** What an order shows about why it is not final: the step, error and cause when known. */
export interface OrderFailure {
  reason?: AttentionReason;
  step?: string;
  error?: string;
  cause?: string;
}

export const OPERATOR_ACTIONS = ['redrive', 'cancel', 'complete'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/** An operator action in flight: the order keeps its status meanwhile and shows this. */
export interface PendingAction {
  action: OperatorAction;
  actor: string;
  reason: string;
  startedAt: string;
  /** The execution carrying the action, once it started. */
  executionArn?: string;
}
