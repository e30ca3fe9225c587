/**
 * The order saga's states, by name, in one place: the stack builds its machines with these names, the
 * handlers log under them, the order's step history and reconcile read them, the contract test checks them.
 *
 * Each step also has a `barrierId`: the key of its barrier rows, which are stored data. It is declared here
 * beside the state name but must never follow a rename of the state: a saga in flight would otherwise run
 * its compensation against a barrier row it cannot find. Compensations share their step's barrier id (the
 * row's op tells action from compensation).
 */
export const SAGA_STEPS = {
  reserveInventory: {
    state: 'ReserveInventory',
    compensationState: 'ReleaseInventory',
    barrierId: 'ReserveInventory',
  },
  chargePayment: { state: 'ChargePayment', compensationState: 'RefundPayment', barrierId: 'ChargePayment' },
  createShipment: {
    state: 'CreateShipment',
    compensationState: 'CancelShipment',
    barrierId: 'CreateShipment',
  },
  confirmOrder: { state: 'ConfirmOrder', barrierId: 'ConfirmOrder' },
  cancelOrder: { state: 'CancelOrder', barrierId: 'CancelOrder' },
  markCompensationFailed: { state: 'MarkCompensationFailed', barrierId: 'MarkCompensationFailed' },
  markNeedsAttention: { state: 'MarkNeedsAttention', barrierId: 'MarkNeedsAttention' },
} as const;

/** The saga's pivot: once it succeeded, an order can only be completed, never cancelled. */
export const PIVOT_STEP = SAGA_STEPS.createShipment.state;

/**
 * The states where the saga's machines end, by name: reconcile reads an execution's end from them (a Fail
 * state's error is its own name).
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
