function stringAt(value: unknown, ...path: string[]): string | undefined {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' ? current : undefined;
}

/** The order an invocation is about, wherever its event carries it: step input, queue message, stream image, API path. */
export function orderIdOf(payload: unknown): string | undefined {
  const direct = stringAt(payload, 'orderId') ?? stringAt(payload, 'pathParameters', 'orderId');
  if (direct) return direct;
  const records = (payload as { Records?: unknown } | null)?.Records;
  const [first] = Array.isArray(records) ? records : [];
  const streamOrderId = stringAt(first, 'dynamodb', 'NewImage', 'orderId', 'S');
  if (streamOrderId) return streamOrderId;
  const body = stringAt(first, 'body');
  if (!body) return undefined;
  try {
    const message: unknown = JSON.parse(body);
    return stringAt(message, 'orderId') ?? stringAt(message, 'request', 'orderId');
  } catch {
    return undefined;
  }
}
