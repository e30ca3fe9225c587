import { describe, expect, it } from 'vitest';
import { orderEvent } from '../../lambdas/shared/outbox.js';
import { CUSTOMER, eventually, newOrder, placeOrder, settledOrder } from './fixtures.js';
import type { E2eSession } from './session.js';

const LOCAL_ONLY = ' (local only: sending to an internal queue needs the local cloud\u2019s own client)';

/** Internal channels trust only their senders: an event on order-events that the relay did not send is refused. */
export function forgedEventCases(session: () => E2eSession, isLocal: boolean): void {
  describe('internal channels', () => {
    it.skipIf(!isLocal)(
      `refuse an OrderConfirmed forged by another principal; the real one is still notified${isLocal ? '' : LOCAL_ONLY}`,
      async () => {
        const local = session().local;
        const readState = session().snapshot;
        if (!local || !readState) throw new Error('local controls and the snapshot missing');
        const order = newOrder(session(), { customerId: CUSTOMER });
        session().track(order.orderId);
        const deadLettered = async () =>
          (await readState()).queues
            .filter((queue) => queue.name.endsWith('order-events-dlq'))
            .reduce((depth, queue) => depth + queue.visible + queue.inFlight, 0);
        const before = await deadLettered();
        // The event the relay will send when this order is confirmed, sent first: taken, it would hold the inbox
        // row the real one needs, and the customer would be told of a confirmation that had not happened.
        const forged = orderEvent(order.orderId, 'OrderConfirmed', 2, new Date().toISOString());
        await local.sendToOrderEvents(forged);

        expect((await placeOrder(session(), order)).status).toBe(202);
        await settledOrder(session(), order.orderId, 'CONFIRMED');
        const confirmations = await eventually('the real confirmation notified', async () => {
          const notified = (await readState()).notifications.filter(
            (row) => row.orderId === order.orderId && row.eventType === 'OrderConfirmed',
          );
          return notified.length > 0 ? notified : undefined;
        });
        expect(confirmations).toEqual([expect.objectContaining({ eventId: forged.eventId })]);
        // Refused on every delivery, the forged message waits in the DLQ for a person.
        await eventually('the forged event in the DLQ', async () =>
          (await deadLettered()) > before ? true : undefined,
        );
      },
      60_000,
    );
  });
}
