import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../../local/snapshot.js';
import {
  BROKE_CUSTOMER,
  CUSTOMER,
  newOrder,
  PRICE_CENTS,
  placeOrder,
  RARE_SKU,
  SKU,
  settledOrder,
  stepNames,
} from './fixtures.js';
import type { E2eSession } from './session.js';

const FORWARD = ['ReserveInventory', 'ChargePayment', 'CreateShipment', 'ConfirmOrder'];

const stockOf = (state: Snapshot, sku: string) => state.inventory.find((item) => item.sku === sku)?.available;
const balanceOf = (state: Snapshot, customerId: string) =>
  state.accounts.find((account) => account.customerId === customerId)?.balanceCents;

/**
 * What the stock and money of the suite's fixtures are, where the target has a snapshot. Cases run at once on
 * one SKU and one customer, so each compares only what it alone moves, or none.
 */
async function holdings(session: E2eSession, sku: string, customerId: string) {
  const state = await session.snapshot?.();
  return state ? { stock: stockOf(state, sku), balance: balanceOf(state, customerId) } : undefined;
}

/** Placing, reading, failing and repeating orders through the public API, as a client service does. */
export function ordersCases(session: () => E2eSession, isLocal: boolean): void {
  describe.concurrent('orders', () => {
    it('confirms an order: each forward step once, stock and money taken', async () => {
      const order = newOrder(session(), { quantity: 2 });
      const placed = await placeOrder(session(), order);
      expect(placed.status).toBe(202);
      expect(placed.body).toMatchObject({ orderId: order.orderId, status: 'PENDING' });
      const confirmed = await settledOrder(session(), order.orderId, 'CONFIRMED');
      expect(confirmed.steps?.map((step) => [step.step, step.outcome])).toEqual(
        FORWARD.map((step) => [step, 'succeeded']),
      );
      const state = await session().snapshot?.();
      if (state) {
        expect(state.shipments.find((shipment) => shipment.orderId === order.orderId)?.status).toBe(
          'CREATED',
        );
        expect(state.charges.filter((charge) => charge.orderId === order.orderId)).toEqual([
          expect.objectContaining({ amountCents: 2 * PRICE_CENTS, status: 'CHARGED' }),
        ]);
        expect(state.reservations.filter((line) => line.orderId === order.orderId)).toEqual([
          { orderId: order.orderId, sku: SKU, quantity: 2, released: false },
        ]);
      }
    });

    it('InsufficientStock: cancelled at the reservation, nothing taken', async () => {
      const before = await holdings(session(), RARE_SKU, CUSTOMER);
      const order = newOrder(session(), { sku: RARE_SKU, quantity: 2 });
      expect((await placeOrder(session(), order)).status).toBe(202);
      const cancelled = await settledOrder(session(), order.orderId, 'CANCELLED');
      expect(cancelled.failure).toMatchObject({ step: 'ReserveInventory', error: 'InsufficientStock' });
      expect(stepNames(cancelled)).toEqual(['ReserveInventory', 'ReleaseInventory', 'CancelOrder']);
      if (before) expect((await holdings(session(), RARE_SKU, CUSTOMER))?.stock).toBe(before.stock);
    });

    it('InsufficientFunds: cancelled at the charge, the reservation released', async () => {
      const order = newOrder(session(), { customerId: BROKE_CUSTOMER });
      expect((await placeOrder(session(), order)).status).toBe(202);
      const cancelled = await settledOrder(session(), order.orderId, 'CANCELLED');
      expect(cancelled.failure).toMatchObject({ step: 'ChargePayment', error: 'InsufficientFunds' });
      expect(stepNames(cancelled)).toEqual([
        'ReserveInventory',
        'ChargePayment',
        'RefundPayment',
        'ReleaseInventory',
        'CancelOrder',
      ]);
      const state = await session().snapshot?.();
      if (state) {
        expect(balanceOf(state, BROKE_CUSTOMER)).toBe(0);
        expect(state.reservations.filter((line) => line.orderId === order.orderId)).toEqual([
          expect.objectContaining({ released: true }),
        ]);
      }
    });

    it('ShippingRejected: every compensation in reverse, money and stock back', async () => {
      const order = newOrder(session(), { country: 'BR' });
      expect((await placeOrder(session(), order)).status).toBe(202);
      const cancelled = await settledOrder(session(), order.orderId, 'CANCELLED');
      expect(cancelled.failure).toMatchObject({ step: 'CreateShipment', error: 'ShippingRejected' });
      expect(stepNames(cancelled)).toEqual([
        'ReserveInventory',
        'ChargePayment',
        'CreateShipment',
        'CancelShipment',
        'RefundPayment',
        'ReleaseInventory',
        'CancelOrder',
      ]);
      const state = await session().snapshot?.();
      if (state) {
        expect(state.charges.filter((charge) => charge.orderId === order.orderId)).toEqual([
          expect.objectContaining({ amountCents: PRICE_CENTS, status: 'REFUNDED' }),
        ]);
        expect(state.reservations.filter((line) => line.orderId === order.orderId)).toEqual([
          expect.objectContaining({ released: true }),
        ]);
      }
    });

    it('is idempotent: the same key and body give the same order, another body 422', async () => {
      const order = newOrder(session());
      const answers = await Promise.all([placeOrder(session(), order), placeOrder(session(), order)]);
      for (const answer of answers) {
        // 409 ConcurrentRequest while the winner's write is not visible yet is the contract's other answer.
        expect([202, 409]).toContain(answer.status);
        if (answer.status === 202) expect(answer.body).toMatchObject({ orderId: order.orderId });
      }
      await settledOrder(session(), order.orderId, 'CONFIRMED');
      const again = await placeOrder(session(), order);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ orderId: order.orderId, status: 'CONFIRMED' });
      const changed = await placeOrder(session(), order, {
        ...order.body,
        items: [{ sku: SKU, quantity: 3 }],
      });
      expect(changed.status).toBe(422);
      const steps = (await settledOrder(session(), order.orderId, 'CONFIRMED')).steps ?? [];
      expect(steps.filter((step) => step.step === 'ChargePayment')).toHaveLength(1);
    });

    it('answers bad input with 4xx and its error code, never a 5xx', async () => {
      const api = session().api;
      const order = newOrder(session());
      const noKey = await api.call('POST', '/orders', { body: order.body });
      expect(noKey.status).toBe(400);
      expect(noKey.body).toMatchObject({ error: { code: 'MissingParameter' } });
      const badBody = await placeOrder(session(), order, {
        ...order.body,
        items: [{ sku: SKU, quantity: 0 }],
      });
      expect(badBody.status).toBe(400);
      expect(badBody.body).toMatchObject({ error: { code: 'ValidationFailed' } });
      const notJson = await placeOrder(session(), order, '{"customerId":');
      expect(notJson.status).toBe(400);
      const unknown = await api.call('GET', `/orders/ord_${'0'.repeat(32)}`);
      expect(unknown.status).toBe(404);
      const badAction = await api.call('POST', `/orders/ord_${'0'.repeat(32)}/reconcile`, {
        as: 'operator',
        body: { action: 'undo', reason: 'x' },
      });
      expect(badAction.status).toBe(400);
      // Nothing was written for the refused POSTs: the key is still free.
      expect((await api.call('GET', `/orders/${order.orderId}`)).status).toBe(404);
    });

    it.skipIf(!isLocal)(
      `refuses unsigned callers, and clients on reconcile${isLocal ? '' : ' (skipped: the deployment signs with one identity, the default chain)'}`,
      async () => {
        const api = session().api;
        const order = newOrder(session());
        const unsigned = await placeOrder(session(), order, order.body, 'unsigned');
        expect(unsigned.status).toBe(403);
        expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
        expect(unsigned.body).toMatchObject({ error: { code: 'MissingAuthenticationToken' } });

        expect((await placeOrder(session(), order)).status).toBe(202);
        await settledOrder(session(), order.orderId, 'CONFIRMED');
        const asClient = await api.call('POST', `/orders/${order.orderId}/reconcile`, { as: 'client' });
        expect(asClient.status).toBe(403);
        expect(asClient.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
        expect(asClient.body).toMatchObject({
          error: { code: 'AccessDenied', message: expect.stringContaining('/POST/orders/') },
        });
        const asOperator = await api.call('POST', `/orders/${order.orderId}/reconcile`, { as: 'operator' });
        expect(asOperator.status).toBe(200);
        expect((await api.call('GET', `/orders/${order.orderId}`, { as: 'unsigned' })).status).toBe(403);
      },
    );
  });
}
