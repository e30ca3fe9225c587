import { runAction } from '../shared/barrier.js';
import { requireEnv } from '../shared/env.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { orderLinesField, shippingAddressField } from '../shared/step-input.js';
import { parseServedCountries, planShipment, SHIPMENT_STEP } from './shipping.js';

const deps = barrierDepsFromEnv();
const servedCountries = parseServedCountries(requireEnv('SERVED_COUNTRIES'));

export const handler = sagaStepHandler(SHIPMENT_STEP, async ({ orderId, payload }) => {
  const order = {
    orderId,
    address: shippingAddressField(payload, 'shippingAddress'),
    items: orderLinesField(payload, 'items'),
  };
  const { result } = await runAction(deps, { sagaId: orderId, step: SHIPMENT_STEP }, async () =>
    planShipment(deps.tableName, order, servedCountries, new Date().toISOString()),
  );
  return result;
});
