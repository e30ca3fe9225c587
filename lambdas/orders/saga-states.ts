/**
 * The states where the order saga's machines end, by name: the stack builds them with these names and
 * reconcile reads an execution's end from them (a Fail state's error is its own name).
 */
export const SAGA_END_STATES = {
  /** Succeed: every step done (the saga, or an operator's completion). */
  confirmed: 'OrderConfirmed',
  /** Fail: every completed step compensated (the saga, or an operator's unwind). */
  cancelled: 'OrderCancelled',
  /** Fail: a compensation ran out of retries. */
  compensationFailed: 'CompensationFailed',
  /** Fail: a step after the pivot ran out of retries. */
  needsAttention: 'NeedsAttention',
} as const;

/** The saga's pivot: once it succeeded, an order can only be completed, never cancelled. */
export const PIVOT_STEP = 'CreateShipment';
