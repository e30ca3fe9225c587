import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { stringField } from '../shared/step-input.js';
import { barrierStepOf, moveOrder } from './order-step.js';

const deps = barrierDepsFromEnv();
const STEP = 'ConfirmOrder';

export const handler = sagaStepHandler(STEP, async ({ orderId, payload }) => {
  const shipmentId = stringField(payload, 'shipmentId');
  return moveOrder(deps, orderId, barrierStepOf(STEP, payload), { to: 'CONFIRMED', set: { shipmentId } });
});
