import type { CorrelationIdOf } from '../src/correlation.js';

function stringAt(value: unknown, ...path: string[]): string | undefined {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' ? current : undefined;
}

/**
 * The tests' app correlates by `jobId`, wherever an event carries it: a step input, an API path or response,
 * a stream image, a queue message (or its `request`). An app passes its own function of this shape.
 */
export const jobIdOf: CorrelationIdOf = (payload) => {
  const direct = stringAt(payload, 'jobId') ?? stringAt(payload, 'pathParameters', 'jobId');
  if (direct) return direct;
  const records = (payload as { Records?: unknown } | null)?.Records;
  const [first] = Array.isArray(records) ? records : [];
  const fromStream = stringAt(first, 'dynamodb', 'NewImage', 'jobId', 'S');
  if (fromStream) return fromStream;
  const body = stringAt(first, 'body');
  if (!body) return undefined;
  try {
    const message: unknown = JSON.parse(body);
    return stringAt(message, 'jobId') ?? stringAt(message, 'request', 'jobId');
  } catch {
    return undefined;
  }
};
