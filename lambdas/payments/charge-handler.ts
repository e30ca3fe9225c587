import { runAction } from '../shared/barrier.js';
import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { positiveIntField, stringField } from '../shared/step-input.js';
import { planCharge } from './payments.js';

const deps = barrierDepsFromEnv();
const STEP = SAGA_STEPS.chargePayment;

export const handler = sagaStepHandler(STEP.state, async ({ orderId, payload }) => {
  const order = {
    orderId,
    customerId: stringField(payload, 'customerId'),
    amountCents: positiveIntField(payload, 'amountCents'),
  };
  const { result } = await runAction(deps, { sagaId: orderId, step: STEP.barrierId }, async () =>
    planCharge(deps.tableName, order, new Date().toISOString()),
  );
  return result;
});
