import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { stringField } from '../shared/step-input.js';
import { barrierStepOf, moveOrder } from './order-step.js';
import { withTotal } from './orders.js';

const deps = barrierDepsFromEnv();
const STEP = SAGA_STEPS.confirmOrder;

export const handler = sagaStepHandler(STEP.state, async ({ orderId, payload }) => {
  const shipmentId = stringField(payload, 'shipmentId');
  return moveOrder(deps, orderId, barrierStepOf(STEP.barrierId, payload), {
    to: 'CONFIRMED',
    set: withTotal(payload, { shipmentId }),
  });
});
