import { runCompensation } from '../shared/barrier.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { planShipmentCancellation, SHIPMENT_STEP } from './shipping.js';

const deps = barrierDepsFromEnv();

export const handler = sagaStepHandler('CancelShipment', async ({ orderId }) => {
  const outcome = await runCompensation(deps, { sagaId: orderId, step: SHIPMENT_STEP }, () =>
    planShipmentCancellation(deps.tableName, orderId, new Date().toISOString()),
  );
  return { outcome };
});
