import { SAGA_END_STATES } from '../shared/saga-states.js';
import type { ExecutionView, RecordedExecution } from './saga-client.js';
import {
  type AttentionReason,
  canTransition,
  isFinal,
  type OperatorAction,
  type OrderFailure,
  type OrderStatus,
  type PendingAction,
  type TargetStatus,
} from './status.js';

export type ReconcileRequest =
  | { kind: 'align' }
  | { kind: 'operator'; action: OperatorAction; reason: string; actor: string };

export interface ReconcileFacts {
  status: OrderStatus;
  pendingAction?: PendingAction;
  autoRedrives: number;
  /** The order's latest recorded execution; undefined when none was recorded (a lost start). */
  latest?: RecordedExecution;
  /** What Step Functions says of `latest`. */
  execution?: ExecutionView;
  /** Whether the saga's pivot succeeded; 'unknown' once the saga's history is gone. Read only for cancel and complete. */
  pivotSucceeded?: boolean | 'unknown';
  /** Whether every barrier row the order relies on outlives one more execution started now. */
  barrierSafe: boolean;
  redriveBudget: number;
  /** An operator action recorded less than a grace period ago whose execution is not recorded yet. */
  actionStarting: boolean;
}

export type Decision =
  | { do: 'nothing'; finding: string }
  | { do: 'refuse'; code: string; finding: string; attention?: AttentionReason }
  | { do: 'start-saga'; finding: string }
  | { do: 'auto-redrive'; finding: string }
  | { do: 'set-status'; to: TargetStatus; failure?: OrderFailure; finding: string }
  | { do: 'operator-redrive'; finding: string }
  | { do: 'operator-cancel'; stopRunning: boolean; finding: string }
  | { do: 'operator-complete'; finding: string };

/** The status an execution's end means for its order; undefined for an end that is not one of the saga's. */
export function statusOfEnd(execution: ExecutionView): TargetStatus | undefined {
  if (execution.status === 'SUCCEEDED') return 'CONFIRMED';
  if (execution.status !== 'FAILED') return undefined;
  switch (execution.error) {
    case SAGA_END_STATES.cancelled:
      return 'CANCELLED';
    case SAGA_END_STATES.compensationFailed:
      return 'COMPENSATION_FAILED';
    case SAGA_END_STATES.needsAttention:
      return 'NEEDS_ATTENTION';
    default:
      return undefined;
  }
}

const isRunning = (execution: ExecutionView | undefined) =>
  execution?.status === 'RUNNING' || execution?.status === 'PENDING_REDRIVE';

function describe(execution: ExecutionView | undefined): string {
  if (!execution) return 'no execution';
  if (execution.status === 'MISSING') return 'an execution Step Functions no longer knows';
  return `an execution ${execution.status}${execution.error ? ` (${execution.error})` : ''}`;
}

function attention(reason: AttentionReason, finding: string, execution?: ExecutionView): Decision {
  const known = execution && execution.status !== 'MISSING' ? execution : undefined;
  return {
    do: 'set-status',
    to: 'NEEDS_ATTENTION',
    failure: {
      reason,
      ...(known?.error ? { error: known.error } : {}),
      ...(known?.cause ? { cause: known.cause } : {}),
    },
    finding,
  };
}

/**
 * Reconcile without a body: brings the order in line with its latest execution. Automation acts only
 * where it is responsible (the order is PENDING, or an operator action is in flight): it starts a saga
 * whose start was lost, redrives a TIMED_OUT execution within the budget while Step Functions allows it,
 * and hands everything else to a person. An execution that ended at one of the saga's own ends is
 * aligned with, never redriven; ABORTED means an operator decided.
 */
export function planAlignment(facts: ReconcileFacts): Decision {
  const { status, pendingAction, latest, execution } = facts;
  if (isFinal(status)) return { do: 'nothing', finding: `the order is ${status}, which is final` };
  if (facts.actionStarting)
    return { do: 'nothing', finding: `an operator's ${pendingAction?.action} is starting` };
  const responsible = status === 'PENDING' || pendingAction !== undefined;
  const waiting = `the order is ${status} and waits for a person`;

  if (!latest || !execution) {
    if (status !== 'PENDING') return { do: 'nothing', finding: waiting };
    if (!facts.barrierSafe)
      return attention('barrier-expired', 'the saga was never started and its barrier rows may have expired');
    return { do: 'start-saga', finding: 'the order has no execution: its start was lost' };
  }
  if (execution.status === 'MISSING') {
    return responsible
      ? attention('execution-missing', `the recorded execution ${latest.name} no longer exists`)
      : { do: 'nothing', finding: waiting };
  }
  if (isRunning(execution)) return { do: 'nothing', finding: `${latest.name} is still running` };

  const ended = statusOfEnd(execution);
  if (ended) {
    if (ended === status && !pendingAction)
      return { do: 'nothing', finding: `order and execution agree: ${status}` };
    if (canTransition(status, ended)) {
      return {
        do: 'set-status',
        to: ended,
        ...(ended === 'NEEDS_ATTENTION'
          ? {
              failure: {
                reason: 'failed-after-pivot' as const,
                ...(execution.error ? { error: execution.error } : {}),
              },
            }
          : {}),
        finding: `${latest.name} ended ${ended} but the order is ${status}`,
      };
    }
    return {
      do: 'nothing',
      finding: `${latest.name} ended ${ended} but the order is ${status}; a person must look`,
    };
  }
  if (!responsible) return { do: 'nothing', finding: waiting };

  switch (execution.status) {
    case 'ABORTED':
      return attention('execution-stopped', `${latest.name} was stopped by an operator`, execution);
    case 'TIMED_OUT':
      if (!facts.barrierSafe)
        return attention('barrier-expired', `${latest.name} timed out and its barrier rows may have expired`);
      if (!execution.redrivable)
        return attention('not-redrivable', `${latest.name} timed out and cannot be redriven`, execution);
      if (facts.autoRedrives >= facts.redriveBudget)
        return attention(
          'redrive-budget-spent',
          `${latest.name} timed out after ${facts.autoRedrives} automatic redrives`,
          execution,
        );
      return { do: 'auto-redrive', finding: `${latest.name} timed out: redriving it where it stopped` };
    default:
      // FAILED outside the saga's ends: States.Runtime, States.DataLimitExceeded. Retrying cannot fix it.
      return attention('not-redrivable', `${latest.name} failed outside the saga's own ends`, execution);
  }
}

const REDRIVE_HINT: Partial<Record<TargetStatus, string>> = {
  NEEDS_ATTENTION: 'finish it with complete',
  COMPENSATION_FAILED: 'unwind it with cancel',
};

/** Reconcile with an operator's action: decides whether it may start, and how. */
export function planOperatorAction(facts: ReconcileFacts, action: OperatorAction): Decision {
  const { status, pendingAction, latest, execution } = facts;
  if (isFinal(status)) {
    const alreadyThere =
      (action === 'cancel' && status === 'CANCELLED') || (action === 'complete' && status === 'CONFIRMED');
    return alreadyThere
      ? { do: 'nothing', finding: `the order is already ${status}` }
      : { do: 'refuse', code: 'OrderFinal', finding: `the order is ${status}, which is final` };
  }
  // An action whose execution closed without changing the order has ended; a new one takes its place.
  if (pendingAction && (facts.actionStarting || isRunning(execution))) {
    return {
      do: 'refuse',
      code: 'ActionInProgress',
      finding: `${pendingAction.actor}'s ${pendingAction.action} started at ${pendingAction.startedAt} is still running`,
    };
  }
  if (!facts.barrierSafe) {
    return {
      do: 'refuse',
      code: 'BarrierExpired',
      finding: "the order's barrier rows may have expired: no step may run again; settle it by hand",
      attention: 'barrier-expired',
    };
  }
  const running = isRunning(execution);
  if (execution?.status === 'MISSING' && action !== 'cancel') {
    return { do: 'refuse', code: 'ExecutionMissing', finding: `${latest?.name} no longer exists` };
  }

  switch (action) {
    case 'redrive': {
      if (!latest || !execution || execution.status === 'MISSING')
        return { do: 'refuse', code: 'ExecutionMissing', finding: 'the order has no execution to redrive' };
      if (running) return { do: 'refuse', code: 'ExecutionRunning', finding: `${latest.name} is running` };
      const ended = statusOfEnd(execution);
      if (ended) {
        const hint = REDRIVE_HINT[ended];
        return {
          do: 'refuse',
          code: 'NothingToRedrive',
          finding: `${latest.name} ended ${ended}: a redrive would end there again${hint ? `; ${hint}` : ''}`,
        };
      }
      if (!execution.redrivable)
        return {
          do: 'refuse',
          code: 'NotRedrivable',
          finding: `Step Functions will not redrive ${latest.name}`,
        };
      return { do: 'operator-redrive', finding: `${latest.name} ended ${execution.status}: resuming it` };
    }
    case 'cancel':
      if (facts.pivotSucceeded === 'unknown' || execution?.status === 'MISSING')
        return {
          do: 'refuse',
          code: 'ExecutionMissing',
          finding: "the saga's history is gone: whether the pivot passed is unknown",
        };
      if (facts.pivotSucceeded)
        return {
          do: 'refuse',
          code: 'PivotPassed',
          finding: 'the pivot succeeded: the order can no longer be cancelled, only completed',
        };
      return {
        do: 'operator-cancel',
        stopRunning: running,
        finding: `unwinding the order after ${describe(execution)}`,
      };
    case 'complete':
      if (status === 'COMPENSATION_FAILED')
        return {
          do: 'refuse',
          code: 'NotCompletable',
          finding: 'the order was being compensated: finish unwinding it with cancel',
        };
      if (facts.pivotSucceeded !== true)
        return {
          do: 'refuse',
          code: 'PivotNotReached',
          finding: 'the pivot has not succeeded: there is nothing to complete; cancel instead',
        };
      if (running) return { do: 'refuse', code: 'ExecutionRunning', finding: `${latest?.name} is running` };
      return { do: 'operator-complete', finding: `completing the order after ${describe(execution)}` };
  }
}

export function planReconcile(facts: ReconcileFacts, request: ReconcileRequest): Decision {
  return request.kind === 'align' ? planAlignment(facts) : planOperatorAction(facts, request.action);
}
