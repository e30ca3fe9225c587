import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pendingOrderRow } from '../../lambdas/orders/orders.js';
import { METRICS_NAMESPACE } from '../../lambdas/shared/metrics.js';
import { DEFAULT_STACK_NAME } from '../../lib/stages.js';
import { runSaga, seedOwn } from '../faults/driver.js';
import { VALID_ORDER } from './bad-input-cases.js';
import {
  address,
  apiUrl,
  eventually,
  placeOrderDirectly,
  postOrder,
  runScheduledFunction,
  waitForExecution,
  waitForOrder,
  writeOrderRecord,
} from './harness.js';

interface MetricTotal {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  sum: number;
  count: number;
}

/**
 * `Name` or `Name{Dim=value,...}`: the sum of a metric of the app's namespace with exactly those dimensions
 * besides service; with `:count` after it, how many values it had.
 */
type MetricKey = string;

const keyOf = ({ name, dimensions }: MetricTotal): MetricKey => {
  const { service: _, ...own } = dimensions;
  const entries = Object.entries(own).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}=${v}`).join(',')}}`;
};

async function metricSums(): Promise<Map<MetricKey, number>> {
  const response = await fetch(`${apiUrl}/_local/metrics`);
  const { metrics } = (await response.json()) as { metrics: MetricTotal[] };
  return new Map(
    metrics
      .filter(
        (metric) =>
          metric.namespace === METRICS_NAMESPACE && metric.dimensions.service === DEFAULT_STACK_NAME,
      )
      .flatMap((metric) => [
        [keyOf(metric), metric.sum],
        [`${keyOf(metric)}:count`, metric.count],
      ]),
  );
}

/**
 * How much each expected metric grew since `before`. A function's metric line reaches the local cloud a moment
 * after its result does, so this waits (briefly) for the deltas to reach what is expected, then reports them
 * as they are; the test compares.
 */
async function deltasSince(
  before: Map<MetricKey, number>,
  expected: Record<MetricKey, number>,
): Promise<Record<MetricKey, number>> {
  const read = async () => {
    const now = await metricSums();
    return Object.fromEntries(
      Object.keys(expected).map((key) => [key, (now.get(key) ?? 0) - (before.get(key) ?? 0)]),
    );
  };
  const matching = async () => {
    const deltas = await read();
    return Object.entries(expected).every(([key, value]) => deltas[key] === value) ? deltas : undefined;
  };
  return eventually('the expected metric deltas', matching, 3_000).catch(read);
}

async function logLinesOf(constructId: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${apiUrl}/_local/logs?function=${constructId}`);
  expect(response.status).toBe(200);
  const { lines } = (await response.json()) as { lines: string[] };
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('metrics and logs of the saga, as the functions print them', () => {
  it('counts a saga started through the API and confirmed, each step once as succeeded', async () => {
    const own = await seedOwn('obs-happy');
    const before = await metricSums();
    const answer = await postOrder(
      { ...VALID_ORDER, customerId: own.customerId, items: [{ sku: own.sku, quantity: 2 }] },
      `k-${randomUUID()}`,
    );
    expect(answer.status).toBe(202);
    const order = await waitForOrder((answer.body as { orderId: string }).orderId);
    expect(order.status).toBe('CONFIRMED');

    const expected = {
      SagaStarted: 1,
      SagaConfirmed: 1,
      'StepOutcome{Outcome=Succeeded,Step=ReserveInventory}': 1,
      'StepOutcome{Outcome=Succeeded,Step=ChargePayment}': 1,
      'StepOutcome{Outcome=Succeeded,Step=ConfirmOrder}': 1,
      'StepOutcome{Outcome=Succeeded,Step=CancelOrder}': 0,
    };
    expect(await deltasSince(before, expected)).toEqual(expected);
  });

  it('counts a saga cancelled for want of stock with the reason, and the refusing step as a business error', async () => {
    const own = await seedOwn('obs-cancel', 1);
    const before = await metricSums();
    const { executionArn } = await placeOrderDirectly({
      orderId: `ord_${randomBytes(16).toString('hex')}`,
      customerId: own.customerId,
      items: [{ sku: own.sku, quantity: 2 }],
    });
    const description = await waitForExecution(executionArn);
    expect(description.error).toBe('OrderCancelled');

    const expected = {
      'SagaCancelled{Reason=InsufficientStock}': 1,
      'StepOutcome{Outcome=BusinessError,Step=ReserveInventory}': 1,
      'StepOutcome{Outcome=Succeeded,Step=CancelOrder}': 1,
      SagaConfirmed: 0,
    };
    expect(await deltasSince(before, expected)).toEqual(expected);
  });

  it('counts a saga whose step after the pivot runs out of retries as needing attention, and never confirmed', async () => {
    const before = await metricSums();
    const run = await runSaga('obs-escalate', [{ target: 'ConfirmOrder', mode: 'transient', count: 9 }]);
    expect(run.end).toBe('NeedsAttention');

    const expected = {
      'SagaNeedsAttention{Reason=failed-after-pivot}': 1,
      'StepOutcome{Outcome=Succeeded,Step=MarkNeedsAttention}': 1,
      SagaConfirmed: 0,
      'StepOutcome{Outcome=Succeeded,Step=ConfirmOrder}': 0,
    };
    expect(await deltasSince(before, expected)).toEqual(expected);

    // Every line a step prints names the order, its trace, the step and the attempt (the state's retry count).
    const lines = (await logLinesOf('MarkNeedsAttention')).filter(
      (line) => !('_aws' in line) && line.orderId === run.orderId,
    );
    expect(lines.map((line) => line.message)).toEqual(
      expect.arrayContaining(['step started', 'saga needs a person']),
    );
    for (const line of lines) {
      expect(line).toMatchObject({ step: 'MarkNeedsAttention', attempt: 0, service: DEFAULT_STACK_NAME });
      expect(line.traceId).toEqual(expect.any(String));
    }
  });

  it('reports the age of the oldest PENDING order and unpublished event from each sweep', async () => {
    const own = await seedOwn('obs-sweep');
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    await writeOrderRecord(
      pendingOrderRow(
        {
          orderId: `ord_${randomBytes(16).toString('hex')}`,
          customerId: own.customerId,
          items: [{ sku: own.sku, quantity: 1 }],
          shippingAddress: address(),
          traceId: randomUUID(),
          requestHash: 'h',
        },
        hourAgo,
      ),
    );
    const before = await metricSums();

    await runScheduledFunction('OrderSaga-sweeper');

    const expected = { 'OldestPendingOrderAge:count': 1, 'OldestUnpublishedEventAge:count': 1 };
    expect(await deltasSince(before, expected)).toEqual(expected);
    // One value each: the pending order's is at least the hour this one has waited (another may be older).
    const sumOf = (sums: Map<MetricKey, number>) => sums.get('OldestPendingOrderAge') ?? 0;
    expect(sumOf(await metricSums()) - sumOf(before)).toBeGreaterThanOrEqual(3600);
  });
});
