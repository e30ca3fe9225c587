import { log } from '../shared/logger.js';
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
export const handler = sagaStepHandler(STEP.state, async ({ orderId, traceId, payload }) => {
  const failures = summarizeFailures(failuresField(payload, 'failures'));
  const failure = { reason: 'failed-after-pivot', ...failures[0] };
  log('error', 'saga needs a person', { orderId, traceId, status: 'NEEDS_ATTENTION', failure });
  return moveOrder(deps, orderId, barrierStepOf(STEP.barrierId, payload), {
    to: 'NEEDS_ATTENTION',
    set: withTotal(payload, { failure, failures }),
  });
});
