import { runAction } from '../shared/barrier.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { stringField } from '../shared/step-input.js';
import { planConfirmation } from './orders.js';

const deps = barrierDepsFromEnv();
const STEP = 'ConfirmOrder';

export const handler = sagaStepHandler(STEP, async ({ orderId, payload }) => {
  const shipmentId = stringField(payload, 'shipmentId');
  const { result } = await runAction(deps, { sagaId: orderId, step: STEP }, async () =>
    planConfirmation(deps.tableName, orderId, shipmentId, new Date().toISOString()),
  );
  return result;
});
