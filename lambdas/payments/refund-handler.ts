import { runCompensation } from '../shared/barrier.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { CHARGE_STEP, type Charge, planRefund } from './payments.js';

const deps = barrierDepsFromEnv();

export const handler = sagaStepHandler('RefundPayment', async ({ orderId }) => {
  const outcome = await runCompensation<Charge>(deps, { sagaId: orderId, step: CHARGE_STEP }, (charge) =>
    planRefund(deps.tableName, orderId, charge, new Date().toISOString()),
  );
  return { outcome };
});
