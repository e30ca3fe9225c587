import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderKey, pendingOrderRow, sagaInputOf } from '../../lambdas/orders/orders.js';
import { type OrderSagaCloud, startLocalCloud } from '../../local/cloud.js';
import type { Seed } from '../../local/seed.js';
import { checkInvariants, describeViolations, initialOf, readInvariantInput } from '../support/invariants.js';

/**
 * Many orders for one hot SKU. With stock 100 and ample money, 1,000 concurrent orders must give exactly 100
 * confirmed and 900 cancelled for InsufficientStock, stock 0 and money conserved. On AWS a hot item answers
 * concurrent transactions with conflicts (DynamoDB Local never does, so the interception layer injects them):
 * the product's answer is WriteConflict, retried on its own longer jittered policy, so no order is cancelled for
 * contention while stock remains.
 *
 * It runs on a local cloud of its own with every duration tripled: on two cores a thousand sagas queue for a
 * few sandboxes, and that wait counts against each state's timeout, which would turn into timeouts AWS (where
 * each invocation gets its own sandbox) would not have. Longer timeouts absorb the queue, so only the product's
 * logic decides how each order ends.
 */
const ORDERS = 1000;
const STOCK = 100;
// Orders placed at once: enough to keep every function busy without a thousand sockets to DynamoDB Local.
const PLACING_CONCURRENCY = 50;

const BUYERS = 100;
const LOAD_TIME_SCALE = 3;
const WORKERS_PER_FUNCTION = 4;

const waves = { hot: 'LOAD-HOT', contended: 'LOAD-CONTENDED' } as const;
const buyer = (wave: string, index: number) => `${wave}-buyer-${index}`;
const seed: Seed = {
  inventory: Object.values(waves).map((sku) => ({ sku, stock: STOCK, priceCents: 100 })),
  // Ample money: every buyer can pay for all of its orders.
  accounts: Object.values(waves).flatMap((wave) =>
    Array.from({ length: BUYERS }, (_unused, index) => ({
      customerId: buyer(wave, index),
      balanceCents: 1_000_000,
    })),
  ),
};

let cloud: OrderSagaCloud;
let sfn: SFNClient;
let documents: DynamoDBDocumentClient;

beforeAll(async () => {
  cloud = await startLocalCloud({
    projectRoot: fileURLToPath(new URL('../..', import.meta.url)),
    port: 0,
    timeScale: LOAD_TIME_SCALE,
    maxWorkersPerFunction: WORKERS_PER_FUNCTION,
    seed,
  });
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  sfn = new SFNClient({ endpoint: cloud.endpoints.sfn, region: 'us-east-1', credentials });
  documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: cloud.endpoints.dynamodb, region: 'us-east-1', credentials }),
  );
}, 120_000);

afterAll(async () => {
  await cloud?.stop();
});

const outputOf = (name: string) => {
  const value = cloud.outputs[name];
  if (!value) throw new Error(`Stack output ${name} missing`);
  return value;
};

interface OrderRow {
  orderId: string;
  status: string;
  /** The failure that turned the saga around. */
  failure?: { step?: string; error?: string };
}

/** What the orders API does: the PENDING order, then its saga under the order's id. */
async function placeOrder(customerId: string, sku: string): Promise<string> {
  const orderId = `ord_${randomBytes(16).toString('hex')}`;
  const order = {
    orderId,
    customerId,
    items: [{ sku, quantity: 1 }],
    shippingAddress: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    traceId: randomBytes(8).toString('hex'),
    requestHash: orderId,
  };
  await documents.send(
    new PutCommand({
      TableName: outputOf('OrdersTableName'),
      Item: pendingOrderRow(order, new Date().toISOString()),
    }),
  );
  await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: outputOf('StateMachineArn'),
      name: orderId,
      input: JSON.stringify(sagaInputOf(order)),
    }),
  );
  return orderId;
}

async function readOrders(orderIds: string[]): Promise<OrderRow[]> {
  const table = outputOf('OrdersTableName');
  const rows: OrderRow[] = [];
  for (let index = 0; index < orderIds.length; index += 100) {
    const keys = orderIds.slice(index, index + 100).map(orderKey);
    const { Responses } = await documents.send(
      new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }),
    );
    rows.push(...((Responses?.[table] ?? []) as OrderRow[]));
  }
  return rows;
}

async function inBatches<T>(
  count: number,
  concurrency: number,
  work: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await work(index);
      }
    }),
  );
  return results;
}

async function armFault(fault: { target: string; mode: string; count: number }): Promise<void> {
  const response = await fetch(`${cloud.apiUrl}/_local/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  if (response.status !== 201) throw new Error(`fault: ${response.status} ${await response.text()}`);
}

async function remainingFaultHits(): Promise<number> {
  const response = await fetch(`${cloud.apiUrl}/_local/faults`);
  const { faults } = (await response.json()) as { faults: { remaining: number }[] };
  return faults.reduce((total, fault) => total + fault.remaining, 0);
}

/** Places every order of a wave at once (bounded only by sockets), waits until none is PENDING, checks invariants. */
async function runWave(wave: string): Promise<{ rows: OrderRow[]; seconds: number }> {
  const started = Date.now();
  const orderIds = await inBatches(ORDERS, PLACING_CONCURRENCY, (index) =>
    placeOrder(buyer(wave, index % BUYERS), wave),
  );
  let rows: OrderRow[] = [];
  const deadline = Date.now() + 240_000;
  do {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    rows = await readOrders(orderIds);
  } while (rows.some((row) => row.status === 'PENDING') && Date.now() < deadline);
  const seconds = (Date.now() - started) / 1000;
  const customerIds = Array.from({ length: BUYERS }, (_unused, index) => buyer(wave, index));
  await untilNotificationsSettle(new Set(orderIds));
  // Reading a thousand orders and their executions takes seconds: checked again only if something still trailed.
  const settleBy = Date.now() + 30_000;
  let violations: ReturnType<typeof checkInvariants>;
  do {
    const read = await readInvariantInput(
      { apiUrl: cloud.apiUrl, sfn, documents, outputs: cloud.outputs },
      orderIds,
    );
    violations = checkInvariants({
      initial: initialOf(seed),
      ...read,
      only: { orderIds, customerIds, skus: [wave] },
      settled: true,
    });
  } while (violations.length > 0 && Date.now() < settleBy);
  console.log(`${wave}: ${JSON.stringify(tally(rows))} in ${seconds.toFixed(1)} s`);
  expect(violations, describeViolations(violations)).toEqual([]);
  return { rows, seconds };
}

/** Notifications trail the orders: waits until the events queue is drained and their count stops growing. */
async function untilNotificationsSettle(orderIds: Set<string>): Promise<void> {
  let last = -1;
  for (let polls = 0; polls < 60; polls++) {
    const state = await cloud.snapshot();
    const notified = state.notifications.filter((entry) => orderIds.has(entry.orderId)).length;
    const queued = state.queues.reduce((total, queue) => total + queue.visible + queue.inFlight, 0);
    if (queued === 0 && notified === last) return;
    last = notified;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function tally(rows: OrderRow[]) {
  const count = (status: string) => rows.filter((row) => row.status === status).length;
  const cancelledFor = (error: string) =>
    rows.filter((row) => row.status === 'CANCELLED' && row.failure?.error === error).length;
  return {
    confirmed: count('CONFIRMED'),
    cancelled: count('CANCELLED'),
    // Any other status, counted by name: a load must not leave orders waiting for a person.
    other: Object.fromEntries(
      [...new Set(rows.map((row) => row.status))]
        .filter((status) => status !== 'CONFIRMED' && status !== 'CANCELLED')
        .map((status) => [status, count(status)]),
    ),
    insufficientStock: cancelledFor('InsufficientStock'),
    // Why the others were cancelled, by step and error: none may be contention while stock remained.
    cancelledFor: Object.fromEntries(
      [
        ...new Set(
          rows
            .filter((row) => row.status === 'CANCELLED')
            .map((row) => `${row.failure?.step}:${row.failure?.error}`),
        ),
      ].map((reason) => [
        reason,
        rows.filter(
          (row) => `${row.failure?.step}:${row.failure?.error}` === reason && row.status === 'CANCELLED',
        ).length,
      ]),
    ),
  };
}

describe('load and contention: 1,000 concurrent orders for one SKU with stock 100', () => {
  it('confirms exactly 100 and cancels 900 for InsufficientStock; stock 0, money conserved', async () => {
    const { rows, seconds } = await runWave(waves.hot);
    const result = tally(rows);
    console.log(
      `load: ${ORDERS} orders in ${seconds.toFixed(1)} s (${(ORDERS / seconds).toFixed(1)} sagas/s): ${JSON.stringify(result)}`,
    );
    expect(result).toMatchObject({
      confirmed: STOCK,
      cancelled: ORDERS - STOCK,
      other: {},
      insufficientStock: ORDERS - STOCK,
    });
  }, 400_000);

  it('under transaction conflicts on the inventory table (half the first wave of calls), no order is cancelled for contention', async () => {
    const conflicts = ORDERS / 2;
    await armFault({
      target: 'dynamodb:TransactWriteItems:Inventory/Table',
      mode: 'conflict',
      count: conflicts,
    });
    const { rows, seconds } = await runWave(waves.contended);
    const spent = conflicts - (await remainingFaultHits());
    const result = tally(rows);
    console.log(
      `contention: ${ORDERS} orders in ${seconds.toFixed(1)} s with ${spent} injected conflicts: ${JSON.stringify(result)}`,
    );
    expect(spent).toBe(conflicts);
    expect(result).toMatchObject({
      confirmed: STOCK,
      cancelled: ORDERS - STOCK,
      other: {},
      insufficientStock: ORDERS - STOCK,
    });
  }, 400_000);
});
