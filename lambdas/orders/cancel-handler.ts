import { runAction } from '../shared/barrier.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { failuresField } from '../shared/step-input.js';
import { planCancellation, summarizeFailures } from './orders.js';

const deps = barrierDepsFromEnv();
const STEP = 'CancelOrder';

export const handler = sagaStepHandler(STEP, async ({ orderId, payload }) => {
  const failures = summarizeFailures(failuresField(payload, 'failures'));
  const { result } = await runAction(deps, { sagaId: orderId, step: STEP }, async () =>
    planCancellation(deps.tableName, orderId, failures, new Date().toISOString()),
  );
  return result;
});
