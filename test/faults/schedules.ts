import { randomBytes } from 'node:crypto';
import { ExecutionDoesNotExist, StopExecutionCommand } from '@aws-sdk/client-sfn';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import type { Snapshot } from '../../local/snapshot.js';
import {
  checkInvariants,
  type InitialState,
  readInvariantInput,
  type Violation,
} from '../support/invariants.js';

import { localOrderIdOf } from '../support/order-ids.js';
import { outputOf, type Schedule, type ScheduleCloud } from './schedule-model.js';

export * from './schedule-model.js';

export interface ScheduleResult {
  violations: Violation[];
  /** Orders the schedule placed (each a saga). */
  orders: number;
  durationMs: number;
  /** What the schedule reached, to show the draw covers the model: final statuses and notable answers. */
  outcomes: string[];
  /** API Gateway 5xx answers retried (the function did not answer in its time-scaled timeout). */
  gatewayRetries: number;
}

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

/** Items compared by meaning: the order record need not keep a line's keys in the order they were sent. */
const linesKey = (items: unknown) =>
  Array.isArray(items)
    ? (items as { sku?: unknown; quantity?: unknown }[])
        .map((line) => `${String(line.sku)}x${String(line.quantity)}`)
        .sort()
        .join(',')
    : JSON.stringify(items);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FINAL_OR_PERSON = new Set(['CONFIRMED', 'CANCELLED', 'NEEDS_ATTENTION', 'COMPENSATION_FAILED']);
const SAGA_ANSWERS = new Set(['PENDING', ...FINAL_OR_PERSON]);

/** Runs one schedule against a running local cloud and returns what it violated. */
export async function runSchedule(cloud: ScheduleCloud, schedule: Schedule): Promise<ScheduleResult> {
  const started = Date.now();
  // Each run owns fresh names, so a schedule runs again (shrinking, --seed) on the same cloud.
  const tag = randomBytes(5).toString('hex');
  const scaled = (ms: number) => Math.round((ms * cloud.timeScale) / 0.1);
  const violations: Violation[] = [];
  const violate = (rule: string, detail: string) => violations.push({ rule, detail });

  const orderIdOf = await localOrderIdOf(cloud.apiUrl);
  const skus = schedule.skus.map((sku, i) => ({ sku: `SKU-sch-${tag}-${i}`, ...sku }));
  const customers = schedule.customers.map((customer, i) => ({
    customerId: `cust-sch-${tag}-${i}`,
    ...customer,
  }));
  const orders = schedule.orders.map((order, i) => {
    const customerId = customers[order.customer % customers.length]?.customerId ?? '';
    const key = `sch-${tag}-${i}`;
    // Lines on one SKU are merged: a body naming a SKU twice is a different question than this one asks.
    const lines = new Map<string, number>();
    for (const item of order.items) {
      const sku = skus[item.sku % skus.length]?.sku ?? '';
      lines.set(sku, (lines.get(sku) ?? 0) + item.quantity);
    }
    const items = [...lines].map(([sku, quantity]) => ({ sku, quantity }));
    const body = (other: boolean) => ({
      customerId,
      items: other
        ? items.map((item, line) => (line === 0 ? { ...item, quantity: item.quantity + 1 } : item))
        : items,
      shippingAddress: {
        line1: '1 Main St',
        city: 'Springfield',
        postalCode: '12345',
        country: order.country,
      },
    });
    return { orderId: orderIdOf(customerId, key), key, customerId, body, items };
  });
  const orderAt = (index: number) => orders[index % orders.length] as (typeof orders)[number];
  // An injected outage of a service the API calls for this order is passed on as the API's 500 ("safe to retry").
  const outageFor = new Set(
    schedule.faults
      .filter((fault) => fault.target.includes(':') && fault.mode === 'unavailable')
      .map((fault) => orderAt(fault.order).orderId),
  );

  let gatewayRetries = 0;
  const call = async (
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<Answer> => {
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${cloud.apiUrl}${path}`, {
        method,
        headers: {
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...init.headers,
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const answer: Answer = { status: response.status, body, text };
      // API Gateway's own 5xx: the function never answered. At time scale 0.1 its 10 s timeout is 1 s, which
      // a loaded 2-core machine can exceed; a client backs off and retries, and only a 5xx that persists
      // (about 6 s) is the API's fault.
      if (answer.status >= 500 && response.headers.has('x-amzn-errortype') && attempt < 6) {
        gatewayRetries++;
        await sleep(200 * 2 ** (attempt - 1));
        continue;
      }
      if (answer.status >= 400) {
        const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
        if (typeof error?.code !== 'string' || typeof error.message !== 'string')
          violate('api.error-body', `${method} ${path}: ${answer.status} ${text.slice(0, 200)}`);
        const orderId = /\/orders\/(ord_[0-9a-f]+)/.exec(path)?.[1];
        if (answer.status >= 500 && !(orderId && outageFor.has(orderId)))
          violate('api.5xx', `${method} ${path}: ${answer.status} ${text.slice(0, 200)}`);
      }
      return answer;
    }
  };

  const seeded = await call('POST', '/_local/seed', {
    body: {
      inventory: skus.map(({ sku, stock, priceCents }) => ({ sku, stock, priceCents })),
      accounts: customers.map(({ customerId, balanceCents }) => ({ customerId, balanceCents })),
    },
  });
  if (seeded.status !== 201) throw new Error(`seed: ${seeded.status} ${seeded.text}`);
  const initial: InitialState = {
    stock: Object.fromEntries(skus.map((sku) => [sku.sku, sku.stock])),
    balances: Object.fromEntries(customers.map((customer) => [customer.customerId, customer.balanceCents])),
  };

  for (const fault of schedule.faults) {
    const armed = await call('POST', '/_local/faults', {
      body: {
        target: fault.target,
        mode: fault.mode,
        count: fault.count,
        orderId: orderAt(fault.order).orderId,
      },
    });
    if (armed.status !== 201)
      throw new Error(`fault ${JSON.stringify(fault)}: ${armed.status} ${armed.text}`);
  }

  // Every submission, and what it was answered.
  const submissions: { order: (typeof orders)[number]; sameBody: boolean; answer?: Answer }[] = [];
  const submit = async (order: (typeof orders)[number], sameBody: boolean, delayMs: number) => {
    const record: (typeof submissions)[number] = { order, sameBody };
    submissions.push(record);
    await sleep(scaled(delayMs));
    for (let attempt = 0; ; attempt++) {
      const answer = await call('POST', '/orders', {
        headers: { 'Idempotency-Key': order.key },
        body: order.body(!sameBody),
      });
      record.answer = answer;
      // A client retries the answers that ask for it: the winner's write not yet visible, or throttling.
      const code = (answer.body as { error?: { code?: string } } | undefined)?.error?.code;
      if ((answer.status === 409 && code === 'ConcurrentRequest') || answer.status === 429) {
        if (attempt < 50) {
          await sleep(50);
          continue;
        }
      }
      return;
    }
  };

  const actionAnswers: string[] = [];
  const sagaArn = (orderId: string) =>
    `${outputOf(cloud, 'StateMachineArn').replace(':stateMachine:', ':execution:')}:${orderId}`;
  const act = async ({ order, atMs, kind }: Schedule['actions'][number]) => {
    await sleep(scaled(atMs));
    const { orderId } = orderAt(order);
    const reason = `schedule ${tag}`;
    switch (kind) {
      case 'stop':
        try {
          await cloud.sfn.send(new StopExecutionCommand({ executionArn: sagaArn(orderId), cause: reason }));
          actionAnswers.push('stop');
        } catch (error) {
          if (!(error instanceof ExecutionDoesNotExist)) throw error;
          actionAnswers.push('stop ExecutionDoesNotExist');
        }
        return;
      case 'sweeper': {
        const answer = await call('POST', '/_local/schedules/OrderSaga-sweeper/run');
        if (answer.status !== 200) violate('sweeper.run', `${answer.status} ${answer.text.slice(0, 200)}`);
        return;
      }
      default: {
        const answer = await call(
          'POST',
          `/orders/${orderId}/reconcile`,
          kind === 'reconcile' ? {} : { body: { action: kind, reason } },
        );
        const code = (answer.body as { error?: { code?: string } } | undefined)?.error?.code;
        actionAnswers.push(`${kind} ${answer.status}${code ? ` ${code}` : ''}`);
      }
    }
  };

  await Promise.all([
    ...orders.map((order, i) => submit(order, true, schedule.firstDelaysMs[i] ?? 0)),
    ...schedule.repeats.map((repeat) => submit(orderAt(repeat.order), repeat.sameBody, repeat.delayMs)),
    ...schedule.actions.map(act),
  ]);

  // Idempotency: per key, every accepted answer names the derived order, every body like the stored one is
  // accepted, every other body refused with 422.
  const placed = await settle(orders, call, scaled);
  for (const { order, sameBody, answer } of submissions) {
    if (!answer) continue;
    const stored = placed.get(order.orderId);
    const accepted = answer.status === 200 || answer.status === 202;
    const sent = linesKey(order.body(!sameBody).items);
    if (accepted) {
      const body = answer.body as { orderId?: string; status?: string };
      if (body.orderId !== order.orderId)
        violate('idempotency.order-id', `${order.key}: answered ${body.orderId}, derived ${order.orderId}`);
      if (!SAGA_ANSWERS.has(String(body.status)))
        violate('idempotency.status', `${order.key}: answered status ${body.status}`);
      if (!stored) violate('idempotency.lost', `${order.key}: accepted ${answer.status}, but no order`);
      else if (linesKey(stored.items) !== sent)
        violate('idempotency.body', `${order.key}: ${sent} accepted, order holds ${linesKey(stored.items)}`);
    } else if (stored && linesKey(stored.items) !== sent && answer.status !== 422) {
      violate('idempotency.reuse', `${order.key}: another body answered ${answer.status}, not 422`);
    } else if (!stored && answer.status === 422) {
      violate('idempotency.refused', `${order.key}: refused with 422, but no order holds the key`);
    } else if (stored && linesKey(stored.items) === sent && answer.status === 422) {
      violate('idempotency.refused', `${order.key}: the stored body refused with 422`);
    }
  }

  violations.push(
    ...(await checkSettled(
      cloud,
      initial,
      [...placed.keys()],
      customers.map((customer) => customer.customerId),
      skus.map((sku) => sku.sku),
      orders,
      call,
      scaled,
    )),
  );
  const outcomes = [...placed.values()].map((order) => order.status);
  for (const { answer } of submissions) if (answer?.status === 422) outcomes.push('POST /orders 422');
  outcomes.push(...actionAnswers);
  return { violations, orders: placed.size, durationMs: Date.now() - started, gatewayRetries, outcomes };
}

type Call = (method: string, path: string, init?: { body?: unknown }) => Promise<Answer>;
interface PlacedOrder {
  status: string;
  items: unknown;
}

/**
 * Until every order is final or with a person and no operator action is in flight: reconcile (the sweeper's
 * rules, at once) each one that is not, as a person would. The deadline is generous against the heartbeat and
 * the saga's retries, scaled with time.
 */
async function settle(
  orders: readonly { orderId: string; items: unknown }[],
  call: Call,
  scaled: (ms: number) => number,
): Promise<Map<string, PlacedOrder>> {
  const deadline = Date.now() + scaled(120_000);
  const lastReconcile = new Map<string, number>();
  for (;;) {
    const placed = new Map<string, PlacedOrder>();
    const unsettled: string[] = [];
    for (const { orderId } of orders) {
      const answer = await call('GET', `/orders/${orderId}`);
      if (answer.status === 404) continue;
      const body = answer.body as { status?: string; items?: unknown; pendingAction?: unknown };
      if (answer.status !== 200) {
        unsettled.push(orderId);
        continue;
      }
      placed.set(orderId, { status: String(body.status), items: body.items });
      if (!FINAL_OR_PERSON.has(String(body.status)) || body.pendingAction) unsettled.push(orderId);
    }
    if (unsettled.length === 0 || Date.now() > deadline) return placed;
    for (const orderId of unsettled) {
      if (Date.now() - (lastReconcile.get(orderId) ?? 0) < scaled(1_000)) continue;
      lastReconcile.set(orderId, Date.now());
      await call('POST', `/orders/${orderId}/reconcile`);
    }
    await sleep(scaled(250));
  }
}

/**
 * The shared checker with `settled`, polled a while: notifications arrive after the order settles, and when the
 * relay fails (a loaded machine makes its time-scaled timeout) an event waits for the republisher, which takes
 * rows unpublished for 3 minutes, every minute: about 25 s at time scale 0.1, so the wait is a minute.
 */
async function checkSettled(
  cloud: ScheduleCloud,
  initial: InitialState,
  orderIds: string[],
  customerIds: string[],
  skus: string[],
  orders: readonly { orderId: string }[],
  call: Call,
  scaled: (ms: number) => number,
): Promise<Violation[]> {
  const deadline = Date.now() + scaled(60_000);
  for (;;) {
    const read = await readInvariantInput(cloud, orderIds);
    const violations = checkInvariants({
      initial,
      ...read,
      only: { orderIds, customerIds, skus },
      settled: true,
    });
    if (violations.length === 0 || Date.now() > deadline) return violations;
    // readInvariantInput keeps the whole snapshot, queue depths included.
    const { queues = [] } = read.snapshot as Partial<Snapshot>;
    const parked = queues.find((queue) => queue.name === EVENTS_DLQ)?.visible ?? 0;
    if (parked > 0 && violations.some((violation) => violation.detail.endsWith('never notified')))
      await redriveEvents(cloud.sqs);
    // A saga may still end after settle saw its order: reconcile it again.
    for (const violation of violations)
      if (violation.rule === 'order.unsettled') {
        const orderId = orders.find((order) => violation.detail.startsWith(order.orderId))?.orderId;
        if (orderId) await call('POST', `/orders/${orderId}/reconcile`);
      }
    await sleep(scaled(500));
  }
}

const EVENTS_QUEUE = 'OrderSaga-order-events';
const EVENTS_DLQ = `${EVENTS_QUEUE}-dlq`;
let dlqRedrives = 0;

/** How many times schedules moved the events DLQ back (a loaded machine times the consumer out 5 times). */
export const eventsDlqRedrives = () => dlqRedrives;

/**
 * What a person does for an event in the DLQ (README, "Redriving a DLQ"): move it back. The DLQ is shared by
 * every schedule on the cloud and the consumer's inbox drops repeats, so moving everything is safe; a move
 * already under way is refused and left to finish.
 */
async function redriveEvents(sqs: SQSClient): Promise<void> {
  const arnOf = async (QueueName: string) => {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    return Attributes?.QueueArn;
  };
  try {
    await sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: await arnOf(EVENTS_DLQ),
        DestinationArn: await arnOf(EVENTS_QUEUE),
      }),
    );
    dlqRedrives++;
  } catch {
    // Another schedule's move is running.
  }
}
