import { describe, expect, it } from 'vitest';
import { CUSTOMER, newOrder, placeOrder, settledOrder } from './fixtures.js';
import type { E2eSession } from './session.js';

const LOCAL_ONLY = ' (local only: holding orders in flight on purpose needs the local cloud\u2019s faults)';
/** The stage's cap (lib/stages.ts, stated in the contract's x-limits). */
const IN_FLIGHT_CAP = 5;

/** The limits a caller meets: a customer's orders in flight are capped, and the cap frees up as they end. */
export function limitCases(session: () => E2eSession, isLocal: boolean): void {
  describe('limits', () => {
    it.skipIf(!isLocal)(
      `refuses a customer's order past the in-flight cap with 429 and Retry-After, nothing written, until one ends${isLocal ? '' : LOCAL_ONLY}`,
      async () => {
        const local = session().local;
        const sign = session().customerToken;
        if (!local || !sign) throw new Error('local controls and customer tokens missing');
        const customerId = `${CUSTOMER}-capped`;
        await session().seed({ inventory: [], accounts: [{ customerId, balanceCents: 10_000_000 }] });
        const asCustomer = (order: ReturnType<typeof newOrder>) =>
          session().api.call('POST', '/customer/orders', {
            as: 'unsigned',
            headers: { authorization: sign(customerId), 'Idempotency-Key': order.key },
            body: order.body,
          });
        const held = Array.from({ length: IN_FLIGHT_CAP }, () => newOrder(session(), { customerId }));
        // Each shipment request is never delivered: the orders stay PENDING for one heartbeat (9 s at the suite's
        // time scale), then the timeout before the pivot cancels them, which frees their places.
        for (const order of held)
          await local.armFault({
            target: 'CreateShipment',
            mode: 'timeout',
            count: 1,
            orderId: order.orderId,
          });
        for (const order of held) {
          session().track(order.orderId);
          expect((await asCustomer(order)).status).toBe(202);
        }

        const extra = newOrder(session(), { customerId });
        session().track(extra.orderId);
        const refused = await asCustomer(extra);
        // The cap is the customer's, whichever route family places the order.
        const refusedToService = await placeOrder(session(), extra);
        const replay = await asCustomer(held[0] ?? extra);

        expect(refused.status).toBe(429);
        expect(refused.headers.get('retry-after')).toBe('10');
        expect(refused.body).toMatchObject({ error: { code: 'TooManyOrdersInFlight' } });
        expect(refusedToService.status).toBe(429);
        expect((await session().api.call('GET', `/orders/${extra.orderId}`, { as: 'operator' })).status).toBe(
          404,
        );
        // A replay of an order already counted is answered, never refused.
        expect(replay.status).toBe(202);

        await settledOrder(session(), held[0]?.orderId ?? '', 'CANCELLED');
        expect((await asCustomer(extra)).status).toBe(202);
        await settledOrder(session(), extra.orderId, 'CONFIRMED');
      },
      90_000,
    );
  });
}
