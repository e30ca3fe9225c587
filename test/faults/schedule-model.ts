import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import type { SQSClient } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import type { CloudReaders } from '../support/invariants.js';
import { CALLBACK_RESOURCE, forwardSteps, otherTasks, type SagaDefinition } from './definition.js';

/**
 * Randomized schedules: a few customers and SKUs of a schedule's own, scarce stock and money,
 * concurrent POST /orders with repeated Idempotency-Keys, faults from the whole catalogue and operator actions
 * at random moments; then everything is settled and the invariants are checked over what the schedule owns.
 * Shared by test/faults/schedules.test.ts and scripts/soak.ts, so it takes its clients as parameters and
 * never imports vitest.
 */

export interface ScheduleCloud extends CloudReaders {
  /** The local cloud's time scale: waits and the moments of actions follow it. */
  timeScale: number;
  /** Redrives the events DLQ as the runbook says, when an event waits there. */
  sqs: SQSClient;
}

export interface FaultChoice {
  target: string;
  mode: string;
  count: number;
}

export const ACTION_KINDS = ['stop', 'reconcile', 'redrive', 'cancel', 'complete', 'sweeper'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/**
 * A schedule is plain data, so fast-check can shrink it and a seed regenerates it. Cross references are
 * naturals taken modulo the list they point into: a shrunk list never leaves a dangling index.
 */
export interface Schedule {
  skus: { stock: number; priceCents: number }[];
  customers: { balanceCents: number }[];
  orders: { customer: number; items: { sku: number; quantity: number }[]; country: string }[];
  /** Submissions beyond each order's first: the same body again, or another body under the same key. */
  repeats: { order: number; sameBody: boolean; delayMs: number }[];
  /** Armed before anything is submitted, each scoped to its order by the order id derived ahead. */
  faults: (FaultChoice & { order: number })[];
  actions: { order: number; atMs: number; kind: ActionKind }[];
  /** When each order's first submission goes out. */
  firstDelaysMs: number[];
}

export interface Catalogue {
  /** Fault choices by family; the arbitrary weights the families. */
  sagaStates: { target: string; modes: string[] }[];
  callbackStates: { target: string; modes: string[] }[];
  awsCalls: { target: string; modes: string[] }[];
  handlers: { target: string; modes: string[] }[];
}

// Logical ids and OrderSaga-prefixed names are aliases of the construct ids kept; each function once.
const ALIAS = /[0-9A-F]{8}/;
/**
 * Left out of the draw: the API's own functions (a crash there is answered by API Gateway's 502, outside the
 * API's error contract, which the schedules check), and scheduled functions, whose events carry no order id,
 * so a fault scoped to an order would never fire there.
 */
const NOT_DRAWN = new Set([
  'OrdersApiFunction',
  'ReconcileFunction',
  'SweeperFunction',
  'OutboxRepublisherFunction',
]);

async function modesOf(apiUrl: string, target: string): Promise<string[]> {
  // An invalid mode arms nothing and is answered with the modes the target takes.
  const response = await fetch(`${apiUrl}/_local/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ target, mode: '-', count: 1 }),
  });
  const body = (await response.json()) as { error?: { validModes?: string[] } };
  if (response.status !== 400 || !body.error?.validModes)
    throw new Error(`modes of ${target}: ${response.status} ${JSON.stringify(body)}`);
  return body.error.validModes;
}

/** The fault catalogue of GET /_local/faults, sorted into the families a schedule draws from. */
export async function loadCatalogue(cloud: ScheduleCloud): Promise<Catalogue> {
  const described = await cloud.sfn.send(
    new DescribeStateMachineCommand({ stateMachineArn: outputOf(cloud, 'StateMachineArn') }),
  );
  const definition = JSON.parse(described.definition ?? '{}') as SagaDefinition;
  const tasks = new Set([...forwardSteps(definition), ...Object.values(otherTasks(definition)).flat()]);
  const { targets } = (await (await fetch(`${cloud.apiUrl}/_local/faults`)).json()) as { targets: string[] };
  const catalogue: Catalogue = { sagaStates: [], callbackStates: [], awsCalls: [], handlers: [] };
  for (const target of [...targets].sort()) {
    const family = tasks.has(target)
      ? definition.States[target]?.Resource === CALLBACK_RESOURCE
        ? catalogue.callbackStates
        : catalogue.sagaStates
      : target.includes(':')
        ? catalogue.awsCalls
        : ALIAS.test(target) || NOT_DRAWN.has(target)
          ? undefined
          : catalogue.handlers;
    if (family) family.push({ target, modes: await modesOf(cloud.apiUrl, target) });
  }
  return catalogue;
}

/**
 * How many times a fault fires. Waiting modes stay at one or two: a hang lasts the function's timeout and a
 * callback timeout the heartbeat (9 s at time scale 0.1). Handlers behind a queue get at most three, since a
 * fifth receive goes to the DLQ, which waits for a person's redrive and is not what a schedule tests.
 */
function countOf(family: keyof Catalogue, mode: string): fc.Arbitrary<number> {
  if (mode === 'hang' || mode === 'timeout' || mode === 'lost-response' || mode === 'duplicate-delivery')
    return fc.integer({ min: 1, max: family === 'callbackStates' ? 1 : 2 });
  if (family === 'handlers') return fc.integer({ min: 1, max: 3 });
  if (family === 'awsCalls') return fc.integer({ min: 1, max: 8 });
  return fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 2 }) },
    { weight: 3, arbitrary: fc.integer({ min: 3, max: 5 }) },
    // Past every retry budget: compensations out of retries, escalations, a step after the pivot failing.
    { weight: 1, arbitrary: fc.integer({ min: 6, max: 12 }) },
  );
}

/** Heartbeat timeouts and hangs cost seconds of waiting each: drawn rarely. */
const MODE_WEIGHT: Record<string, number> = { hang: 1, timeout: 1, 'lost-response': 2 };

function faultArbitrary(catalogue: Catalogue): fc.Arbitrary<FaultChoice> {
  const family = (name: keyof Catalogue) =>
    fc
      .constantFrom(...catalogue[name])
      .chain(({ target, modes }) =>
        fc
          .oneof(...modes.map((mode) => ({ weight: MODE_WEIGHT[mode] ?? 4, arbitrary: fc.constant(mode) })))
          .chain((mode) => countOf(name, mode).map((count) => ({ target, mode, count }))),
      );
  const weights: Record<keyof Catalogue, number> = {
    sagaStates: 10,
    callbackStates: 2,
    awsCalls: 5,
    handlers: 2,
  };
  return fc.oneof(
    ...(Object.keys(weights) as (keyof Catalogue)[])
      .filter((name) => catalogue[name].length > 0)
      .map((name) => ({ weight: weights[name], arbitrary: family(name) })),
  );
}

/** Small on purpose: stock and money scarce enough that orders compete, few orders so a schedule is quick. */
export function scheduleArbitrary(catalogue: Catalogue): fc.Arbitrary<Schedule> {
  const index = fc.nat({ max: 7 });
  return fc.record({
    skus: fc.array(
      fc.record({ stock: fc.integer({ min: 0, max: 8 }), priceCents: fc.integer({ min: 100, max: 1_000 }) }),
      { minLength: 1, maxLength: 2 },
    ),
    customers: fc.array(fc.record({ balanceCents: fc.integer({ min: 0, max: 10_000 }) }), {
      minLength: 1,
      maxLength: 2,
    }),
    orders: fc.array(
      fc.record({
        customer: index,
        items: fc.array(fc.record({ sku: index, quantity: fc.integer({ min: 1, max: 3 }) }), {
          minLength: 1,
          maxLength: 2,
        }),
        // BR is not served: the pivot refuses it and every compensation runs.
        country: fc.oneof(
          { weight: 9, arbitrary: fc.constant('US') },
          { weight: 1, arbitrary: fc.constant('BR') },
        ),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    repeats: fc.array(
      fc.record({ order: index, sameBody: fc.boolean(), delayMs: fc.integer({ min: 0, max: 1_500 }) }),
      { maxLength: 3 },
    ),
    faults: fc.array(
      faultArbitrary(catalogue).chain((fault) => index.map((order) => ({ ...fault, order }))),
      { maxLength: 3 },
    ),
    actions: fc.array(
      fc.record({
        order: index,
        atMs: fc.integer({ min: 100, max: 4_000 }),
        kind: fc.constantFrom(...ACTION_KINDS),
      }),
      { maxLength: 3 },
    ),
    firstDelaysMs: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 4, maxLength: 4 }),
  });
}

export function outputOf(cloud: CloudReaders, name: string): string {
  const value = cloud.outputs[name];
  if (!value) throw new Error(`Stack output ${name} missing`);
  return value;
}
