import { cancellationReasons } from './dynamodb.js';

/**
 * Errors the state machine matches by `name`. Lambda reports a thrown error's `name` as its
 * `errorType`, which Step Functions uses for Retry and Catch, so renaming one is a contract change.
 */

/** A business outcome: never retried, the saga compensates. */
export abstract class BusinessError extends Error {
  readonly retryable = false;
}

export class InsufficientStock extends BusinessError {
  override name = 'InsufficientStock';
}

export class InsufficientFunds extends BusinessError {
  override name = 'InsufficientFunds';
}

export class PaymentDeclined extends BusinessError {
  override name = 'PaymentDeclined';
}

export class ShippingRejected extends BusinessError {
  override name = 'ShippingRejected';
}

/** A forward action arrived after its compensation already ran (the barrier holds a tombstone). */
export class OrderCancelled extends BusinessError {
  override name = 'OrderCancelled';
}

/** The step input does not have the shape the step needs; retrying cannot fix it. */
export class InvalidStepInput extends BusinessError {
  override name = 'InvalidStepInput';
}

/** The record a step must change does not exist or is in a state the step cannot act on. */
export class OrderStateConflict extends BusinessError {
  override name = 'OrderStateConflict';
}

/** Worth retrying: contention, throttling, or a read that raced a concurrent write. */
export class TransientError extends Error {
  override name = 'TransientError';
  readonly retryable = true;
}

/**
 * Another transaction was writing the same item: DynamoDB cancels a transaction with `TransactionConflict`
 * (a plain write with TransactionConflictException). On a hot item, one SKU that many orders reserve at once,
 * that is the normal case rather than a failure, so the saga retries it on its own longer, jittered policy
 * (DEFAULT_CONTENTION_RETRY) and no order is cancelled for contention while stock remains.
 */
export class WriteConflict extends TransientError {
  override name = 'WriteConflict';
}

export function isWriteConflict(error: unknown): boolean {
  if (error instanceof Error && error.name === 'TransactionConflictException') return true;
  return cancellationReasons(error)?.some((reason) => reason.Code === 'TransactionConflict') ?? false;
}

/** Every business error name a handler can raise; tests check each step's declared errors against it. */
export const BUSINESS_ERROR_NAMES = [
  'InsufficientStock',
  'InsufficientFunds',
  'PaymentDeclined',
  'ShippingRejected',
  'OrderCancelled',
  'InvalidStepInput',
  'OrderStateConflict',
] as const;

/** AWS answers that mean "slow down": the API answers them with 429, a step retries them. */
export const THROTTLING_ERROR_NAMES: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);

/** Every AWS answer worth retrying: throttling, contention, a service hiccup. */
const RETRYABLE_AWS_ERROR_NAMES: ReadonlySet<string> = new Set([
  ...THROTTLING_ERROR_NAMES,
  'TransactionConflictException',
  'TransactionInProgressException',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);

/**
 * Maps what escaped the domain code to what the state machine should see: business errors keep their
 * name, throttling and contention become `TransientError` so the Retry policy applies, and anything
 * else keeps its own name (a bug should compensate, not be retried forever).
 */
export function toStepError(error: unknown): Error {
  if (error instanceof BusinessError || error instanceof TransientError) return error;
  if (isWriteConflict(error)) {
    return new WriteConflict(`${(error as Error).name}: ${(error as Error).message}`, { cause: error });
  }
  if (error instanceof Error) {
    const sdkRetryable = (error as { $retryable?: unknown }).$retryable !== undefined;
    if (sdkRetryable || RETRYABLE_AWS_ERROR_NAMES.has(error.name)) {
      return new TransientError(`${error.name}: ${error.message}`, { cause: error });
    }
    return error;
  }
  return new Error(String(error));
}
