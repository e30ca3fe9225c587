/**
 * What a payload is about, as the app that runs on the local cloud tells it: a step input, a queue message
 * (`{ Records: [{ body }] }`), a stream record (`{ Records: [{ dynamodb }] }`), an API path
 * (`{ pathParameters }`) or response body. The trace groups lines by it and a fault can target it.
 * The local cloud knows nothing of the app's data: without one, nothing is correlated.
 */
export type CorrelationIdOf = (payload: unknown) => string | undefined;

export const noCorrelation: CorrelationIdOf = () => undefined;

function stringAt(value: unknown, ...path: string[]): string | undefined {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' ? current : undefined;
}

/**
 * Correlates by one field of the app's data, wherever an event carries it: a step input, an API path, a
 * stream record's new image, a queue message or the `request` inside it (a callback step's message).
 */
export function correlateByField(field: string): CorrelationIdOf {
  return (payload) => {
    const direct = stringAt(payload, field) ?? stringAt(payload, 'pathParameters', field);
    if (direct) return direct;
    const records = (payload as { Records?: unknown } | null)?.Records;
    const [first] = Array.isArray(records) ? records : [];
    const fromStream = stringAt(first, 'dynamodb', 'NewImage', field, 'S');
    if (fromStream) return fromStream;
    const body = stringAt(first, 'body');
    if (!body) return undefined;
    try {
      const message: unknown = JSON.parse(body);
      return stringAt(message, field) ?? stringAt(message, 'request', field);
    } catch {
      return undefined;
    }
  };
}
