import { describe, expect, it } from 'vitest';
import {
  checkInvariants,
  describeViolations,
  type InvariantInput,
  initialOf,
} from '../support/invariants.js';

const event = (orderId: string, eventType: string, version: number) => ({
  orderId,
  eventType,
  eventId: `${orderId}#${eventType}#${version}`,
});

/**
 * A world where every rule holds: o1 confirmed, o2 cancelled and fully compensated, o3 waiting for a person
 * after the pivot (charged, shipped, not confirmed).
 */
function world(): InvariantInput {
  const events = [
    event('o1', 'OrderPlaced', 1),
    event('o1', 'OrderConfirmed', 2),
    event('o2', 'OrderPlaced', 1),
    event('o2', 'OrderCancelled', 2),
    event('o3', 'OrderPlaced', 1),
    event('o3', 'OrderNeedsAttention', 2),
  ];
  return {
    initial: initialOf({
      inventory: [
        { sku: 'A', stock: 10, priceCents: 100 },
        { sku: 'B', stock: 5, priceCents: 100 },
      ],
      accounts: [
        { customerId: 'c1', balanceCents: 1000 },
        { customerId: 'c2', balanceCents: 500 },
      ],
    }),
    snapshot: {
      inventory: [
        { sku: 'A', available: 8, reserved: 2 },
        { sku: 'B', available: 3, reserved: 2 },
      ],
      accounts: [
        { customerId: 'c1', balanceCents: 650 },
        { customerId: 'c2', balanceCents: 500 },
      ],
      orders: [
        { orderId: 'o1', status: 'CONFIRMED' },
        { orderId: 'o2', status: 'CANCELLED' },
        { orderId: 'o3', status: 'NEEDS_ATTENTION' },
      ],
      shipments: [
        { orderId: 'o1', status: 'CREATED', address: null },
        { orderId: 'o2', status: 'CANCELLED', address: null },
        { orderId: 'o3', status: 'CREATED', address: null },
      ],
      notifications: events.map((entry) => ({ ...entry })),
      charges: [
        { orderId: 'o1', customerId: 'c1', amountCents: 300, status: 'CHARGED' },
        { orderId: 'o2', customerId: 'c2', amountCents: 100, status: 'REFUNDED' },
        { orderId: 'o3', customerId: 'c1', amountCents: 50, status: 'CHARGED' },
      ],
      reservations: [
        { orderId: 'o1', sku: 'A', quantity: 2, released: false },
        { orderId: 'o1', sku: 'B', quantity: 1, released: false },
        { orderId: 'o2', sku: 'A', quantity: 1, released: true },
        { orderId: 'o3', sku: 'B', quantity: 1, released: false },
      ],
      // o4 is c2's order still in flight; o1 to o3 left PENDING and released their count.
      inFlight: [
        { customerId: 'c1', counter: 0, counted: [] },
        { customerId: 'c2', counter: 1, counted: [{ orderId: 'o4', status: 'PENDING' }] },
      ],
    },
    orders: [
      {
        orderId: 'o1',
        status: 'CONFIRMED',
        customerId: 'c1',
        items: [
          { sku: 'A', quantity: 2 },
          { sku: 'B', quantity: 1 },
        ],
      },
      { orderId: 'o2', status: 'CANCELLED', customerId: 'c2', items: [{ sku: 'A', quantity: 1 }] },
      { orderId: 'o3', status: 'NEEDS_ATTENTION', customerId: 'c1', items: [{ sku: 'B', quantity: 1 }] },
    ],
    executions: [
      { orderId: 'o1', name: 'o1', status: 'SUCCEEDED' },
      { orderId: 'o2', name: 'o2', status: 'FAILED', error: 'OrderCancelled' },
      { orderId: 'o3', name: 'o3', status: 'FAILED', error: 'NeedsAttention' },
    ],
    events,
    settled: true,
  };
}

const rulesOf = (input: InvariantInput) => checkInvariants(input).map((violation) => violation.rule);

function changed(change: (input: InvariantInput) => void): InvariantInput {
  const input = structuredClone(world());
  change(input);
  return input;
}

const order = (input: InvariantInput, orderId: string) => {
  const found = input.orders?.find((candidate) => candidate.orderId === orderId);
  if (!found) throw new Error(orderId);
  return found;
};
const stock = (input: InvariantInput, sku: string) => {
  const found = input.snapshot.inventory.find((item) => item.sku === sku);
  if (!found) throw new Error(sku);
  return found;
};
const account = (input: InvariantInput, customerId: string) => {
  const found = input.snapshot.accounts.find((item) => item.customerId === customerId);
  if (!found) throw new Error(customerId);
  return found;
};

describe('checkInvariants', () => {
  it('finds nothing in a world where every rule holds', () => {
    expect(checkInvariants(world())).toEqual([]);
  });

  it.each<[string, string, (input: InvariantInput) => void]>([
    [
      'stock.balance',
      'a unit disappears from stock without a reservation',
      (w) => {
        stock(w, 'A').available = 7;
        stock(w, 'A').reserved = 3;
      },
    ],
    [
      'stock.balance',
      'a release that gave stock back twice',
      (w) => {
        stock(w, 'A').available = 9;
      },
    ],
    [
      'stock.reserved',
      'the reserved counter drifts from the reservations',
      (w) => {
        stock(w, 'B').reserved = 1;
      },
    ],
    [
      'stock.negative',
      'available below zero',
      (w) => {
        w.initial.stock.A = -2;
        stock(w, 'A').available = -4;
      },
    ],
    [
      'stock.missing',
      'a SKU in scope without a stock row',
      (w) => {
        w.only = { skus: ['C'] };
      },
    ],
    [
      'money.lost',
      'money taken without a charge row',
      (w) => {
        account(w, 'c1').balanceCents = 600;
      },
    ],
    [
      'money.created',
      'a refund without a charge (the balance above what the charges explain)',
      (w) => {
        account(w, 'c2').balanceCents = 600;
      },
    ],
    [
      'money.negative',
      'a balance below zero',
      (w) => {
        w.initial.balances.c2 = -1;
        account(w, 'c2').balanceCents = -1;
      },
    ],
    [
      'inflight.count',
      'a counter that went down twice for one order',
      (w) => {
        const c2 = w.snapshot.inFlight?.find((entry) => entry.customerId === 'c2');
        if (c2) c2.counter = 0;
      },
    ],
    [
      'inflight.mark',
      'an order that left PENDING without releasing its count',
      (w) => {
        w.snapshot.inFlight?.[0]?.counted.push({ orderId: 'o1', status: 'CONFIRMED' });
        if (w.snapshot.inFlight?.[0]) w.snapshot.inFlight[0].counter = 1;
      },
    ],
    [
      'money.missing',
      'a customer in scope without an account',
      (w) => {
        w.only = { customerIds: ['nobody'] };
      },
    ],
    [
      'charge.once',
      'two charges for one order',
      (w) => {
        w.snapshot.charges.push({ orderId: 'o2', customerId: 'c2', amountCents: 100, status: 'REFUNDED' });
        account(w, 'c2').balanceCents = 500;
      },
    ],
    [
      'charge.status',
      'a charge in an unknown state',
      (w) => {
        const charge = w.snapshot.charges.find((entry) => entry.orderId === 'o2');
        if (charge) charge.status = 'PARTIALLY_REFUNDED';
      },
    ],
    [
      'charge.customer',
      'a charge against someone else',
      (w) => {
        order(w, 'o3').customerId = 'c2';
      },
    ],
    [
      'shipment.once',
      'two active shipments for one order',
      (w) => {
        w.snapshot.shipments.push({ orderId: 'o1', status: 'CREATED', address: null });
      },
    ],
    [
      'shipment.status',
      'an active shipment for an order nobody placed',
      (w) => {
        w.snapshot.shipments.push({ orderId: 'ghost', status: 'CREATED', address: null });
      },
    ],
    [
      'cancelled.shipment',
      'a cancelled order still shipping',
      (w) => {
        const shipment = w.snapshot.shipments.find((entry) => entry.orderId === 'o2');
        if (shipment) shipment.status = 'CREATED';
      },
    ],
    [
      'cancelled.reservation',
      'a cancelled order still holding stock',
      (w) => {
        const line = w.snapshot.reservations.find((entry) => entry.orderId === 'o2');
        if (line) line.released = false;
        stock(w, 'A').available = 7;
        stock(w, 'A').reserved = 3;
      },
    ],
    [
      'cancelled.charge',
      'a cancelled order never refunded',
      (w) => {
        const charge = w.snapshot.charges.find((entry) => entry.orderId === 'o2');
        if (charge) charge.status = 'CHARGED';
        account(w, 'c2').balanceCents = 400;
      },
    ],
    [
      'confirmed.reservation',
      'a confirmed order missing a line',
      (w) => {
        w.snapshot.reservations = w.snapshot.reservations.filter(
          (l) => !(l.orderId === 'o1' && l.sku === 'B'),
        );
        stock(w, 'B').available = 4;
        stock(w, 'B').reserved = 1;
      },
    ],
    [
      'confirmed.reservation',
      'a confirmed order whose stock was released',
      (w) => {
        for (const line of w.snapshot.reservations) if (line.orderId === 'o1') line.released = true;
        stock(w, 'A').available = 10;
        stock(w, 'A').reserved = 0;
        stock(w, 'B').available = 4;
        stock(w, 'B').reserved = 1;
      },
    ],
    [
      'confirmed.charge',
      'a confirmed order refunded',
      (w) => {
        const charge = w.snapshot.charges.find((entry) => entry.orderId === 'o1');
        if (charge) charge.status = 'REFUNDED';
        account(w, 'c1').balanceCents = 950;
      },
    ],
    [
      'confirmed.shipment',
      'a confirmed order without a shipment',
      (w) => {
        w.snapshot.shipments = w.snapshot.shipments.filter((entry) => entry.orderId !== 'o1');
      },
    ],
    [
      'order.unsettled',
      'a PENDING order when all should be settled',
      (w) => {
        order(w, 'o3').status = 'PENDING';
        w.executions = [];
      },
    ],
    [
      'order.unsettled',
      'an execution still running when all should be settled',
      (w) => {
        w.executions?.push({ orderId: 'o3', name: 'o3-complete-1', status: 'RUNNING' });
      },
    ],
    [
      'order.missing',
      'an order in scope without a record',
      (w) => {
        w.only = { orderIds: ['o1', 'lost'] };
      },
    ],
    [
      'order.status',
      'a status the model does not have',
      (w) => {
        order(w, 'o3').status = 'SHIPPED';
      },
    ],
    [
      'order.execution',
      'CONFIRMED without a succeeded execution',
      (w) => {
        const saga = w.executions?.find((entry) => entry.orderId === 'o1');
        if (saga) Object.assign(saga, { status: 'FAILED', error: 'NeedsAttention' });
      },
    ],
    [
      'order.execution',
      'a succeeded execution for an order not CONFIRMED',
      (w) => {
        w.executions?.push({ orderId: 'o3', name: 'o3-complete-1', status: 'SUCCEEDED' });
      },
    ],
    [
      'order.execution',
      'CANCELLED without an execution that ended OrderCancelled',
      (w) => {
        const saga = w.executions?.find((entry) => entry.orderId === 'o2');
        if (saga) saga.error = 'CompensationFailed';
      },
    ],
    [
      'event.once',
      'an event notified twice',
      (w) => {
        w.snapshot.notifications.push({ ...event('o1', 'OrderPlaced', 1) });
      },
    ],
    [
      'event.once',
      'an event never notified',
      (w) => {
        w.snapshot.notifications = w.snapshot.notifications.filter(
          (entry) => entry.eventType !== 'OrderConfirmed',
        );
      },
    ],
    [
      'event.unknown',
      'a notification for an event the order never emitted',
      (w) => {
        w.snapshot.notifications.push({ ...event('o3', 'OrderConfirmed', 3) });
      },
    ],
  ])('reports %s: %s', (rule, _case, change) => {
    expect(rulesOf(changed(change))).toContain(rule);
  });

  it.each<[string, (input: InvariantInput) => void]>([
    [
      'an order in flight holds stock, money and a shipment while PENDING, unless settled is asked',
      (w) => {
        order(w, 'o3').status = 'PENDING';
        w.snapshot.notifications = w.snapshot.notifications.filter(
          (e) => e.eventType !== 'OrderNeedsAttention',
        );
        w.events = w.events?.filter((e) => e.eventType !== 'OrderNeedsAttention');
        w.executions = [
          ...(w.executions ?? []).filter((e) => e.orderId !== 'o3'),
          { orderId: 'o3', name: 'o3', status: 'RUNNING' },
        ];
        w.settled = false;
      },
    ],
    [
      'a status committed before its execution ended is not compared with it',
      (w) => {
        w.executions = w.executions?.map((e) => (e.orderId === 'o1' ? { ...e, status: 'RUNNING' } : e));
        w.settled = false;
      },
    ],
    [
      'an order cancelled by an operator after a failed compensation: saga failed, unwind cancelled',
      (w) => {
        w.executions?.push({ orderId: 'o2', name: 'o2-cancel-1', status: 'FAILED', error: 'OrderCancelled' });
        const saga = w.executions?.find((entry) => entry.name === 'o2');
        if (saga) saga.error = 'CompensationFailed';
      },
    ],
    [
      'a COMPENSATION_FAILED order still holding stock, money and a shipment',
      (w) => {
        order(w, 'o3').status = 'COMPENSATION_FAILED';
        w.executions = w.executions?.map((e) =>
          e.orderId === 'o3' ? { ...e, error: 'CompensationFailed' } : e,
        );
      },
    ],
    [
      'one order reaching a status twice is two events',
      (w) => {
        w.events?.push(event('o3', 'OrderNeedsAttention', 3));
        w.snapshot.notifications.push({ ...event('o3', 'OrderNeedsAttention', 3) });
      },
    ],
    [
      "another test's broken order outside the scope",
      (w) => {
        w.snapshot.shipments.push({ orderId: 'other', status: 'CREATED', address: null });
        w.snapshot.accounts.push({ customerId: 'other', balanceCents: -5 });
        w.only = { orderIds: ['o1', 'o2', 'o3'], customerIds: ['c1', 'c2'], skus: ['A', 'B'] };
      },
    ],
    [
      'no order records: statuses from the snapshot, CONFIRMED needs some held reservation',
      (w) => {
        w.orders = undefined;
      },
    ],
  ])('holds when %s', (_case, change) => {
    const violations = checkInvariants(changed(change));
    expect(violations, describeViolations(violations)).toEqual([]);
  });
});
