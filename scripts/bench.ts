import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLocalCloud } from '../local/cloud.js';

/**
 * Throughput and latency of the whole order path on the local cloud: POST /orders through the saga to
 * CONFIRMED, with the real bundles, DynamoDB Local and the SQS emulator. Prints figures; asserts nothing.
 */

const { values } = parseArgs({
  options: { orders: { type: 'string', default: '200' }, concurrency: { type: 'string', default: '16' } },
});
const totalOrders = Number(values.orders);
const concurrency = Number(values.concurrency);
if (!Number.isInteger(totalOrders) || totalOrders < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error('Usage: npm run bench -- [--orders 200] [--concurrency 16]');
  process.exit(2);
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

function describe(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `${label}: p50 ${percentile(sorted, 0.5).toFixed(0)} ms, p95 ${percentile(sorted, 0.95).toFixed(0)} ms, p99 ${percentile(sorted, 0.99).toFixed(0)} ms, max ${(sorted.at(-1) ?? 0).toFixed(0)} ms`;
}

function residentMegabytes(pid: number | 'self'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;
}

const cloud = await startLocalCloud({
  projectRoot: fileURLToPath(new URL('..', import.meta.url)),
  port: 0,
  timeScale: 1,
  seed: {
    inventory: [{ sku: 'BENCH', stock: 1_000_000, priceCents: 100 }],
    // A customer per order: one customer's orders in flight are capped (ordersInFlightPerCustomer), and a
    // benchmark measures the saga, not that cap.
    accounts: Array.from({ length: totalOrders }, (_unused, index) => ({
      customerId: `bench-${index}`,
      balanceCents: 1_000_000,
    })),
  },
});

try {
  const body = (index: number) =>
    JSON.stringify({
      customerId: `bench-${index}`,
      items: [{ sku: 'BENCH', quantity: 1 }],
      shippingAddress: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    });
  const postLatencies: number[] = [];
  let next = 0;
  const started = Date.now();
  const client = async () => {
    for (let index = next++; index < totalOrders; index = next++) {
      const sent = performance.now();
      const response = await fetch(`${cloud.apiUrl}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Idempotency-Key': `bench-${started}-${index}` },
        body: body(index),
      });
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`POST answered ${response.status}`);
      postLatencies.push(performance.now() - sent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const outcomes = await Promise.all(cloud.executions().map((execution) => execution.result));
  const elapsedSeconds = (Date.now() - started) / 1000;
  const confirmed = outcomes.filter((outcome) => outcome.status === 'SUCCEEDED').length;
  const sagaLatencies = outcomes.map((outcome) => outcome.stopDate.getTime() - outcome.startDate.getTime());

  console.log(
    `orders: ${totalOrders}, concurrency: ${concurrency}, confirmed: ${confirmed}, wall time: ${elapsedSeconds.toFixed(1)} s`,
  );
  console.log(`throughput: ${(confirmed / elapsedSeconds).toFixed(1)} sagas/s end to end`);
  console.log(describe('POST /orders', postLatencies));
  console.log(describe('saga (start to OrderConfirmed)', sagaLatencies));
  console.log(
    `memory: local cloud process ${residentMegabytes('self').toFixed(0)} MB RSS, DynamoDB Local ${residentMegabytes(cloud.dynamodbPid).toFixed(0)} MB RSS`,
  );
} finally {
  await cloud.stop();
}
