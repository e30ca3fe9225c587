import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import {
  armFault,
  assertInvariants,
  attemptsOf,
  balanceOf,
  clearFaults,
  historyOf,
  listFaults,
  orderStatusOf,
  output,
  placeOrderDirectly,
  sfn,
  shipmentStatusOf,
  snapshot,
  stockOf,
  taskPath,
  waitForExecution,
} from './harness.js';

const FORWARD = ['ReserveInventory', 'ChargePayment', 'CreateShipment', 'ConfirmOrder'];

afterEach(async () => {
  await clearFaults();
});

describe('the saga on the local cloud', () => {
  it('confirms an order: stock reserved, money taken, shipment created', async () => {
    const before = await snapshot();
    const { orderId, executionArn } = await placeOrderDirectly({
      customerId: 'rich',
      items: [
        { sku: 'HAPPY-1', quantity: 2 },
        { sku: 'HAPPY-2', quantity: 1 },
      ],
    });

    const execution = await waitForExecution(executionArn);
    const after = await snapshot();

    expect(execution.status).toBe('SUCCEEDED');
    expect(taskPath(await historyOf(executionArn))).toEqual(FORWARD);
    expect(stockOf(after, 'HAPPY-1')).toEqual({
      sku: 'HAPPY-1',
      available: (stockOf(before, 'HAPPY-1')?.available ?? 0) - 2,
      reserved: (stockOf(before, 'HAPPY-1')?.reserved ?? 0) + 2,
    });
    expect(balanceOf(after, 'rich')).toBe((balanceOf(before, 'rich') ?? 0) - (2 * 1299 + 500));
    expect(shipmentStatusOf(after, orderId)).toBe('CREATED');
    expect(orderStatusOf(after, orderId)).toBe('CONFIRMED');
    await assertInvariants({ orderIds: [orderId], customerIds: ['rich'], skus: ['HAPPY-1', 'HAPPY-2'] });
  });

  it.each([
    {
      failure: 'InsufficientStock, a null compensation: nothing to release, nothing charged',
      order: { customerId: 'rich', items: [{ sku: 'SCARCE', quantity: 2 }] },
      path: ['ReserveInventory', 'ReleaseInventory', 'CancelOrder'],
    },
    {
      failure: 'InsufficientFunds: the reserved stock is released',
      order: { customerId: 'broke', items: [{ sku: 'HAPPY-1', quantity: 1 }] },
      path: ['ReserveInventory', 'ChargePayment', 'RefundPayment', 'ReleaseInventory', 'CancelOrder'],
    },
    {
      failure: 'ShippingRejected: the charge is refunded and the stock released',
      order: { customerId: 'rich', items: [{ sku: 'HAPPY-2', quantity: 1 }], country: 'BR' },
      path: [
        'ReserveInventory',
        'ChargePayment',
        'CreateShipment',
        'CancelShipment',
        'RefundPayment',
        'ReleaseInventory',
        'CancelOrder',
      ],
    },
  ])('cancels on $failure, compensating in reverse order', async ({ order, path }) => {
    const [line] = order.items;
    const before = await snapshot();
    const { orderId, executionArn } = await placeOrderDirectly(order);

    const execution = await waitForExecution(executionArn);
    const after = await snapshot();

    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('OrderCancelled');
    expect(taskPath(await historyOf(executionArn))).toEqual(path);
    expect(stockOf(after, line?.sku ?? '')).toEqual(stockOf(before, line?.sku ?? ''));
    expect(balanceOf(after, order.customerId)).toBe(balanceOf(before, order.customerId));
    expect(shipmentStatusOf(after, orderId)).toBeUndefined();
    expect(orderStatusOf(after, orderId)).toBe('CANCELLED');
    await assertInvariants({ orderIds: [orderId], customerIds: [order.customerId], skus: [line?.sku ?? ''] });
  });

  it('answers a duplicate StartExecution with the running execution, and refuses another input under the same name', async () => {
    const { orderId, executionArn, input } = await placeOrderDirectly({
      customerId: 'rich',
      items: [{ sku: 'HAPPY-1', quantity: 1 }],
    });
    const stateMachineArn = output('StateMachineArn');

    const again = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: orderId, input }));
    expect(again.executionArn).toBe(executionArn);

    await expect(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: orderId,
          input: JSON.stringify({ orderId, other: true }),
        }),
      ),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    expect((await waitForExecution(executionArn)).status).toBe('SUCCEEDED');
  });
});

describe('the saga under injected faults', () => {
  it('retries a transient failure and goes on', async () => {
    await armFault({ target: 'ChargePayment', mode: 'transient', count: 2 });
    const before = await snapshot();
    const { orderId, executionArn } = await placeOrderDirectly({
      customerId: 'faults',
      items: [{ sku: 'FAULTS', quantity: 1 }],
    });

    const execution = await waitForExecution(executionArn);
    const after = await snapshot();

    expect(execution.status).toBe('SUCCEEDED');
    expect(attemptsOf(await historyOf(executionArn), 'ChargePayment')).toBe(3);
    expect(balanceOf(after, 'faults')).toBe((balanceOf(before, 'faults') ?? 0) - 100);
    await assertInvariants({ orderIds: [orderId], customerIds: ['faults'], skus: ['FAULTS'] });
  });

  it('compensates a step that timed out after committing: the charge is refunded', async () => {
    const before = await snapshot();
    await armFault({ target: 'ChargePayment', mode: 'timeout', count: 1 });
    const { orderId, executionArn } = await placeOrderDirectly({
      customerId: 'faults',
      items: [{ sku: 'FAULTS', quantity: 3 }],
    });

    const execution = await waitForExecution(executionArn);
    const events = await historyOf(executionArn);
    const after = await snapshot();

    expect(execution.error).toBe('OrderCancelled');
    expect(
      events.some((event) => event.type === 'LambdaFunctionTimedOut' || event.type === 'TaskTimedOut'),
    ).toBe(true);
    expect(taskPath(events)).toEqual([
      'ReserveInventory',
      'ChargePayment',
      'RefundPayment',
      'ReleaseInventory',
      'CancelOrder',
    ]);
    expect(balanceOf(after, 'faults')).toBe(balanceOf(before, 'faults'));
    expect(stockOf(after, 'FAULTS')).toEqual(stockOf(before, 'FAULTS'));
    expect(orderStatusOf(after, orderId)).toBe('CANCELLED');
    await assertInvariants({ orderIds: [orderId], customerIds: ['faults'], skus: ['FAULTS'] });
  });

  it('deduplicates a retried step whose first response was lost: stock is reserved once', async () => {
    const before = await snapshot();
    await armFault({ target: 'ReserveInventory', mode: 'lost-response', count: 1 });
    const { orderId, executionArn } = await placeOrderDirectly({
      customerId: 'faults',
      items: [{ sku: 'FAULTS', quantity: 4 }],
    });

    const execution = await waitForExecution(executionArn);
    const after = await snapshot();

    expect(execution.status).toBe('SUCCEEDED');
    expect(attemptsOf(await historyOf(executionArn), 'ReserveInventory')).toBe(2);
    expect(stockOf(after, 'FAULTS')?.available).toBe((stockOf(before, 'FAULTS')?.available ?? 0) - 4);
    expect(balanceOf(after, 'faults')).toBe((balanceOf(before, 'faults') ?? 0) - 400);
    await assertInvariants({ orderIds: [orderId], customerIds: ['faults'], skus: ['FAULTS'] });
  });

  it('refunds once when the compensation itself runs twice', async () => {
    const before = await snapshot();
    await armFault({ target: 'RefundPayment', mode: 'duplicate-delivery', count: 1 });
    // An address outside the served countries fails CreateShipment, so the charge must be refunded.
    const { orderId, executionArn } = await placeOrderDirectly({
      customerId: 'faults',
      items: [{ sku: 'FAULTS', quantity: 2 }],
      country: 'BR',
    });

    const execution = await waitForExecution(executionArn);
    const after = await snapshot();

    expect(execution.error).toBe('OrderCancelled');
    expect(await listFaults()).toEqual([]);
    expect(balanceOf(after, 'faults')).toBe(balanceOf(before, 'faults'));
    expect(stockOf(after, 'FAULTS')).toEqual(stockOf(before, 'FAULTS'));
    await assertInvariants({ orderIds: [orderId], customerIds: ['faults'], skus: ['FAULTS'] });
  });

  it('escalates to CompensationFailed when a compensation keeps failing', async () => {
    await armFault({ target: 'ReleaseInventory', mode: 'error', count: 100 });
    // 'broke' cannot pay for two: ChargePayment fails and ReleaseInventory has real work to do.
    const { orderId, executionArn } = await placeOrderDirectly({
      customerId: 'broke',
      items: [{ sku: 'FAULTS', quantity: 2 }],
    });

    const execution = await waitForExecution(executionArn);
    const after = await snapshot();

    expect(execution.error).toBe('CompensationFailed');
    expect(taskPath(await historyOf(executionArn)).slice(-1)).toEqual(['MarkCompensationFailed']);
    expect(orderStatusOf(after, orderId)).toBe('COMPENSATION_FAILED');
    // The release never ran: the stock stays with the order, and is still accounted for.
    expect(after.reservations.filter((line) => line.orderId === orderId)).toEqual([
      { orderId, sku: 'FAULTS', quantity: 2, released: false },
    ]);
    await assertInvariants({ orderIds: [orderId], customerIds: ['broke'], skus: ['FAULTS'] });
  });
});
