import { runCompensation } from '../shared/barrier.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { planRelease, RELEASE_STEP, RESERVE_STEP, type Reservation } from './inventory.js';

const deps = barrierDepsFromEnv();

export const handler = sagaStepHandler(RELEASE_STEP, async ({ orderId }) => {
  const outcome = await runCompensation<Reservation>(
    deps,
    { sagaId: orderId, step: RESERVE_STEP },
    (reservation) => planRelease(deps.tableName, reservation),
  );
  return { outcome };
});
