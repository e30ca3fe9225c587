import { runCompensation } from '../shared/barrier.js';
import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { planShipmentCancellation } from './shipping.js';

const deps = barrierDepsFromEnv();
const STEP = SAGA_STEPS.createShipment;

export const handler = sagaStepHandler(STEP.compensationState, async ({ orderId }) => {
  const outcome = await runCompensation(deps, { sagaId: orderId, step: STEP.barrierId }, () =>
    planShipmentCancellation(deps.tableName, orderId, new Date().toISOString()),
  );
  return { outcome };
});
