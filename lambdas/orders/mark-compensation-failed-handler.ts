import { logger } from '../shared/logger.js';
import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { failuresField } from '../shared/step-input.js';
import { barrierStepOf, moveOrder } from './order-step.js';
import { summarizeFailures, withTotal } from './orders.js';

const deps = barrierDepsFromEnv();
const STEP = SAGA_STEPS.markCompensationFailed;

export const handler = sagaStepHandler(STEP.state, async ({ orderId, payload }) => {
  const failures = summarizeFailures(failuresField(payload, 'failures'));
  // Escalations need a person: an error-level line makes them stand out in Logs Insights and log alerts.
  logger.error('saga needs a person', {
    status: 'COMPENSATION_FAILED',
    failedSteps: failures.map((f) => `${f.step}: ${f.error}`),
  });
  return moveOrder(deps, orderId, barrierStepOf(STEP.barrierId, payload), {
    to: 'COMPENSATION_FAILED',
    set: withTotal(payload, { failure: failures[0] ?? null, failures }),
  });
});
