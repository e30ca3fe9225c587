import type { Context } from 'aws-lambda';
import { reconcileOrder } from '../orders/reconcile.js';
import { reconcileDepsFromEnv } from '../orders/reconcile-env.js';
import { requirePositiveIntEnv } from '../shared/env.js';
import { beginInvocation, errorFields, logger } from '../shared/logger.js';
import { countMetric, flushMetrics, secondsMetric } from '../shared/metrics.js';

const deps = reconcileDepsFromEnv();
const batchLimit = requirePositiveIntEnv('SWEEP_BATCH_LIMIT');
/** Index pages per run: a page is at most the batch limit, so this bounds reads too. */
const MAX_PAGES = 10;
/** Time kept back from the function timeout: the order in hand finishes and the cursor is saved. */
const TIME_RESERVE_MS = 5_000;

export interface SweepSummary {
  examined: number;
  results: Record<string, number>;
  actions: Record<string, number>;
  failed: number;
  /** Whether the run reached the end of the stuck orders (the next run starts from the oldest again). */
  complete: boolean;
  /** Whether the run stopped early to stay inside the function timeout; the next run goes on from there. */
  outOfTime: boolean;
}

const increment = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/**
 * Runs on a schedule: every order still PENDING some time after its last change is reconciled with its
 * execution, exactly as POST /orders/{id}/reconcile without a body would. Each run examines at most
 * SWEEP_BATCH_LIMIT orders, stops before its own timeout, and continues where the last run stopped (the
 * place is saved after every order), so orders the sweeper cannot move on (their saga still runs) never
 * keep it from the ones behind them; one order failing is logged and the run goes on.
 */
export const handler = async (
  _event?: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Context>,
): Promise<SweepSummary> => {
  beginInvocation(context);
  try {
    return await sweep(context);
  } finally {
    await recordBacklogAges();
    flushMetrics();
  }
};

/** Whole seconds from `since` to `now`; 0 without one, so an empty backlog reads as none rather than missing. */
const ageSeconds = (now: Date, since: string | undefined) =>
  since === undefined ? 0 : Math.max(0, Math.round((now.getTime() - Date.parse(since)) / 1000));

/**
 * The backlog gauges: how long the oldest order has been PENDING and the oldest event unpublished,
 * from the first row of each index. Read after the sweep, so they show what it could not move; a failed read
 * is logged and leaves the gauge without a point for this run, never fails the sweep.
 */
async function recordBacklogAges(): Promise<void> {
  const now = deps.now();
  const read = async (metric: string, since: () => Promise<string | undefined>) => {
    try {
      secondsMetric(metric, ageSeconds(now, await since()));
    } catch (error) {
      logger.error('backlog age not read', { metric, ...errorFields(error) });
    }
  };
  await Promise.all([
    read('OldestPendingOrderAge', () => deps.orders.oldestPendingUpdatedAt()),
    read('OldestUnpublishedEventAge', () => deps.orders.oldestUnpublishedOccurredAt()),
  ]);
}

async function sweep(context: Pick<Context, 'getRemainingTimeInMillis'> | undefined): Promise<SweepSummary> {
  const now = deps.now();
  const cutoff = new Date(now.getTime() - deps.settings.stuckAfterSeconds * 1000).toISOString();
  const summary: SweepSummary = {
    examined: 0,
    results: {},
    actions: {},
    failed: 0,
    complete: false,
    outOfTime: false,
  };
  const reserve = Math.min(TIME_RESERVE_MS, (context?.getRemainingTimeInMillis() ?? 0) / 4);
  const outOfTime = () => context !== undefined && context.getRemainingTimeInMillis() < reserve;
  let resumedAt = await deps.orders.sweepCursor();
  const pageFrom = async (key: Record<string, unknown> | undefined, limit: number) => {
    try {
      return await deps.orders.pendingSince(cutoff, limit, key);
    } catch (error) {
      // A saved place the index no longer accepts (a changed deadline puts it past the cutoff): start over.
      if (!(key && key === resumedAt && error instanceof Error && error.name === 'ValidationException'))
        throw error;
      logger.warn('sweep cursor refused; starting from the oldest', { errorMessage: error.message });
      resumedAt = undefined;
      wrapped = true;
      return deps.orders.pendingSince(cutoff, limit, undefined);
    }
  };
  let startKey = resumedAt;
  // Started mid-index: once the end is reached, the budget left goes to the orders before where it resumed.
  let wrapped = resumedAt === undefined;
  const seen = new Set<string>();
  // Saved after every order: a run that dies anyway (a call that hangs) still leaves its place behind.
  const saveCursor = (key: Record<string, unknown> | undefined) =>
    deps.orders.saveSweepCursor(key, now.toISOString());
  pages: for (let page = 0; page < MAX_PAGES && summary.examined < batchLimit; page++) {
    const { orders, next } = await pageFrom(startKey, batchLimit - summary.examined);
    for (const { orderId, key } of orders) {
      if (outOfTime()) {
        summary.outOfTime = true;
        break pages;
      }
      if (seen.has(orderId)) continue;
      seen.add(orderId);
      summary.examined += 1;
      try {
        const order = await deps.orders.get(orderId);
        if (order?.status === 'PENDING') {
          const outcome = await reconcileOrder(order, { kind: 'align' }, { ...deps, now: () => now });
          increment(summary.results, outcome.result);
          increment(summary.actions, outcome.action);
          if (outcome.action !== 'none') countMetric('SweeperAction', { Action: outcome.action });
        }
      } catch (error) {
        summary.failed += 1;
        logger.error('sweep of an order failed', {
          orderId,
          errorMessage: error instanceof Error ? error.message : String(error),
        });
      }
      await saveCursor(key);
    }
    startKey = next;
    if (!next) {
      summary.complete = true;
      await saveCursor(undefined);
      if (wrapped) break;
      wrapped = true;
    }
  }
  logger.info('sweep finished', { ...summary });
  return summary;
}
