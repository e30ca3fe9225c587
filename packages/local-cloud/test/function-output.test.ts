import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { functionOutputRoutes } from '../src/cloud/local-routes.js';
import { FunctionLogs } from '../src/function-logs.js';
import { MetricTotals, metricSamplesOf } from '../src/metrics.js';

/** An embedded-metric-format line as a function prints it. */
const emf = (directive: Record<string, unknown>, values: Record<string, unknown>) =>
  JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [directive] }, ...values });

const get = (url: string) => ({ url, method: 'GET' }) as IncomingMessage;

describe('metricSamplesOf', () => {
  it('reads each metric of each dimension set with its dimension values, arrays as several values', () => {
    const line = emf(
      {
        Namespace: 'Shop',
        Dimensions: [['service'], ['service', 'Step']],
        Metrics: [
          { Name: 'Outcome', Unit: 'Count' },
          { Name: 'Latency', Unit: 'Milliseconds' },
        ],
      },
      { service: 'shop', Step: 'Pay', Outcome: 1, Latency: [20, 30], requestId: 'r-1' },
    );
    expect(metricSamplesOf(line)).toEqual([
      { namespace: 'Shop', name: 'Outcome', dimensions: { service: 'shop' }, values: [1] },
      { namespace: 'Shop', name: 'Latency', dimensions: { service: 'shop' }, values: [20, 30] },
      { namespace: 'Shop', name: 'Outcome', dimensions: { service: 'shop', Step: 'Pay' }, values: [1] },
      { namespace: 'Shop', name: 'Latency', dimensions: { service: 'shop', Step: 'Pay' }, values: [20, 30] },
    ]);
  });

  it('finds nothing in a plain log line, a JSON line without _aws, or a metric without a numeric value', () => {
    expect(metricSamplesOf('started')).toEqual([]);
    expect(metricSamplesOf('{"level":"INFO","message":"hi"}')).toEqual([]);
    expect(
      metricSamplesOf(
        emf(
          { Namespace: 'Shop', Dimensions: [], Metrics: [{ Name: 'Missing' }, { Name: 'Text' }] },
          { Text: 'x' },
        ),
      ),
    ).toEqual([]);
  });

  it('gives a metric without dimension sets no dimensions', () => {
    expect(
      metricSamplesOf(emf({ Namespace: 'Shop', Dimensions: [], Metrics: [{ Name: 'Ticks' }] }, { Ticks: 2 })),
    ).toEqual([{ namespace: 'Shop', name: 'Ticks', dimensions: {}, values: [2] }]);
  });
});

describe('GET /_local/metrics', () => {
  it('totals each namespace, name and dimension values over every line, and DELETE resets them', async () => {
    const metrics = new MetricTotals();
    const directive = { Namespace: 'Shop', Dimensions: [['Reason']], Metrics: [{ Name: 'Cancelled' }] };
    metrics.record(emf(directive, { Reason: 'NoStock', Cancelled: 1 }));
    metrics.record(emf(directive, { Reason: 'NoStock', Cancelled: [1, 2] }));
    metrics.record(emf(directive, { Reason: 'Declined', Cancelled: 1 }));
    metrics.record('{"level":"INFO","message":"not a metric"}');
    const routes = functionOutputRoutes(metrics, new FunctionLogs(), () => undefined);

    const answer = await routes['GET /_local/metrics']?.(get('/_local/metrics'), '');
    expect(answer).toEqual({
      status: 200,
      body: {
        metrics: [
          { namespace: 'Shop', name: 'Cancelled', dimensions: { Reason: 'NoStock' }, sum: 4, count: 3 },
          { namespace: 'Shop', name: 'Cancelled', dimensions: { Reason: 'Declined' }, sum: 1, count: 1 },
        ],
      },
    });
    expect(await routes['DELETE /_local/metrics']?.(get('/_local/metrics'), '')).toEqual({
      status: 204,
      body: undefined,
    });
    expect((await routes['GET /_local/metrics']?.(get('/_local/metrics'), ''))?.body).toEqual({
      metrics: [],
    });
  });
});

describe('GET /_local/logs', () => {
  const known = new Map([
    ['Pay', 'Pay'],
    ['Stack-PayFn-ABC', 'Pay'],
  ]);
  const constructIdOf = (name: string) => known.get(name);

  it("answers a function's last lines, oldest first, by construct id or function name", async () => {
    const logs = new FunctionLogs(2);
    logs.add('Pay', 'one');
    logs.add('Ship', 'other function');
    logs.add('Pay', 'two');
    logs.add('Pay', 'three');
    const routes = functionOutputRoutes(new MetricTotals(), logs, constructIdOf);

    expect(await routes['GET /_local/logs']?.(get('/_local/logs?function=Pay'), '')).toEqual({
      status: 200,
      body: { function: 'Pay', lines: ['two', 'three'] },
    });
    expect(
      (await routes['GET /_local/logs']?.(get('/_local/logs?function=Stack-PayFn-ABC'), ''))?.body,
    ).toEqual({ function: 'Pay', lines: ['two', 'three'] });
  });

  it('answers 404 for an unknown function and 400 without one', async () => {
    const routes = functionOutputRoutes(new MetricTotals(), new FunctionLogs(), constructIdOf);
    expect((await routes['GET /_local/logs']?.(get('/_local/logs?function=Nope'), ''))?.status).toBe(404);
    expect((await routes['GET /_local/logs']?.(get('/_local/logs'), ''))?.status).toBe(400);
  });

  it('answers a known function that printed nothing with no lines', async () => {
    const routes = functionOutputRoutes(new MetricTotals(), new FunctionLogs(), constructIdOf);
    expect((await routes['GET /_local/logs']?.(get('/_local/logs?function=Pay'), ''))?.body).toEqual({
      function: 'Pay',
      lines: [],
    });
  });
});
