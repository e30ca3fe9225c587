import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

export type ReasonSpec = {
  code: 'None' | 'ConditionalCheckFailed' | 'TransactionConflict';
  item?: Record<string, unknown>;
};

/** A cancellation as DynamoDB reports it: one reason per action, old items as AttributeValues. */
export function cancelled(...reasons: ReasonSpec[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: reasons.map((reason) => ({
      Code: reason.code,
      ...(reason.item ? { Item: marshall(reason.item, { removeUndefinedValues: true }) } : {}),
    })),
  });
}

export const NONE: ReasonSpec = { code: 'None' };
export const CONDITION_FAILED: ReasonSpec = { code: 'ConditionalCheckFailed' };
