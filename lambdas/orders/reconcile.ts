import { stepsFromHistory } from '../orders-api/history.js';
import { logger } from '../shared/logger.js';
import { PIVOT_STEP } from '../shared/saga-states.js';
import { recordedExecutionArns, type StoredOrder, sagaInputOf } from './orders.js';
import type { OrdersTable } from './orders-table.js';
import {
  type Decision,
  planReconcile,
  type ReconcileFacts,
  type ReconcileRequest,
} from './reconcile-plan.js';
import {
  ExecutionRefused,
  type ExecutionView,
  executionArnOf,
  executionNameOf,
  latestExecution,
  parseExecutionArn,
  RedriveUnsupported,
  type SagaClient,
} from './saga-client.js';
import type { OrderStatus, PendingAction } from './status.js';

export interface ReconcileSettings {
  /** How long barrier rows live after they are written. */
  barrierTtlSeconds: number;
  /** The longest one execution runs: a step may run that long after it starts. */
  sagaTimeoutSeconds: number;
  /** Automatic redrives of TIMED_OUT executions per order (reset when an operator acts). */
  redriveBudget: number;
  /** How long an order may stay PENDING, or an operator action unrecorded, before automation steps in. */
  stuckAfterSeconds: number;
}

/** The stores reconcile reads and repairs; the API route and the sweeper pass the same ones. */
export interface ReconcileDeps {
  orders: Pick<
    OrdersTable,
    'changeStatus' | 'recordExecution' | 'beginAction' | 'abandonAction' | 'countAutoRedrive'
  >;
  saga: Pick<SagaClient, 'describe' | 'history' | 'start' | 'redrive' | 'stop' | 'machines'>;
  now: () => Date;
  settings: ReconcileSettings;
}

export type ReconcileResult = 'nothing' | 'changed' | 'started' | 'refused' | 'conflict';

export interface ReconcileOutcome {
  orderId: string;
  result: ReconcileResult;
  /** For a refusal: why, as a stable code. */
  code?: string;
  found: { orderStatus: OrderStatus; execution?: string; executionStatus: string; executionError?: string };
  finding: string;
  /** What reconcile did, in a word: none, started-execution, redrove-execution, set-status-<S>, started-<action>. */
  action: string;
}

/** Step outputs of the saga's succeeded steps, and whether its pivot succeeded; 'unknown' once its history is gone. */
async function sagaProgress(
  order: StoredOrder,
  deps: ReconcileDeps,
): Promise<{ pivotSucceeded: boolean | 'unknown'; results: Record<string, unknown> }> {
  const saga = recordedExecutionArns(order)
    .map(parseExecutionArn)
    .find((execution) => execution.kind === 'saga');
  if (!saga) return { pivotSucceeded: false, results: {} };
  const events = await deps.saga.history(saga.arn);
  if (events.length === 0) return { pivotSucceeded: 'unknown', results: {} };
  const { steps, results } = stepsFromHistory(events);
  return {
    pivotSucceeded: steps.some((step) => step.step === PIVOT_STEP && step.outcome === 'succeeded'),
    results,
  };
}

function describeFound(
  order: StoredOrder,
  latestName: string | undefined,
  execution: ExecutionView | undefined,
) {
  return {
    orderStatus: order.status,
    ...(latestName ? { execution: latestName } : {}),
    executionStatus: execution?.status ?? 'NONE',
    ...(execution && 'error' in execution && execution.error ? { executionError: execution.error } : {}),
  };
}

function unsupportedFinding(error: RedriveUnsupported): string {
  return `${error.message}; settle the order with cancel before the pivot or complete after it`;
}

/**
 * Compares one order with its latest recorded execution and applies what planReconcile decides: align,
 * start a lost saga, redrive, hand over to a person, or start an operator's action. Every decision is
 * logged as one structured line with its reason.
 */
export async function reconcileOrder(
  order: StoredOrder,
  request: ReconcileRequest,
  deps: ReconcileDeps,
): Promise<ReconcileOutcome> {
  const now = deps.now();
  const { settings } = deps;
  const arns = recordedExecutionArns(order);
  if (arns.length === 0) {
    // Nothing recorded: the start may have succeeded and only its record been lost. Every decision below
    // must see that saga, or a cancel would unwind beside it and a start would only find it again.
    const sagaArn = executionArnOf(deps.saga.machines.saga, order.orderId);
    if ((await deps.saga.describe(sagaArn)).status !== 'MISSING') {
      await deps.orders.recordExecution(order.orderId, sagaArn);
      return reconcileOrder({ ...order, executionArns: [sagaArn] }, request, deps);
    }
  }
  const latest = latestExecution(arns);
  const execution = latest ? await deps.saga.describe(latest.arn) : undefined;
  const pending = order.pendingAction;
  const safeUntil =
    Date.parse(order.createdAt) + (settings.barrierTtlSeconds - settings.sagaTimeoutSeconds) * 1000;
  const needsProgress =
    request.kind === 'operator' && (request.action === 'cancel' || request.action === 'complete');
  const progress = needsProgress ? await sagaProgress(order, deps) : undefined;
  const facts: ReconcileFacts = {
    status: order.status,
    pendingAction: pending,
    autoRedrives: order.autoRedrives ?? 0,
    latest,
    execution,
    pivotSucceeded: progress?.pivotSucceeded,
    barrierSafe: now.getTime() < safeUntil,
    redriveBudget: settings.redriveBudget,
    actionStarting:
      pending !== undefined &&
      pending.executionArn === undefined &&
      now.getTime() - Date.parse(pending.startedAt) < settings.stuckAfterSeconds * 1000,
  };
  const decision = planReconcile(facts, request);
  const outcome = (result: ReconcileResult, action: string, code?: string): ReconcileOutcome => ({
    orderId: order.orderId,
    result,
    ...(code ? { code } : {}),
    found: describeFound(order, latest?.name, execution),
    finding: decision.finding,
    action,
  });

  const applied = await apply(decision);
  logger[applied.result === 'conflict' ? 'warn' : 'info']('reconcile decision', {
    orderId: order.orderId,
    traceId: order.traceId,
    request: request.kind === 'align' ? 'align' : request.action,
    ...(request.kind === 'operator' ? { actor: request.actor } : {}),
    decision: decision.do,
    result: applied.result,
    action: applied.action,
    ...(applied.code ? { code: applied.code } : {}),
    reason: decision.finding,
  });
  return applied;

  async function apply(decision: Decision): Promise<ReconcileOutcome> {
    const at = now.toISOString();
    switch (decision.do) {
      case 'nothing':
        return outcome('nothing', 'none');
      case 'refuse':
        if (
          decision.attention &&
          !(order.status === 'NEEDS_ATTENTION' && order.failure?.reason === decision.attention)
        ) {
          await deps.orders.changeStatus(
            order,
            { to: 'NEEDS_ATTENTION', set: { failure: { reason: decision.attention } } },
            at,
          );
        }
        return outcome('refused', 'none', decision.code);
      case 'start-saga': {
        const { arn, existed } = await deps.saga.start('saga', order.orderId, sagaInputOf(order));
        await deps.orders.recordExecution(order.orderId, arn);
        // The start was not lost, only its record: decide again from the execution that exists.
        if (existed) return reconcileOrder({ ...order, executionArns: [arn] }, request, deps);
        return outcome('started', 'started-execution');
      }
      case 'auto-redrive': {
        if (!latest || !(await deps.orders.countAutoRedrive(order))) return outcome('conflict', 'none');
        try {
          await deps.saga.redrive(latest.arn);
        } catch (error) {
          // No later look can redrive here either: waiting would only spend the budget, run after run.
          if (error instanceof RedriveUnsupported) return handOverUnredrivable(error, at);
          // Redriven by someone else meanwhile, or Step Functions changed its mind: the next look decides.
          if (error instanceof ExecutionRefused) return outcome('conflict', 'none');
          throw error;
        }
        return outcome('started', 'redrove-execution');
      }
      case 'set-status': {
        const changed = await deps.orders.changeStatus(
          order,
          { to: decision.to, set: decision.failure ? { failure: decision.failure } : {} },
          at,
        );
        return changed ? outcome('changed', `set-status-${decision.to}`) : outcome('conflict', 'none');
      }
      default:
        if (request.kind !== 'operator') throw new Error(`${decision.do} needs an operator`);
        return startAction(decision, request, at);
    }
  }

  /** Automation may not redrive where Step Functions cannot: the order waits for a person's cancel or complete. */
  async function handOverUnredrivable(error: RedriveUnsupported, at: string): Promise<ReconcileOutcome> {
    const changed = await deps.orders.changeStatus(
      order,
      {
        to: 'NEEDS_ATTENTION',
        set: { failure: { reason: 'not-redrivable', error: error.name, cause: error.message } },
      },
      at,
    );
    if (!changed) return outcome('conflict', 'none');
    return {
      ...outcome('refused', 'set-status-NEEDS_ATTENTION', 'RedriveUnsupported'),
      finding: unsupportedFinding(error),
    };
  }

  /**
   * A cancel that stopped a saga already past its pivot: the action is given back and the order, its saga
   * stopped, waits for a person (`complete`). If the step after the pivot still commits, it moves the order on
   * from NEEDS_ATTENTION as it would from PENDING.
   */
  async function handOverStoppedPastPivot(action: PendingAction, at: string): Promise<ReconcileOutcome> {
    await deps.orders.abandonAction(order.orderId, action);
    await deps.orders.changeStatus(
      order,
      { to: 'NEEDS_ATTENTION', set: { failure: { reason: 'execution-stopped' } } },
      at,
    );
    return {
      ...outcome('refused', 'none', 'PivotPassed'),
      finding:
        'The saga passed its pivot before the cancel stopped it; nothing was undone, complete it instead',
    };
  }

  async function startAction(
    decision: Decision,
    request: Extract<ReconcileRequest, { kind: 'operator' }>,
    at: string,
  ): Promise<ReconcileOutcome> {
    const action: PendingAction = {
      action: request.action,
      actor: request.actor,
      reason: request.reason,
      startedAt: at,
    };
    if (!(await deps.orders.beginAction(order, action, pending))) return outcome('conflict', 'none');
    try {
      let arn: string;
      if (decision.do === 'operator-redrive' && latest) {
        await deps.saga.redrive(latest.arn);
        arn = latest.arn;
      } else {
        let results = progress?.results ?? {};
        // Looked at again now that the action holds the order: automation may have redriven it meanwhile.
        if (decision.do === 'operator-cancel' && latest) {
          const current = await deps.saga.describe(latest.arn);
          if (current.status === 'RUNNING' || current.status === 'PENDING_REDRIVE') {
            await deps.saga.stop(latest.arn, `${request.actor}: ${request.reason}`);
            // The saga may have passed its pivot between the look that allowed the cancel and the stop; only
            // the history the stop leaves is final. Past the pivot nothing may be undone: a person completes it.
            const stopped = await sagaProgress(order, deps);
            if (stopped.pivotSucceeded !== false) return handOverStoppedPastPivot(action, at);
            results = stopped.results;
          }
        }
        const kind = decision.do === 'operator-cancel' ? 'cancel' : 'complete';
        const attempt = (latest?.attempt ?? 0) + 1;
        ({ arn } = await deps.saga.start(kind, executionNameOf(order.orderId, kind, attempt), {
          ...sagaInputOf(order),
          results,
          failures: {},
        }));
      }
      await deps.orders.recordExecution(order.orderId, arn, action);
      return outcome('started', `started-${request.action}`);
    } catch (error) {
      if (!(error instanceof ExecutionRefused)) throw error;
      await deps.orders.abandonAction(order.orderId, action);
      if (error instanceof RedriveUnsupported)
        return { ...outcome('refused', 'none', 'RedriveUnsupported'), finding: unsupportedFinding(error) };
      return { ...outcome('refused', 'none', 'ExecutionRefused'), finding: error.message };
    }
  }
}
