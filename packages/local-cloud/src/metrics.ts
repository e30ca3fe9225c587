import { isRecord } from './template.js';

/** One metric of one dimension set in an embedded-metric-format line, with the values the line gave it. */
export interface MetricSample {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  values: number[];
}

/** What GET /_local/metrics answers per namespace, metric name and dimension values. */
export interface MetricTotal {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  sum: number;
  count: number;
}

function parsed(line: string): Record<string, unknown> | undefined {
  // Most lines a function prints are not metrics; only a JSON object can be one.
  if (!line.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const numbersOf = (value: unknown): number[] =>
  (Array.isArray(value) ? value : [value]).filter(
    (item): item is number => typeof item === 'number' && Number.isFinite(item),
  );

/**
 * The metrics of one line in CloudWatch's embedded metric format: each directive of `_aws.CloudWatchMetrics`
 * gives each of its metrics once per dimension set, as CloudWatch would; values and dimension values are the
 * line's top-level fields. A line that is not EMF gives nothing.
 */
export function metricSamplesOf(line: string): MetricSample[] {
  const record = parsed(line);
  const aws = record?._aws;
  if (!record || !isRecord(aws) || !Array.isArray(aws.CloudWatchMetrics)) return [];
  const samples: MetricSample[] = [];
  for (const directive of aws.CloudWatchMetrics) {
    if (!isRecord(directive) || typeof directive.Namespace !== 'string' || !Array.isArray(directive.Metrics))
      continue;
    const dimensionSets = Array.isArray(directive.Dimensions)
      ? directive.Dimensions.filter(Array.isArray)
      : [];
    // A directive with no dimension set still publishes its metrics, without dimensions.
    const sets: unknown[][] = dimensionSets.length > 0 ? dimensionSets : [[]];
    for (const set of sets) {
      const dimensions: Record<string, string> = {};
      for (const name of set) if (typeof name === 'string') dimensions[name] = String(record[name] ?? '');
      for (const metric of directive.Metrics) {
        if (!isRecord(metric) || typeof metric.Name !== 'string') continue;
        const values = numbersOf(record[metric.Name]);
        if (values.length > 0)
          samples.push({
            namespace: directive.Namespace,
            name: metric.Name,
            dimensions: { ...dimensions },
            values,
          });
      }
    }
  }
  return samples;
}

/** Running totals of every metric the functions printed, per namespace, name and dimension values. */
export class MetricTotals {
  private readonly totals = new Map<string, MetricTotal>();

  record(line: string): void {
    for (const { namespace, name, dimensions, values } of metricSamplesOf(line)) {
      const key = JSON.stringify([namespace, name, Object.entries(dimensions).sort()]);
      const total = this.totals.get(key) ?? { namespace, name, dimensions, sum: 0, count: 0 };
      for (const value of values) total.sum += value;
      total.count += values.length;
      this.totals.set(key, total);
    }
  }

  list(): MetricTotal[] {
    return [...this.totals.values()].map((total) => ({ ...total, dimensions: { ...total.dimensions } }));
  }

  clear(): void {
    this.totals.clear();
  }
}
