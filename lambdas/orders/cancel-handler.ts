import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { failuresField } from '../shared/step-input.js';
import { barrierStepOf, moveOrder } from './order-step.js';
import { summarizeFailures, withTotal } from './orders.js';

const deps = barrierDepsFromEnv();
const STEP = SAGA_STEPS.cancelOrder;

export const handler = sagaStepHandler(STEP.state, async ({ orderId, payload }) => {
  const [firstFailure] = summarizeFailures(failuresField(payload, 'failures'));
  // An operator's unwind has no failure of its own: the order keeps the one that stopped it.
  return moveOrder(deps, orderId, barrierStepOf(STEP.barrierId, payload), {
    to: 'CANCELLED',
    set: withTotal(payload, firstFailure ? { failure: firstFailure } : {}),
  });
});
