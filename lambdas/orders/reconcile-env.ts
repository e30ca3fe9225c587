import { SFNClient } from '@aws-sdk/client-sfn';
import { documentClient } from '../shared/clients.js';
import { requireEnv, requirePositiveIntEnv } from '../shared/env.js';
import { OrdersTable } from './orders-table.js';
import type { ReconcileDeps } from './reconcile.js';
import { SagaClient } from './saga-client.js';

/** What reconcile runs with, read once at cold start: the API route and the sweeper share it. */
export function reconcileDepsFromEnv(): ReconcileDeps & { orders: OrdersTable; saga: SagaClient } {
  const completion = process.env.COMPLETION_STATE_MACHINE_ARN;
  return {
    orders: new OrdersTable(documentClient, requireEnv('TABLE_NAME')),
    saga: new SagaClient(new SFNClient({}), {
      saga: requireEnv('STATE_MACHINE_ARN'),
      cancel: requireEnv('UNWIND_STATE_MACHINE_ARN'),
      ...(completion ? { complete: completion } : {}),
    }),
    now: () => new Date(),
    settings: {
      barrierTtlSeconds: requirePositiveIntEnv('BARRIER_TTL_SECONDS'),
      sagaTimeoutSeconds: requirePositiveIntEnv('SAGA_TIMEOUT_SECONDS'),
      redriveBudget: Number(requireEnv('AUTO_REDRIVE_BUDGET')),
      stuckAfterSeconds: requirePositiveIntEnv('STUCK_AFTER_SECONDS'),
    },
  };
}
