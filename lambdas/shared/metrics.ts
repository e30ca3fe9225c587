import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The app's metrics, in CloudWatch's embedded metric format: each is a log line CloudWatch turns into a metric,
 * so emitting one costs no API call. Every metric carries `service` (one value per stage: the alarms and the
 * dashboard filter on it) plus its own few dimensions.
 */
export const METRICS_NAMESPACE = 'OrderSaga';
/**
 * The stack's name, which the stack sets on every function: two stages in one account share the namespace,
 * and their alarms tell their own metrics apart by it. Outside a stack (unit tests) the app's name.
 */
export const SERVICE_NAME = process.env.POWERTOOLS_SERVICE_NAME ?? 'order-saga';
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

type Dimensions = Record<string, string>;
interface Recorded {
  name: string;
  unit: (typeof MetricUnit)[keyof typeof MetricUnit];
  value: number;
  dimensions: Dimensions;
}

// Powertools gives one dimension set to every metric of a flush, so metrics are kept here and flushed
// grouped by their dimensions: one line per dimension set per invocation.
const recorded: Recorded[] = [];

export function countMetric(name: string, dimensions: Dimensions = {}, value = 1): void {
  recorded.push({ name, unit: MetricUnit.Count, value, dimensions });
}

export function secondsMetric(name: string, value: number, dimensions: Dimensions = {}): void {
  recorded.push({ name, unit: MetricUnit.Seconds, value, dimensions });
}

export function millisecondsMetric(name: string, value: number, dimensions: Dimensions = {}): void {
  recorded.push({ name, unit: MetricUnit.Milliseconds, value, dimensions });
}

/** Writes what the invocation recorded; the adapters call it once per invocation, however it ended. */
export function flushMetrics(): void {
  const groups = new Map<string, Recorded[]>();
  for (const metric of recorded.splice(0)) {
    const key = JSON.stringify(Object.entries(metric.dimensions).sort());
    groups.set(key, [...(groups.get(key) ?? []), metric]);
  }
  for (const group of groups.values()) {
    const dimensions = group[0]?.dimensions ?? {};
    if (Object.keys(dimensions).length > 0) metrics.addDimensions(dimensions);
    for (const metric of group) metrics.addMetric(metric.name, metric.unit, metric.value);
    metrics.publishStoredMetrics();
  }
}

/** The step an invocation serves, for metrics recorded below the adapter (the barrier's outcomes). */
let invocationStep: string | undefined;
export function setInvocationStep(step: string | undefined): void {
  invocationStep = step;
}

/** A barrier outcome worth counting: a repeated delivery, or a compensation that found nothing to undo. */
export function barrierOutcomeMetric(outcome: 'duplicate' | 'null-compensation', step: string): void {
  countMetric(outcome === 'duplicate' ? 'BarrierDuplicate' : 'NullCompensation', {
    Step: invocationStep ?? step,
  });
}

/** An error that is neither a business outcome nor a retried transient: a bug or an unplanned failure. */
export function unexpectedErrorMetric(fn: string): void {
  countMetric('UnexpectedError', { Function: fn });
}
