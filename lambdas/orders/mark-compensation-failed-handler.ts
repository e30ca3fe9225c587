import { runAction } from '../shared/barrier.js';
import { log } from '../shared/logger.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { failuresField } from '../shared/step-input.js';
import { planCompensationFailure, summarizeFailures } from './orders.js';

const deps = barrierDepsFromEnv();
const STEP = 'MarkCompensationFailed';

export const handler = sagaStepHandler(STEP, async ({ orderId, traceId, payload }) => {
  const failures = summarizeFailures(failuresField(payload, 'failures'));
  // Escalations need a person: an error-level line makes them stand out in Logs Insights and log alerts.
  log('error', 'saga needs a person', { orderId, traceId, failures });
  const { result } = await runAction(deps, { sagaId: orderId, step: STEP }, async () =>
    planCompensationFailure(deps.tableName, orderId, failures, new Date().toISOString()),
  );
  return result;
});
