/**
 * What a log line may say of a payload: its ids, statuses and numbers, and how many entries its lists hold.
 * Names, addresses and free text never reach the logs: any other string, and every nested object, is left out.
 */
export function summarize(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const summary: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (Array.isArray(field)) summary[`${key}Count`] = field.length;
    else if (typeof field === 'number' || typeof field === 'boolean') summary[key] = field;
    else if (typeof field === 'string' && SAFE_STRING_KEY.test(key)) summary[key] = field;
  }
  return summary;
}

const SAFE_STRING_KEY = /(Id|^executionName|^status|^outcome|^reason|^eventType)$/;
