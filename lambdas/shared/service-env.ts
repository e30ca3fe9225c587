import type { BarrierDeps } from './barrier.js';
import { documentClient } from './clients.js';
import { requireEnv, requirePositiveIntEnv } from './env.js';
import { barrierOutcomeMetric } from './metrics.js';

/** The service table and barrier lifetime every step function is deployed with; read once at cold start. */
export function barrierDepsFromEnv(): BarrierDeps {
  return {
    db: documentClient,
    tableName: requireEnv('TABLE_NAME'),
    ttlSeconds: requirePositiveIntEnv('BARRIER_TTL_SECONDS'),
    onOutcome: (outcome, ref) => barrierOutcomeMetric(outcome, ref.step),
  };
}
