import { createHash, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { pendingOrderRow, sagaInputOf } from '../../lambdas/orders/orders.js';
import { loadSeedFile } from '../../local/seed.js';
import type { Snapshot } from '../../local/snapshot.js';
import {
  checkInvariants,
  describeViolations,
  type InitialState,
  initialOf,
  readInvariantInput,
  type Violation,
} from '../support/invariants.js';
import { localOrderIdOf } from '../support/order-ids.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
export const sfn = new SFNClient({ endpoint: inject('sfnEndpoint'), region: 'us-east-1', credentials });
const documents = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint: inject('dynamodbEndpoint'), region: 'us-east-1', credentials }),
);
export const sqs = new SQSClient({ endpoint: inject('sqsEndpoint'), region: 'us-east-1', credentials });
export const apiUrl = inject('apiUrl');
/** Ids the layer's local cloud derives for (customer, Idempotency-Key), with the key it made at boot. */
export const orderIdOf = await localOrderIdOf(apiUrl);
const outputs = inject('outputs');

export function output(name: string): string {
  const value = outputs[name];
  if (!value) throw new Error(`Stack output ${name} missing`);
  return value;
}

export const address = (country = 'US') => ({
  line1: '1 Main St',
  city: 'Springfield',
  postalCode: '12345',
  country,
});

export interface OrderSpec {
  /** Chosen ahead when a fault must be scoped to the order before it starts. */
  orderId?: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
  country?: string;
}

/** Writes the PENDING order the saga acts on and starts its execution, as the orders API does. */
export async function placeOrderDirectly(
  spec: OrderSpec,
): Promise<{ orderId: string; executionArn: string; input: string }> {
  const orderId = spec.orderId ?? `ord-${randomUUID()}`;
  const order = {
    orderId,
    customerId: spec.customerId,
    items: spec.items,
    shippingAddress: address(spec.country),
    traceId: randomUUID(),
    requestHash: createHash('sha256').update(orderId).digest('hex'),
  };
  await documents.send(
    new PutCommand({
      TableName: output('OrdersTableName'),
      Item: pendingOrderRow(order, new Date().toISOString()),
    }),
  );
  const input = JSON.stringify(sagaInputOf(order));
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: output('StateMachineArn'), name: orderId, input }),
  );
  if (!executionArn) throw new Error('StartExecution returned no ARN');
  return { orderId, executionArn, input };
}

export async function waitForExecution(
  executionArn: string,
  timeoutMs = 30_000,
): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (description.status !== 'RUNNING') return description;
    if (Date.now() > deadline) throw new Error(`${executionArn} still RUNNING after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function historyOf(executionArn: string): Promise<HistoryEvent[]> {
  return (await sfn.send(new GetExecutionHistoryCommand({ executionArn }))).events ?? [];
}

/** The Task states entered, in order (a retry stays inside its state): the saga's path. */
export function taskPath(events: HistoryEvent[]): string[] {
  return events
    .filter((event) => event.type === 'TaskStateEntered')
    .map((event) => event.stateEnteredEventDetails?.name ?? '');
}

/** How many times each state's task was attempted. */
export function attemptsOf(events: HistoryEvent[], stateName: string): number {
  let current: string | undefined;
  let attempts = 0;
  for (const event of events) {
    if (event.type?.endsWith('StateEntered')) current = event.stateEnteredEventDetails?.name;
    if (current === stateName && (event.type === 'LambdaFunctionScheduled' || event.type === 'TaskScheduled'))
      attempts++;
  }
  return attempts;
}

export async function snapshot(): Promise<Snapshot> {
  const response = await fetch(`${apiUrl}/_local/snapshot`);
  if (!response.ok) throw new Error(`snapshot: ${response.status}`);
  return (await response.json()) as Snapshot;
}

export async function armFault(fault: {
  target: string;
  mode: string;
  count: number;
  orderId?: string;
}): Promise<void> {
  const response = await fetch(`${apiUrl}/_local/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  if (response.status !== 201) throw new Error(`armFault: ${response.status} ${await response.text()}`);
}

export async function clearFaults(): Promise<void> {
  await fetch(`${apiUrl}/_local/faults`, { method: 'DELETE' });
}

export const stockOf = (state: Snapshot, sku: string) => state.inventory.find((item) => item.sku === sku);
export const balanceOf = (state: Snapshot, customerId: string) =>
  state.accounts.find((account) => account.customerId === customerId)?.balanceCents;
export const orderStatusOf = (state: Snapshot, orderId: string) =>
  state.orders.find((order) => order.orderId === orderId)?.status;
export const shipmentStatusOf = (state: Snapshot, orderId: string) =>
  state.shipments.find((shipment) => shipment.orderId === orderId)?.status;

export interface ApiAnswer {
  status: number;
  contentType: string | null;
  body: unknown;
  text: string;
}

export async function callApi(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<ApiAnswer> {
  const response = await fetch(`${apiUrl}${path}`, { method, headers: options.headers, body: options.body });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, contentType: response.headers.get('content-type'), body, text };
}

export function postOrder(order: unknown, idempotencyKey: string): Promise<ApiAnswer> {
  return callApi('POST', '/orders', {
    headers: { 'content-type': 'application/json', 'Idempotency-Key': idempotencyKey },
    body: JSON.stringify(order),
  });
}

/**
 * Polls GET /orders/{id} until the saga has finished with the order: a final status, and no step still
 * running in the history (the last step commits the status a moment before its execution records it).
 */
export async function waitForOrder(orderId: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await callApi('GET', `/orders/${orderId}?include=steps`);
    const body = answer.body as { status?: string; steps?: { outcome: string }[] };
    const stepsSettled = (body.steps ?? []).every((step) => step.outcome !== 'running');
    if (answer.status === 200 && body.status !== 'PENDING' && stepsSettled)
      return body as Record<string, unknown>;
    if (Date.now() > deadline) throw new Error(`order ${orderId} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const MACHINES = ['StateMachineArn', 'UnwindStateMachineArn', 'CompletionStateMachineArn'] as const;

/**
 * Every execution started since `since` for an order, on any of the saga's machines, found by the order id
 * in its input: a name says nothing (names are unique by construction), a second start under another name
 * is what would repeat the saga. Oldest first.
 */
export async function executionsFor(
  orderId: string,
  since: Date,
): Promise<{ machine: string; name: string; status: string; error?: string }[]> {
  const found: { machine: string; name: string; status: string; error?: string; startedAt: number }[] = [];
  for (const machine of MACHINES) {
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: output(machine), maxResults: 1000, nextToken }),
      );
      nextToken = page.nextToken;
      const recent = (page.executions ?? []).filter(
        (execution) => (execution.startDate?.getTime() ?? 0) >= since.getTime() - 1000,
      );
      for (const { executionArn } of recent) {
        const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        if ((JSON.parse(described.input ?? '{}') as { orderId?: string }).orderId !== orderId) continue;
        found.push({
          machine,
          name: String(described.name),
          status: String(described.status),
          ...(described.error ? { error: described.error } : {}),
          startedAt: described.startDate?.getTime() ?? 0,
        });
      }
    } while (nextToken);
  }
  return found.sort((a, b) => a.startedAt - b.startedAt).map(({ startedAt: _, ...execution }) => execution);
}

export async function executionCount(): Promise<number> {
  const { executions = [] } = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn: output('StateMachineArn'), maxResults: 1000 }),
  );
  return executions.length;
}

export async function writeOrderRecord(row: Record<string, unknown>): Promise<void> {
  await documents.send(new PutCommand({ TableName: output('OrdersTableName'), Item: row }));
}

/** Rows of a service table under one partition key. */
export async function rowsOf(tableOutput: string, pk: string): Promise<Record<string, unknown>[]> {
  const { Items = [] } = await documents.send(
    new QueryCommand({
      TableName: output(tableOutput),
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ConsistentRead: true,
    }),
  );
  return Items;
}

/** Polls until `probe` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function listFaults(): Promise<{ target: string; mode: string; remaining: number }[]> {
  const response = await fetch(`${apiUrl}/_local/faults`);
  return ((await response.json()) as { faults: { target: string; mode: string; remaining: number }[] })
    .faults;
}

/** The event types an order was notified of, in the snapshot's order (by event type). */
export const notificationsOf = (state: Snapshot, orderId: string) =>
  state.notifications.filter((entry) => entry.orderId === orderId).map((entry) => entry.eventType);

/** POST /orders/{id}/reconcile: without a body it aligns; with one it runs an operator's action. */
export function reconcile(orderId: string, body?: { action: string; reason: string }): Promise<ApiAnswer> {
  return callApi('POST', `/orders/${orderId}/reconcile`, {
    ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
}

export function runSchedule(name: string): Promise<ApiAnswer> {
  return callApi('POST', `/_local/schedules/${name}/run`);
}

/** Runs a schedule now and returns what its function returned; fails the test when the function failed. */
export async function runScheduledFunction(name: string): Promise<unknown> {
  const answer = await runSchedule(name);
  const [target] =
    (answer.body as { targets?: { outcome: { ok: boolean; payload?: unknown; error?: unknown } }[] })
      .targets ?? [];
  if (answer.status !== 200 || !target?.outcome.ok)
    throw new Error(
      `${name} failed: ${answer.status} ${JSON.stringify(target?.outcome.error ?? answer.body)}`,
    );
  return target.outcome.payload;
}

/** Polls GET /orders/{id}?include=steps until the order has `status` and no operator action in flight. */
export async function waitForStatus(
  orderId: string,
  status: string,
  timeoutMs = 45_000,
): Promise<Record<string, unknown>> {
  return eventually(
    `order ${orderId} to be ${status}`,
    async () => {
      const body = (await callApi('GET', `/orders/${orderId}?include=steps`)).body as Record<string, unknown>;
      return body.status === status && body.pendingAction === null ? body : undefined;
    },
    timeoutMs,
  );
}

/** What the layer's cloud was seeded with (global-setup loads the same file). */
export const SEEDED: InitialState = initialOf(
  loadSeedFile(fileURLToPath(new URL('./seed.json', import.meta.url))),
);

/**
 * Checks the saga's invariants over the given orders and the customers' money and SKUs' stock, polling until
 * they hold: notifications arrive after the order settles, and a snapshot's scans are not one instant.
 * Fails with every violation still standing at the deadline.
 */
export async function assertInvariants(scope: {
  orderIds: string[];
  customerIds?: string[];
  skus?: string[];
  settled?: boolean;
  initial?: InitialState;
  timeoutMs?: number;
}): Promise<void> {
  const {
    orderIds,
    customerIds = [],
    skus = [],
    settled = true,
    initial = SEEDED,
    timeoutMs = 30_000,
  } = scope;
  const cloud = { apiUrl, sfn, documents, outputs };
  const deadline = Date.now() + timeoutMs;
  let violations: Violation[];
  for (;;) {
    const read = await readInvariantInput(cloud, orderIds);
    violations = checkInvariants({ initial, ...read, only: { orderIds, customerIds, skus }, settled });
    if (violations.length === 0) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Invariants violated:\n${describeViolations(violations)}`);
}
