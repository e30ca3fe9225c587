import { runAction } from '../shared/barrier.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { positiveIntField, stringField } from '../shared/step-input.js';
import { CHARGE_STEP, planCharge } from './payments.js';

const deps = barrierDepsFromEnv();

export const handler = sagaStepHandler(CHARGE_STEP, async ({ orderId, payload }) => {
  const order = {
    orderId,
    customerId: stringField(payload, 'customerId'),
    amountCents: positiveIntField(payload, 'amountCents'),
  };
  const { result } = await runAction(deps, { sagaId: orderId, step: CHARGE_STEP }, async () =>
    planCharge(deps.tableName, order, new Date().toISOString()),
  );
  return result;
});
