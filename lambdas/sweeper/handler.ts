import { SFNClient } from '@aws-sdk/client-sfn';
import { OrdersTable } from '../orders-api/orders-table.js';
import { ReconcileConflict, reconcileOrder } from '../orders-api/reconcile.js';
import { SagaClient } from '../orders-api/saga-client.js';
import { documentClient } from '../shared/clients.js';
import { requireEnv, requirePositiveIntEnv } from '../shared/env.js';
import { log } from '../shared/logger.js';

const orders = new OrdersTable(documentClient, requireEnv('TABLE_NAME'));
const saga = new SagaClient(new SFNClient({}), requireEnv('STATE_MACHINE_ARN'));
const stuckAfterSeconds = requirePositiveIntEnv('STUCK_AFTER_SECONDS');
const batchLimit = requirePositiveIntEnv('SWEEP_BATCH_LIMIT');

export interface SweepSummary {
  examined: number;
  actions: Record<string, number>;
  conflicts: number;
}

/**
 * Runs on a schedule: every order still PENDING some time after its last change is reconciled with its
 * execution, exactly as POST /orders/{id}/reconcile would, so a lost StartExecution or a saga that died
 * midway is repaired without anyone asking.
 */
export const handler = async (): Promise<SweepSummary> => {
  const now = new Date();
  const cutoff = new Date(now.getTime() - stuckAfterSeconds * 1000).toISOString();
  const summary: SweepSummary = { examined: 0, actions: {}, conflicts: 0 };
  for (const orderId of await orders.pendingSince(cutoff, batchLimit)) {
    const order = await orders.get(orderId);
    if (order?.status !== 'PENDING') continue;
    summary.examined += 1;
    try {
      const outcome = await reconcileOrder(order, { orders, saga, now: () => now });
      summary.actions[outcome.action] = (summary.actions[outcome.action] ?? 0) + 1;
    } catch (error) {
      // One order failing must not stop the sweep of the others; the next run tries it again.
      if (error instanceof ReconcileConflict) summary.conflicts += 1;
      else
        log('error', 'sweep of an order failed', {
          orderId,
          errorMessage: error instanceof Error ? error.message : String(error),
        });
    }
  }
  log('info', 'sweep finished', { ...summary });
  return summary;
};
