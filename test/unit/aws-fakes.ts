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
/** The relay's role id as the notifications consumer is told to trust it (TRUSTED_SENDER_ROLE_IDS). */
export const RELAY_ROLE_ID = 'AROARELAYROLE0000000';

/** Messages as the relay sends them: SQS names an assumed role's sender `<role id>:<session>`. */
export function sqsEvent(...bodies: unknown[]): SQSEvent {
  return {
    Records: bodies.map((body, index) => ({
      messageId: `m-${index}`,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      attributes: { SenderId: `${RELAY_ROLE_ID}:OrderSaga-OutboxRelay` },
    })),
  } as unknown as SQSEvent;
}
