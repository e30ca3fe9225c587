import { BUSINESS_ERROR_NAMES } from '../shared/errors.js';

type BusinessErrorName = (typeof BUSINESS_ERROR_NAMES)[number];

/**
 * What a caller reads about a failed step. The steps' own messages are for operators and logs: they name
 * balances, stock levels and other customers' records ("Balance 4999 cents is below the 100000 cents due"),
 * so a caller gets the error's code and one fixed sentence per code, never the text.
 */
export const PUBLIC_MESSAGES: Record<BusinessErrorName, string> = {
  InsufficientStock: 'Some items are not available in the quantities ordered',
  InsufficientFunds: 'The payment was not accepted',
  PaymentDeclined: 'The payment was declined',
  ShippingRejected: 'The shipment could not be arranged',
  OrderCancelled: 'The order was cancelled before this step ran',
  InvalidStepInput: 'The order could not be processed as placed',
  OrderStateConflict: 'The order changed while this step ran',
};

export const INTERNAL_ERROR = 'InternalError';

const isBusinessError = (name: string | undefined): name is BusinessErrorName =>
  (BUSINESS_ERROR_NAMES as readonly string[]).includes(name ?? '');

/**
 * An error as a caller may see it: a business error by its code and fixed sentence; anything else (a timeout,
 * a denied call naming a role, a crash) as `InternalError` with the request id to quote to support.
 */
export function publicError(error: string | undefined, requestId: string): { error: string; cause: string } {
  if (isBusinessError(error)) return { error, cause: PUBLIC_MESSAGES[error] };
  return {
    error: INTERNAL_ERROR,
    cause: `An internal error occurred; quote request ${requestId} to support`,
  };
}

interface Failure {
  error?: string;
  cause?: string;
}

/** An order's failure as a caller may see it: its reason and step stay, the error goes through publicError. */
export function publicFailure<T extends object>(failure: T | undefined | null, requestId: string) {
  if (!failure) return null;
  const { error, cause: _cause, ...rest } = failure as T & Failure;
  return error === undefined ? rest : { ...rest, ...publicError(error, requestId) };
}

/** Each step's error as a caller may see it. */
export function publicSteps<T extends { error?: Failure }>(steps: readonly T[], requestId: string): T[] {
  return steps.map((step) =>
    step.error ? { ...step, error: publicError(step.error.error, requestId) } : step,
  );
}

/**
 * An operator action as a customer sees it: what was done and when, not who did it (an operator's role and
 * session name) nor the operator's own words about the order.
 */
export function actionForCustomer<T extends { actor?: string; reason?: string; executionArn?: string }>(
  action: T,
): Omit<T, 'actor' | 'reason' | 'executionArn'> {
  const { actor: _actor, reason: _reason, executionArn: _executionArn, ...shown } = action;
  return shown;
}

/**
 * A reconcile outcome as a customer sees it: what was found and done, without the operators' finding (it names
 * executions, their errors and the people acting) and with the execution's error as a caller may see it.
 */
export function outcomeForCustomer<T extends { finding?: string; found?: { executionError?: string } }>(
  outcome: T,
  requestId: string,
): Omit<T, 'finding'> {
  const { finding: _finding, found, ...shown } = outcome;
  if (!found) return shown as Omit<T, 'finding'>;
  const { executionError, ...foundShown } = found;
  return {
    ...shown,
    found:
      executionError === undefined
        ? foundShown
        : { ...foundShown, executionError: publicError(executionError, requestId).error },
  } as Omit<T, 'finding'>;
}
