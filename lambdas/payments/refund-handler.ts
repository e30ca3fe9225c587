import { runCompensation } from '../shared/barrier.js';
import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { type Charge, planRefund } from './payments.js';

const deps = barrierDepsFromEnv();
const STEP = SAGA_STEPS.chargePayment;

export const handler = sagaStepHandler(STEP.compensationState, async ({ orderId }) => {
  const outcome = await runCompensation<Charge>(deps, { sagaId: orderId, step: STEP.barrierId }, (charge) =>
    planRefund(deps.tableName, orderId, charge, new Date().toISOString()),
  );
  return { outcome };
});
