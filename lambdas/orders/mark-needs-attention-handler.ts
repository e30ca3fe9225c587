import { logger } from '../shared/logger.js';
import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { failuresField } from '../shared/step-input.js';
import { barrierStepOf, moveOrder } from './order-step.js';
import { summarizeFailures, withTotal } from './orders.js';

const deps = barrierDepsFromEnv();
const STEP = SAGA_STEPS.markNeedsAttention;

/**
 * A step after the pivot ran out of retries: nothing may be undone any more, so the order waits for a
 * person to finish it (reconcile's `complete`) once the cause is fixed.
 */
export const handler = sagaStepHandler(STEP.state, async ({ orderId, payload }) => {
  const failures = summarizeFailures(failuresField(payload, 'failures'));
  const failure = { reason: 'failed-after-pivot', ...failures[0] };
  logger.error('saga needs a person', {
    status: 'NEEDS_ATTENTION',
    reason: failure.reason,
    failedStep: failure.step,
    error: failure.error,
  });
  return moveOrder(deps, orderId, barrierStepOf(STEP.barrierId, payload), {
    to: 'NEEDS_ATTENTION',
    set: withTotal(payload, { failure, failures }),
  });
});
