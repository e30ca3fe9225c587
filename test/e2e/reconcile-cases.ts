import { describe, expect, it } from 'vitest';
import { LOCAL_API_IDENTITIES } from '../../local/api-identities.js';
import { newOrder, placeOrder, settledOrder } from './fixtures.js';
import type { E2eSession } from './session.js';

const REASON = 'e2e: the cause is fixed';
const LOCAL_ONLY = ' (skipped: it needs the local cloud to make a saga fail on purpose)';

/** The operator's actor as the function was told it: the local operator identity's ARN. */
const OPERATOR_ARN = `arn:aws:iam::000000000000:user/${LOCAL_API_IDENTITIES.operator.name}`;

async function waitForStep(session: E2eSession, orderId: string, step: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { body } = await session.api.call('GET', `/orders/${orderId}?include=steps`, { as: 'operator' });
    const { steps = [] } = (body ?? {}) as { steps?: { step: string }[] };
    if (steps.some((entry) => entry.step === step)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${orderId} never reached ${step}`);
}

/** An operator's POST /orders/{id}/reconcile with and without each action. */
export function reconcileCases(session: () => E2eSession, isLocal: boolean): void {
  const reconcile = (orderId: string, body?: unknown) =>
    session().api.call('POST', `/orders/${orderId}/reconcile`, { as: 'operator', body });

  describe('reconcile, on a settled order', () => {
    it('does nothing without an action, and answers each action on a final order', async () => {
      const order = newOrder(session());
      expect((await placeOrder(session(), order)).status).toBe(202);
      await settledOrder(session(), order.orderId, 'CONFIRMED');
      expect(await reconcile(order.orderId)).toMatchObject({ status: 200, body: { result: 'nothing' } });
      const redrive = await reconcile(order.orderId, { action: 'redrive', reason: REASON });
      expect(redrive).toMatchObject({ status: 409, body: { error: { code: 'OrderFinal' } } });
      const cancel = await reconcile(order.orderId, { action: 'cancel', reason: REASON });
      expect(cancel).toMatchObject({ status: 409, body: { error: { code: 'OrderFinal' } } });
      const complete = await reconcile(order.orderId, { action: 'complete', reason: REASON });
      expect(complete).toMatchObject({ status: 200, body: { result: 'nothing' } });
      expect((await reconcile(order.orderId, { action: 'cancel' })).status).toBe(400);
      expect((await reconcile(`ord_${'f'.repeat(32)}`)).status).toBe(404);
    });
  });

  /** An order whose shipping worker keeps failing, placed and waiting at CreateShipment (local target only). */
  async function orderStuckAtShipment() {
    const local = session().local;
    if (!local) throw new Error('local controls missing');
    const order = newOrder(session());
    await local.armFault({ target: 'ShippingWorker', mode: 'error', count: 1000, orderId: order.orderId });
    expect((await placeOrder(session(), order)).status).toBe(202);
    await waitForStep(session(), order.orderId, 'CreateShipment');
    return { local, order };
  }

  // Faults are cleared for everyone at once: these run one after another.
  describe('reconcile, each operator action settling an order', () => {
    it.skipIf(!isLocal)(
      `redrive resumes a saga an operator stopped${isLocal ? '' : LOCAL_ONLY}`,
      async () => {
        const { local, order } = await orderStuckAtShipment();
        await local.stopSaga(order.orderId);
        await local.clearFaults();
        expect(await reconcile(order.orderId)).toMatchObject({
          status: 200,
          body: { status: 'NEEDS_ATTENTION' },
        });
        const waiting = await settledOrder(session(), order.orderId, 'NEEDS_ATTENTION');
        expect(waiting.failure).toMatchObject({ reason: 'execution-stopped' });

        expect((await reconcile(order.orderId, { action: 'redrive', reason: REASON })).status).toBe(202);
        const confirmed = await settledOrder(session(), order.orderId, 'CONFIRMED');
        // Resumed where it stopped: the reservation ran once.
        expect(confirmed.steps?.filter((step) => step.step === 'ReserveInventory')).toHaveLength(1);
        expect(confirmed.actions).toEqual([
          expect.objectContaining({
            action: 'redrive',
            actor: OPERATOR_ARN,
            reason: REASON,
            outcome: 'CONFIRMED',
          }),
        ]);
      },
    );

    it.skipIf(!isLocal)(
      `cancel unwinds a saga stuck before the pivot${isLocal ? '' : LOCAL_ONLY}`,
      async () => {
        const { local, order } = await orderStuckAtShipment();
        const cancel = await reconcile(order.orderId, { action: 'cancel', reason: REASON });
        expect(cancel).toMatchObject({
          status: 202,
          body: { pendingAction: { action: 'cancel', actor: OPERATOR_ARN } },
        });
        const cancelled = await settledOrder(session(), order.orderId, 'CANCELLED');
        expect(cancelled.actions).toEqual([
          expect.objectContaining({ action: 'cancel', actor: OPERATOR_ARN, outcome: 'CANCELLED' }),
        ]);
        await local.clearFaults();
        const state = await session().snapshot?.();
        expect(state?.charges.filter((charge) => charge.orderId === order.orderId)).toEqual([
          expect.objectContaining({ status: 'REFUNDED' }),
        ]);
        expect(state?.shipments.find((shipment) => shipment.orderId === order.orderId)).toBeUndefined();
      },
    );

    it.skipIf(!isLocal)(
      `complete finishes an order whose step after the pivot kept failing${isLocal ? '' : LOCAL_ONLY}`,
      async () => {
        const local = session().local;
        if (!local) throw new Error('local controls missing');
        const order = newOrder(session());
        await local.armFault({ target: 'ConfirmOrder', mode: 'error', count: 1000, orderId: order.orderId });
        expect((await placeOrder(session(), order)).status).toBe(202);
        const waiting = await settledOrder(session(), order.orderId, 'NEEDS_ATTENTION');
        expect(waiting.failure).toMatchObject({ reason: 'failed-after-pivot', step: 'ConfirmOrder' });
        const refused = await reconcile(order.orderId, { action: 'cancel', reason: REASON });
        expect(refused).toMatchObject({ status: 409, body: { error: { code: 'PivotPassed' } } });
        await local.clearFaults();

        expect((await reconcile(order.orderId, { action: 'complete', reason: REASON })).status).toBe(202);
        const confirmed = await settledOrder(session(), order.orderId, 'CONFIRMED');
        expect(confirmed.actions).toEqual([
          expect.objectContaining({ action: 'complete', actor: OPERATOR_ARN, outcome: 'CONFIRMED' }),
        ]);
      },
    );
  });
}
