import { runCompensation } from '../shared/barrier.js';
import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { planRelease, type Reservation } from './inventory.js';

const deps = barrierDepsFromEnv();
const STEP = SAGA_STEPS.reserveInventory;

export const handler = sagaStepHandler(STEP.compensationState, async ({ orderId }) => {
  const outcome = await runCompensation<Reservation>(
    deps,
    { sagaId: orderId, step: STEP.barrierId },
    (reservation) => planRelease(deps.tableName, reservation),
  );
  return { outcome };
});
