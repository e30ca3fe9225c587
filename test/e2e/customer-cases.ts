import { describe, expect, it } from 'vitest';
import { BROKE_CUSTOMER, CUSTOMER, newOrder, settledOrder } from './fixtures.js';
import type { E2eSession } from './session.js';

const LOCAL_ONLY = ' (local only: a deployment needs a user of its pool, with MFA, to sign in)';

/** The customer routes with a customer's ID token: each customer bound to their own orders. */
export function customerCases(session: () => E2eSession, isLocal: boolean): void {
  const tokenOf = (customerId: string) => {
    const sign = session().customerToken;
    if (!sign) throw new Error(`the ${session().target} target signs no customer tokens`);
    return sign(customerId);
  };
  const asCustomer = (
    customerId: string,
    method: string,
    path: string,
    options: { key?: string; body?: unknown } = {},
  ) =>
    session().api.call(method, path, {
      as: 'unsigned',
      headers: {
        authorization: tokenOf(customerId),
        ...(options.key ? { 'Idempotency-Key': options.key } : {}),
      },
      body: options.body,
    });

  describe.concurrent('customers', () => {
    it.skipIf(!isLocal)(
      `refuses an order for another customer with 403, nothing written${isLocal ? '' : LOCAL_ONLY}`,
      async () => {
        const order = newOrder(session(), { customerId: BROKE_CUSTOMER });
        session().track(order.orderId);

        const refused = await asCustomer(CUSTOMER, 'POST', '/customer/orders', {
          key: order.key,
          body: order.body,
        });

        expect(refused.status).toBe(403);
        expect(refused.body).toMatchObject({ error: { code: 'CustomerMismatch' } });
        const lookedUp = await session().api.call('GET', `/orders/${order.orderId}`, { as: 'operator' });
        expect(lookedUp.status).toBe(404);
      },
    );

    it.skipIf(!isLocal)(
      `answers 404 for another customer's order, on GET and reconcile${isLocal ? '' : LOCAL_ONLY}`,
      async () => {
        const order = newOrder(session(), { customerId: CUSTOMER });
        session().track(order.orderId);
        const placed = await asCustomer(CUSTOMER, 'POST', '/customer/orders', {
          key: order.key,
          body: order.body,
        });
        expect(placed.status).toBe(202);
        expect(placed.body).toMatchObject({
          orderId: order.orderId,
          links: { self: `/customer/orders/${order.orderId}` },
        });

        const own = await asCustomer(CUSTOMER, 'GET', `/customer/orders/${order.orderId}`);
        expect(own.status).toBe(200);
        const foreign = await asCustomer(BROKE_CUSTOMER, 'GET', `/customer/orders/${order.orderId}`);
        expect(foreign.status).toBe(404);
        expect(foreign.body).toMatchObject({ error: { code: 'OrderNotFound' } });
        const foreignReconcile = await asCustomer(
          BROKE_CUSTOMER,
          'POST',
          `/customer/orders/${order.orderId}/reconcile`,
        );
        expect(foreignReconcile.status).toBe(404);
        await settledOrder(session(), order.orderId, 'CONFIRMED');
      },
    );

    it.skipIf(!isLocal)(
      `refuses the customer routes without a token with 401${isLocal ? '' : LOCAL_ONLY}`,
      async () => {
        const order = newOrder(session());
        const answer = await session().api.call('POST', '/customer/orders', {
          as: 'unsigned',
          headers: { 'Idempotency-Key': order.key },
          body: order.body,
        });

        expect(answer.status).toBe(401);
        expect(answer.headers.get('x-amzn-errortype')).toBe('UnauthorizedException');
      },
    );
  });
}
