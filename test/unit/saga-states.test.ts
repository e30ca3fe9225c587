import { describe, expect, it } from 'vitest';
import { SAGA_STEPS } from '../../lambdas/shared/saga-states.js';

describe('saga step ids', () => {
  it('keeps the barrier ids stored data already uses, whatever the states are named', () => {
    // Barrier rows of sagas in flight carry these ids: changing one strands their compensations. A state may
    // be renamed; its barrierId must stay as written here.
    expect(
      Object.fromEntries(Object.entries(SAGA_STEPS).map(([key, step]) => [key, step.barrierId])),
    ).toEqual({
      reserveInventory: 'ReserveInventory',
      chargePayment: 'ChargePayment',
      createShipment: 'CreateShipment',
      confirmOrder: 'ConfirmOrder',
      cancelOrder: 'CancelOrder',
      markCompensationFailed: 'MarkCompensationFailed',
      markNeedsAttention: 'MarkNeedsAttention',
    });
  });

  it('gives every state a name of its own', () => {
    const names = Object.values(SAGA_STEPS).flatMap((step) => [
      step.state,
      ...('compensationState' in step ? [step.compensationState] : []),
    ]);
    expect(new Set(names).size).toBe(names.length);
  });
});
