import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { SQSEvent } from 'aws-lambda';

export type ReasonSpec = {
  code: 'None' | 'ConditionalCheckFailed' | 'TransactionConflict' | 'ThrottlingError';
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

/** An SQS delivery to a Lambda consumer; bodies that are not strings are sent as JSON. */
export function sqsEvent(...bodies: unknown[]): SQSEvent {
  return {
    Records: bodies.map((body, index) => ({
      messageId: `m-${index}`,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })),
  } as unknown as SQSEvent;
}
