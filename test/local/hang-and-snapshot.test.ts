import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  address,
  armFault,
  attemptsOf,
  clearFaults,
  eventually,
  historyOf,
  notificationsOf,
  placeOrderDirectly,
  snapshot,
  waitForExecution,
} from './harness.js';

afterEach(async () => {
  await clearFaults();
});

describe('a hang fault on the local cloud', () => {
  it('fails the step with Sandbox.Timedout at the function timeout, and the saga retries it', async () => {
    await armFault({ target: 'ReserveInventory', mode: 'hang', count: 1 });
    const { executionArn } = await placeOrderDirectly({
      customerId: 'rich',
      items: [{ sku: 'HAPPY-1', quantity: 1 }],
    });

    const execution = await waitForExecution(executionArn);
    const events = await historyOf(executionArn);

    expect(execution.status).toBe('SUCCEEDED');
    expect(attemptsOf(events, 'ReserveInventory')).toBe(2);
    // The function's 10 s timeout at the test time scale, never below Lambda's one second.
    const seconds = Math.max(1, 10 * inject('timeScale')).toFixed(2);
    expect(events.find((event) => event.type === 'LambdaFunctionFailed')).toMatchObject({
      lambdaFunctionFailedEventDetails: {
        error: 'Sandbox.Timedout',
        cause: `Task timed out after ${seconds} seconds (injected hang)`,
      },
    });
  });
});

describe('GET /_local/snapshot', () => {
  it('lists each shipment with its address, the charge and reservation, and the notifications sent for an order', async () => {
    const { orderId, executionArn } = await placeOrderDirectly({
      customerId: 'rich',
      items: [{ sku: 'HAPPY-2', quantity: 1 }],
      country: 'CA',
    });
    expect((await waitForExecution(executionArn)).status).toBe('SUCCEEDED');

    const confirmed = await snapshot();
    const shipment = confirmed.shipments.find((entry) => entry.orderId === orderId);
    expect(shipment).toMatchObject({ status: 'CREATED', address: address('CA') });
    expect(confirmed.charges.filter((entry) => entry.orderId === orderId)).toEqual([
      { orderId, customerId: 'rich', amountCents: 500, status: 'CHARGED' },
    ]);
    expect(confirmed.reservations.filter((entry) => entry.orderId === orderId)).toEqual([
      { orderId, sku: 'HAPPY-2', quantity: 1, released: false },
    ]);
    const state = await eventually('the order confirmation to be notified', async () => {
      const current = await snapshot();
      return notificationsOf(current, orderId).includes('OrderConfirmed') ? current : undefined;
    });
    const [first] = state.notifications.filter((entry) => entry.orderId === orderId);
    expect(first).toEqual({
      orderId,
      eventType: notificationsOf(state, orderId)[0],
      eventId: expect.stringMatching(new RegExp(`^${orderId}#${first?.eventType}#\\d+$`)),
    });
  });
});
