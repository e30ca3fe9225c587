import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionDoesNotExist,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { orderKey } from '../../lambdas/orders/orders.js';
import { executionArnOf } from '../../lambdas/orders/saga-client.js';
import { isFinal, isPersonWaiting, ORDER_STATUSES, type OrderStatus } from '../../lambdas/orders/status.js';
import { SAGA_END_STATES } from '../../lambdas/shared/saga-states.js';
import type { Seed } from '../../local/seed.js';
import type { Snapshot } from '../../local/snapshot.js';

/**
 * The saga's invariants over the business state, as one pure function every suite shares (local tests, the
 * fault matrix, the soak script). Stock and money are checked as conservation laws against the seed rather
 * than as before/after differences, so they hold however many orders ran and in whatever order.
 */

/** What the cloud was seeded with: stock per SKU and balance per customer. */
export interface InitialState {
  stock: Record<string, number>;
  balances: Record<string, number>;
}

/** An order as its record stores it; customerId and items make the CONFIRMED and charge checks exact. */
export interface OrderRecord {
  orderId: string;
  status: string;
  customerId?: string;
  items?: { sku: string; quantity: number }[];
}

/** One execution (saga, unwind or completion) started for an order. */
export interface ExecutionRecord {
  orderId: string;
  name: string;
  status: string;
  error?: string;
}

/** An event the order emitted: one outbox row. */
export interface EmittedEvent {
  orderId: string;
  eventId: string;
  eventType: string;
}

/** Narrows the check to what a caller owns on a shared cloud; stock and money are computed over these only. */
export interface Scope {
  orderIds?: readonly string[];
  customerIds?: readonly string[];
  skus?: readonly string[];
}

export type InvariantSnapshot = Pick<
  Snapshot,
  'inventory' | 'accounts' | 'orders' | 'shipments' | 'notifications' | 'charges' | 'reservations'
> &
  Partial<Pick<Snapshot, 'inFlight'>>;

export interface InvariantInput {
  initial: InitialState;
  snapshot: InvariantSnapshot;
  /** Order records; without them the snapshot's statuses are used and line-level checks are skipped. */
  orders?: OrderRecord[];
  executions?: ExecutionRecord[];
  /** Emitted events; with them every event must have exactly one notification, else only duplicates count. */
  events?: EmittedEvent[];
  only?: Scope;
  /** Every order must be final or waiting for a person, with no execution still running. */
  settled?: boolean;
}

export interface Violation {
  rule: string;
  detail: string;
}

export function initialOf(seed: Seed): InitialState {
  return {
    stock: Object.fromEntries(seed.inventory.map((item) => [item.sku, item.stock])),
    balances: Object.fromEntries(seed.accounts.map((account) => [account.customerId, account.balanceCents])),
  };
}

const ACTIVE_SHIPMENT = 'CREATED';
const CHARGE_STATUSES = new Set(['CHARGED', 'REFUNDED']);
/** Statuses an order may hold an active shipment in: past the pivot, in flight, or with a person. */
const MAY_HOLD_SHIPMENT = new Set(['PENDING', 'CONFIRMED', 'NEEDS_ATTENTION', 'COMPENSATION_FAILED']);
const IN_FLIGHT_EXECUTION = new Set(['RUNNING', 'PENDING_REDRIVE']);

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const linesKey = (lines: { sku: string; quantity: number }[]) =>
  lines
    .map((line) => `${line.sku}x${line.quantity}`)
    .sort()
    .join(',');

export function checkInvariants(input: InvariantInput): Violation[] {
  const { initial, snapshot, only = {}, settled = false } = input;
  const violations: Violation[] = [];
  const violate = (rule: string, detail: string) => violations.push({ rule, detail });

  const reservationsBySku = groupBy(snapshot.reservations, (reservation) => reservation.sku);
  const reservationsByOrder = groupBy(snapshot.reservations, (reservation) => reservation.orderId);
  const chargesByOrder = groupBy(snapshot.charges, (charge) => charge.orderId);
  const chargesByCustomer = groupBy(snapshot.charges, (charge) => charge.customerId);
  const activeShipments = groupBy(
    snapshot.shipments.filter((shipment) => shipment.status === ACTIVE_SHIPMENT),
    (shipment) => shipment.orderId,
  );

  // The in-flight cap is exact only if each counter is exactly its customer's counted orders, all PENDING.
  for (const { customerId, counter, counted } of snapshot.inFlight ?? []) {
    if (only.customerIds && !only.customerIds.includes(customerId)) continue;
    for (const order of counted.filter((entry) => entry.status !== 'PENDING'))
      violate('inflight.mark', `${order.orderId}: ${order.status} but still counted in flight`);
    if (counter !== counted.length)
      violate(
        'inflight.count',
        `${customerId}: counter ${counter} ≠ ${counted.length} orders counted in flight`,
      );
  }

  for (const sku of only.skus ?? Object.keys(initial.stock)) {
    const row = snapshot.inventory.find((item) => item.sku === sku);
    const start = initial.stock[sku];
    if (!row || start === undefined) {
      violate('stock.missing', `${sku}: ${row ? 'not in the initial stock' : 'no stock row'}`);
      continue;
    }
    if (row.available < 0 || row.reserved < 0)
      violate('stock.negative', `${sku}: available ${row.available}, reserved ${row.reserved}`);
    const held = sum(
      (reservationsBySku.get(sku) ?? []).filter((line) => !line.released).map((line) => line.quantity),
    );
    if (start !== row.available + held)
      violate('stock.balance', `${sku}: initial ${start} ≠ available ${row.available} + unreleased ${held}`);
    if (row.reserved !== held)
      violate('stock.reserved', `${sku}: reserved counter ${row.reserved} ≠ unreleased reservations ${held}`);
  }

  for (const customerId of only.customerIds ?? Object.keys(initial.balances)) {
    const account = snapshot.accounts.find((candidate) => candidate.customerId === customerId);
    const start = initial.balances[customerId];
    if (!account || start === undefined) {
      violate(
        'money.missing',
        `${customerId}: ${account ? 'not in the initial balances' : 'no account row'}`,
      );
      continue;
    }
    if (account.balanceCents < 0) violate('money.negative', `${customerId}: ${account.balanceCents}`);
    const taken = sum(
      (chargesByCustomer.get(customerId) ?? [])
        .filter((charge) => charge.status !== 'REFUNDED')
        .map((charge) => charge.amountCents),
    );
    const expected = start - taken;
    // Above: money came back that no charge took (a refund without a charge, or twice). Below: money was
    // taken that no charge records.
    if (account.balanceCents > expected)
      violate(
        'money.created',
        `${customerId}: balance ${account.balanceCents} > initial ${start} − unrefunded ${taken}`,
      );
    if (account.balanceCents < expected)
      violate(
        'money.lost',
        `${customerId}: balance ${account.balanceCents} < initial ${start} − unrefunded ${taken}`,
      );
  }

  const records = new Map<string, OrderRecord>(
    snapshot.orders.map((order) => [order.orderId, { orderId: order.orderId, status: order.status }]),
  );
  for (const order of input.orders ?? []) records.set(order.orderId, order);
  const orderIds =
    only.orderIds ??
    [
      ...new Set([
        ...records.keys(),
        ...chargesByOrder.keys(),
        ...reservationsByOrder.keys(),
        ...activeShipments.keys(),
      ]),
    ].sort();
  const executionsByOrder = groupBy(input.executions ?? [], (execution) => execution.orderId);
  const notificationsByEvent = groupBy(snapshot.notifications, (notification) => notification.eventId);
  const eventsByOrder = groupBy(input.events ?? [], (event) => event.orderId);

  for (const orderId of orderIds) {
    const order = records.get(orderId);
    const charges = chargesByOrder.get(orderId) ?? [];
    const reserved = reservationsByOrder.get(orderId) ?? [];
    const shipments = activeShipments.get(orderId) ?? [];
    const held = reserved.filter((line) => !line.released);
    const unrefunded = charges.filter((charge) => charge.status !== 'REFUNDED');

    if (charges.length > 1) violate('charge.once', `${orderId}: ${charges.length} charges`);
    for (const charge of charges) {
      if (!CHARGE_STATUSES.has(charge.status))
        violate('charge.status', `${orderId}: charge status ${charge.status}`);
      if (order?.customerId !== undefined && charge.customerId !== order.customerId)
        violate(
          'charge.customer',
          `${orderId}: charged ${charge.customerId}, ordered by ${order.customerId}`,
        );
    }
    if (shipments.length > 1) violate('shipment.once', `${orderId}: ${shipments.length} active shipments`);

    if (!order) {
      violate('order.missing', `${orderId}: no order record`);
      if (shipments.length > 0) violate('shipment.status', `${orderId}: active shipment without an order`);
      continue;
    }
    if (!(ORDER_STATUSES as readonly string[]).includes(order.status)) {
      violate('order.status', `${orderId}: unknown status ${order.status}`);
      continue;
    }
    const status = order.status as OrderStatus;
    if (shipments.length > 0 && !MAY_HOLD_SHIPMENT.has(status))
      violate('shipment.status', `${orderId}: active shipment while ${status}`);
    if (settled && !isFinal(status) && !isPersonWaiting(status))
      violate('order.unsettled', `${orderId}: still ${status}`);

    if (status === 'CANCELLED') {
      if (held.length > 0) violate('cancelled.reservation', `${orderId}: ${linesKey(held)} not released`);
      if (unrefunded.length > 0) violate('cancelled.charge', `${orderId}: charge not refunded`);
      if (shipments.length > 0) violate('cancelled.shipment', `${orderId}: shipment still active`);
    }
    if (status === 'CONFIRMED') {
      const exact = order.items ? linesKey(held) === linesKey(order.items) : held.length > 0;
      if (!exact || held.length !== reserved.length)
        violate(
          'confirmed.reservation',
          `${orderId}: holds [${linesKey(held)}] of [${order.items ? linesKey(order.items) : '?'}], ${reserved.length - held.length} line(s) released`,
        );
      if (unrefunded.length !== 1)
        violate('confirmed.charge', `${orderId}: ${unrefunded.length} unrefunded charges`);
      if (shipments.length !== 1)
        violate('confirmed.shipment', `${orderId}: ${shipments.length} active shipments`);
    }

    if (input.executions) {
      const executions = executionsByOrder.get(orderId) ?? [];
      const running = executions.filter((execution) => IN_FLIGHT_EXECUTION.has(execution.status));
      if (settled && running.length > 0)
        violate(
          'order.unsettled',
          `${orderId}: ${running.map((execution) => execution.name).join(', ')} running`,
        );
      // A step commits the status a moment before its execution ends: only ended executions are compared.
      if (running.length === 0) {
        const succeeded = executions.some((execution) => execution.status === 'SUCCEEDED');
        const unwound = executions.some(
          (execution) => execution.status === 'FAILED' && execution.error === SAGA_END_STATES.cancelled,
        );
        // A stop does not recall a step already invoked: the last step (ConfirmOrder, CancelOrder) may commit
        // the final status and its execution be stopped before it ends. The business checks above still hold.
        const stopped = executions.some((execution) => execution.status === 'ABORTED');
        const ended = executions
          .map(
            (execution) =>
              `${execution.name} ${execution.status}${execution.error ? ` ${execution.error}` : ''}`,
          )
          .join(', ');
        if (status === 'CONFIRMED' ? !(succeeded || stopped) : succeeded)
          violate(
            'order.execution',
            `${orderId}: ${status}, ${succeeded ? 'an' : 'no'} execution succeeded (${ended})`,
          );
        if (status === 'CANCELLED' ? !(unwound || stopped) : unwound)
          violate(
            'order.execution',
            `${orderId}: ${status}, ${unwound ? 'an' : 'no'} execution ended ${SAGA_END_STATES.cancelled} (${ended})`,
          );
      }
    }

    const notifications = snapshot.notifications.filter((notification) => notification.orderId === orderId);
    for (const [eventId, copies] of groupBy(notifications, (notification) => notification.eventId)) {
      if (copies.length > 1) violate('event.once', `${eventId}: notified ${copies.length} times`);
    }
    if (input.events) {
      const emitted = eventsByOrder.get(orderId) ?? [];
      for (const event of emitted) {
        if (!notificationsByEvent.has(event.eventId))
          violate('event.once', `${event.eventId}: never notified`);
      }
      const emittedIds = new Set(emitted.map((event) => event.eventId));
      for (const notification of notifications) {
        if (!emittedIds.has(notification.eventId))
          violate('event.unknown', `${notification.eventId}: notified but never emitted`);
      }
    }
  }
  return violations;
}

export function describeViolations(violations: readonly Violation[]): string {
  return violations.map((violation) => `${violation.rule}: ${violation.detail}`).join('\n');
}

/** The clients a reader needs: what the local cloud's endpoints file or a test's globals provide. */
export interface CloudReaders {
  apiUrl: string;
  sfn: SFNClient;
  documents: DynamoDBDocumentClient;
  outputs: Record<string, string>;
}

function output(cloud: CloudReaders, name: string): string {
  const value = cloud.outputs[name];
  if (!value) throw new Error(`Stack output ${name} missing`);
  return value;
}

async function describe(cloud: CloudReaders, executionArn: string) {
  try {
    return await cloud.sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist) return undefined;
    throw error;
  }
}

async function readOrder(cloud: CloudReaders, orderId: string) {
  const table = output(cloud, 'OrdersTableName');
  const [{ Item }, { Items = [] }] = await Promise.all([
    cloud.documents.send(new GetCommand({ TableName: table, Key: orderKey(orderId), ConsistentRead: true })),
    cloud.documents.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `OUTBOX#${orderId}` },
        ConsistentRead: true,
      }),
    ),
  ]);
  // The saga's execution is named after the order; unwinds and completions are recorded on the order.
  const arns = new Set([
    executionArnOf(output(cloud, 'StateMachineArn'), orderId),
    ...((Item?.executionArns as Iterable<string> | undefined) ?? []),
  ]);
  const described = (await Promise.all([...arns].map((arn) => describe(cloud, arn)))).filter(
    (execution): execution is DescribeExecutionCommandOutput => execution !== undefined,
  );
  return {
    order: Item
      ? {
          orderId,
          status: String(Item.status),
          customerId: String(Item.customerId),
          items: Item.items as { sku: string; quantity: number }[],
        }
      : undefined,
    executions: described.map((execution) => ({
      orderId,
      name: String(execution.name),
      status: String(execution.status),
      ...(execution.error ? { error: execution.error } : {}),
    })),
    events: Items.map((row) => ({
      orderId,
      eventId: String(row.eventId),
      eventType: String(row.eventType),
    })),
  };
}

/** Everything checkInvariants reads, from a running local cloud, for the given orders. */
export async function readInvariantInput(
  cloud: CloudReaders,
  orderIds: readonly string[],
): Promise<Pick<InvariantInput, 'snapshot' | 'orders' | 'executions' | 'events'>> {
  const response = await fetch(`${cloud.apiUrl}/_local/snapshot`);
  if (!response.ok) throw new Error(`snapshot: ${response.status}`);
  const snapshot = (await response.json()) as Snapshot;
  const orders: OrderRecord[] = [];
  const executions: ExecutionRecord[] = [];
  const events: EmittedEvent[] = [];
  // A few at a time: a soak run checks hundreds of orders against one local cloud.
  for (let index = 0; index < orderIds.length; index += 8) {
    for (const read of await Promise.all(
      orderIds.slice(index, index + 8).map((id) => readOrder(cloud, id)),
    )) {
      if (read.order) orders.push(read.order);
      executions.push(...read.executions);
      events.push(...read.events);
    }
  }
  return { snapshot, orders, executions, events };
}
