import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

/** One action of a TransactWriteItems, as the document client takes it. */
export type TransactWrite = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface CancellationReason {
  Code?: string;
  Item?: Record<string, unknown>;
}

/** The per-action reasons of a cancelled transaction, or undefined when the error is something else. */
export function cancellationReasons(error: unknown): CancellationReason[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
  return reasons.map((reason) => ({
    Code: reason.Code,
    // The document client does not unmarshall error payloads, so the old item arrives as AttributeValues.
    Item: reason.Item ? unmarshall(reason.Item as Parameters<typeof unmarshall>[0]) : undefined,
  }));
}
