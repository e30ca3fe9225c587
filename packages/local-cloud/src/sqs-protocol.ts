import type { MessageAttributeValue } from '@aws-sdk/client-sqs';

/** An error of the SQS JSON protocol; `code` becomes the SDK exception's name. */
export class SqsProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export function taskHandleOf(taskId: number, sourceArn: string): string {
  // AWS's handles are opaque base64 too; this one carries what a human debugging it would want.
  return Buffer.from(JSON.stringify({ taskId: String(taskId), sourceArn })).toString('base64');
}

export function stringField(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Received attributes carry the same fields SendMessage wants; only list values (never used) differ. */
export function sendableAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> | undefined {
  if (!attributes || Object.keys(attributes).length === 0) return undefined;
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      { DataType: value.DataType, StringValue: value.StringValue, BinaryValue: value.BinaryValue },
    ]),
  );
}
