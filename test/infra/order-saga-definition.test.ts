import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { BUSINESS_ERROR_NAMES } from '../../lambdas/shared/errors.js';
import { STEP_BUSINESS_ERRORS } from '../../lib/order-saga-stack.js';
import { catchTarget, pathFrom, synthOrderSaga } from './synth.js';

const { definition, unwind, completion } = synthOrderSaga();
const states = definition.States;
const FORWARD = ['ReserveInventory', 'ChargePayment', 'CreateShipment', 'ConfirmOrder'];
const COMPENSATIONS = ['CancelShipment', 'RefundPayment', 'ReleaseInventory', 'CancelOrder'];

function task(name: string) {
  const state = states[name];
  if (state?.Type !== 'Task') throw new Error(`${name} is not a Task`);
  return state;
}

describe('order saga definition', () => {
  it('runs the forward steps in order and ends in OrderConfirmed', () => {
    expect(definition.StartAt).toBe('ReserveInventory');
    expect(pathFrom(definition, 'ReserveInventory')).toEqual([...FORWARD, 'OrderConfirmed']);
    expect(states.OrderConfirmed?.Type).toBe('Succeed');
  });

  it.each([
    ['ReserveInventory', ['ReleaseInventory', 'CancelOrder', 'OrderCancelled']],
    ['ChargePayment', ['RefundPayment', 'ReleaseInventory', 'CancelOrder', 'OrderCancelled']],
    [
      'CreateShipment',
      ['CancelShipment', 'RefundPayment', 'ReleaseInventory', 'CancelOrder', 'OrderCancelled'],
    ],
  ])('a failure of %s runs its own compensation, then the earlier ones in reverse', (step, expected) => {
    const entry = catchTarget(definition, step);
    expect(entry).toBeDefined();
    expect(pathFrom(definition, entry as string)).toEqual(expected);
    expect(states.OrderCancelled?.Type).toBe('Fail');
  });

  it('never compensates after the pivot: ConfirmOrder hands the order to a person instead', () => {
    expect(catchTarget(definition, 'ConfirmOrder')).toBe('MarkNeedsAttention');
    expect(pathFrom(definition, 'MarkNeedsAttention')).toEqual(['MarkNeedsAttention', 'NeedsAttention']);
    expect(states.NeedsAttention).toMatchObject({ Type: 'Fail', Error: 'NeedsAttention' });
  });

  it('ends a compensation that ran out of retries in CompensationFailed', () => {
    expect(pathFrom(definition, 'MarkCompensationFailed')).toEqual([
      'MarkCompensationFailed',
      'CompensationFailed',
    ]);
    expect(states.CompensationFailed).toMatchObject({ Type: 'Fail', Error: 'CompensationFailed' });
    // An escalation that itself fails still ends at its Fail state: reconcile aligns the order from there.
    expect(catchTarget(definition, 'MarkCompensationFailed')).toBe('CompensationFailed');
    expect(catchTarget(definition, 'MarkNeedsAttention')).toBe('NeedsAttention');
  });

  it('catches States.ALL on every Task, so a FAILED execution either ended at a Fail state or failed uncaught', () => {
    for (const machine of [definition, unwind, completion]) {
      for (const [name, state] of Object.entries(machine.States)) {
        if (state.Type === 'Task') expect(catchTarget(machine, name), name).toBeDefined();
      }
    }
  });

  it('keeps the saga state on failure, recording each failure under the state that failed', () => {
    for (const name of [...FORWARD, ...COMPENSATIONS]) {
      const [catcher] = task(name).Catch ?? [];
      expect(catcher?.ResultPath, name).toBe(`$.failures.${name}`);
    }
  });

  it('never retries a business error on any forward step', () => {
    for (const name of FORWARD) {
      const retried = (task(name).Retry ?? []).flatMap((retrier) => retrier.ErrorEquals);
      expect(retried, name).not.toContain('States.ALL');
      for (const businessError of BUSINESS_ERROR_NAMES) expect(retried, name).not.toContain(businessError);
    }
  });

  const transientRetrier = (name: string) =>
    task(name).Retry?.find((retrier) => retrier.ErrorEquals.includes('TransientError'));

  it('retries write contention first, on its own longer jittered policy, on every step that can report it', () => {
    const reportingContention = FORWARD.filter((name) => name !== 'CreateShipment');
    expect(
      task('CreateShipment').Retry?.some((retrier) => retrier.ErrorEquals.includes('WriteConflict')),
    ).toBe(false);
    for (const name of [...reportingContention, 'MarkCompensationFailed', 'MarkNeedsAttention']) {
      const [first, second] = task(name).Retry ?? [];
      expect(first?.ErrorEquals, name).toEqual(['WriteConflict']);
      expect(first?.JitterStrategy, name).toBe('FULL');
      expect(first?.MaxAttempts ?? 0, name).toBeGreaterThan(
        transientRetrier('ReserveInventory')?.MaxAttempts ?? 0,
      );
      expect(second?.ErrorEquals, name).toContain('TransientError');
    }
  });

  it('retries transient errors, function timeouts included, with exponential backoff and full jitter', () => {
    for (const name of FORWARD) {
      const retrier = transientRetrier(name);
      expect(retrier?.ErrorEquals, name).toEqual(
        expect.arrayContaining([
          'TransientError',
          'Lambda.Unknown',
          'Sandbox.Timedout',
          'Lambda.ClientExecutionTimeoutException',
          'Lambda.TooManyRequestsException',
          'Lambda.ServiceException',
        ]),
      );
      expect(retrier?.BackoffRate ?? 1, name).toBeGreaterThan(1);
      expect(retrier?.JitterStrategy, name).toBe('FULL');
      expect(retrier?.MaxDelaySeconds, name).toBeGreaterThan(0);
    }
  });

  it('retries the post-pivot step longer than pre-pivot steps, timeouts included', () => {
    const prePivot = transientRetrier('ChargePayment');
    const postPivot = transientRetrier('ConfirmOrder');
    expect(postPivot?.ErrorEquals).toContain('States.Timeout');
    expect(prePivot?.ErrorEquals).not.toContain('States.Timeout');
    expect(postPivot?.MaxAttempts ?? 0).toBeGreaterThan(prePivot?.MaxAttempts ?? 0);
  });

  it('retries every compensation on any error, longer than forward steps, then escalates', () => {
    const forwardAttempts = transientRetrier('ChargePayment')?.MaxAttempts ?? 0;
    for (const name of COMPENSATIONS) {
      const [retrier] = task(name).Retry ?? [];
      expect(retrier?.ErrorEquals, name).toEqual(['States.ALL']);
      expect(retrier?.MaxAttempts ?? 0, name).toBeGreaterThan(forwardAttempts);
      expect(catchTarget(definition, name), name).toBe('MarkCompensationFailed');
    }
  });

  it('bounds every Task and the whole execution with a timeout', () => {
    const tasks = Object.entries(states).filter(([, state]) => state.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual(
      [...FORWARD, ...COMPENSATIONS, 'MarkCompensationFailed', 'MarkNeedsAttention'].sort(),
    );
    for (const [name, state] of tasks) expect(state.TimeoutSeconds, name).toBeGreaterThan(0);
    expect(definition.TimeoutSeconds).toBe(3600);
  });

  it('is JSONPath only', () => {
    expect(definition.QueryLanguage).toBe('JSONPath');
    expect(JSON.stringify(definition)).not.toMatch(/JSONata|"Assign"|"Arguments"/);
  });

  it('hands compensations only the saga identity, never another state output', () => {
    for (const name of ['CancelShipment', 'RefundPayment', 'ReleaseInventory']) {
      expect(task(name).Parameters, name).toEqual({
        'orderId.$': '$.orderId',
        'traceId.$': '$.traceId',
        'attempt.$': '$$.State.RetryCount',
      });
    }
    // The final compensation undoes nothing: it records the order's end, with the failures and the total.
    expect(task('CancelOrder').Parameters).toEqual({
      'orderId.$': '$.orderId',
      'traceId.$': '$.traceId',
      'executionName.$': '$$.Execution.Name',
      'results.$': '$.results',
      'failures.$': '$.failures',
      'attempt.$': '$$.State.RetryCount',
    });
  });

  it("hands every Lambda step its state's retry count as attempt, for its log lines", () => {
    for (const name of ['ReserveInventory', 'ChargePayment', 'ConfirmOrder', 'MarkNeedsAttention']) {
      expect(task(name).Parameters, name).toMatchObject({ 'attempt.$': '$$.State.RetryCount' });
    }
  });

  it('hands every status change the results, so the order records the total inventory priced', () => {
    for (const name of ['ConfirmOrder', 'CancelOrder', 'MarkCompensationFailed', 'MarkNeedsAttention']) {
      expect(task(name).Parameters, name).toMatchObject({ 'results.$': '$.results' });
    }
  });

  it('names the execution to every status change, so each execution keeps its own barrier row', () => {
    for (const name of ['ConfirmOrder', 'CancelOrder', 'MarkCompensationFailed', 'MarkNeedsAttention']) {
      expect(task(name).Parameters, name).toMatchObject({ 'executionName.$': '$$.Execution.Name' });
    }
  });

  it('charges the total the reservation priced', () => {
    expect(task('ChargePayment').Parameters).toMatchObject({
      'amountCents.$': '$.results.ReserveInventory.totalCents',
    });
  });

  it('lists each step’s business errors among the names the handlers raise', () => {
    for (const errors of Object.values(STEP_BUSINESS_ERRORS)) {
      for (const name of errors) expect(BUSINESS_ERROR_NAMES).toContain(name);
    }
  });
});

describe("the operator's machines", () => {
  it('unwind: every compensation up to the pivot in reverse order, then CancelOrder, ending OrderCancelled', () => {
    expect(unwind.StartAt).toBe('CancelShipment');
    expect(pathFrom(unwind, 'CancelShipment')).toEqual([...COMPENSATIONS, 'OrderCancelled']);
    expect(unwind.States.OrderCancelled).toMatchObject({ Type: 'Fail', Error: 'OrderCancelled' });
    for (const name of COMPENSATIONS) {
      expect(catchTarget(unwind, name), name).toBe('MarkCompensationFailed');
      expect(unwind.States[name]?.Retry?.[0]?.ErrorEquals, name).toEqual(['States.ALL']);
    }
    expect(Object.keys(unwind.States)).not.toContain('ReserveInventory');
  });

  it('completion: the steps after the pivot, retried forward, ending OrderConfirmed or NeedsAttention', () => {
    expect(completion.StartAt).toBe('ConfirmOrder');
    expect(pathFrom(completion, 'ConfirmOrder')).toEqual(['ConfirmOrder', 'OrderConfirmed']);
    expect(catchTarget(completion, 'ConfirmOrder')).toBe('MarkNeedsAttention');
    expect(completion.States.ConfirmOrder?.Retry).toEqual(states.ConfirmOrder?.Retry);
    expect(completion.States.ConfirmOrder?.Parameters).toEqual(states.ConfirmOrder?.Parameters);
    expect(Object.keys(completion.States).sort()).toEqual(
      ['ConfirmOrder', 'OrderConfirmed', 'MarkNeedsAttention', 'NeedsAttention'].sort(),
    );
  });

  it('bound every execution with the saga timeout, in JSONPath', () => {
    for (const machine of [unwind, completion]) {
      expect(machine.TimeoutSeconds).toBe(3600);
      expect(machine.QueryLanguage).toBe('JSONPath');
    }
  });
});

describe('the wiring, with every reference rendered as the resource it names', () => {
  const { stack, template } = synthOrderSaga();
  const logicalIdOf = (...path: string[]) => {
    const construct = path.reduce((node, id) => node.node.findChild(id), stack as IConstruct);
    return stack.getLogicalId(construct.node.defaultChild as CfnElement);
  };

  it.each([
    ['ReserveInventory', ['Inventory', 'ReserveInventory']],
    ['ReleaseInventory', ['Inventory', 'ReleaseInventory']],
    ['ChargePayment', ['Payments', 'ChargePayment']],
    ['RefundPayment', ['Payments', 'RefundPayment']],
    ['CancelShipment', ['Shipping', 'CancelShipment']],
    ['ConfirmOrder', ['Orders', 'ConfirmOrder']],
    ['CancelOrder', ['Orders', 'CancelOrder']],
    ['MarkCompensationFailed', ['Orders', 'MarkCompensationFailed']],
    ['MarkNeedsAttention', ['Orders', 'MarkNeedsAttention']],
  ])('%s invokes a published version of its own function, never $LATEST', (state, path) => {
    const resource = task(state).Resource as { Ref?: string };
    expect(resource.Ref).toBeDefined();
    const version = template.toJSON().Resources[resource.Ref as string];
    expect(version.Type).toBe('AWS::Lambda::Version');
    expect(version.Properties.FunctionName).toEqual({ Ref: logicalIdOf(...path) });
  });

  it('CreateShipment sends the task token and the request to the shipping-requests queue, and waits; the trace id rides as a message attribute', () => {
    const shipment = task('CreateShipment');
    expect(JSON.stringify(shipment.Resource)).toContain(':states:::sqs:sendMessage.waitForTaskToken');
    expect(shipment.Parameters).toEqual({
      QueueUrl: { Ref: logicalIdOf('Shipping', 'Requests', 'Queue') },
      MessageBody: {
        'taskToken.$': '$$.Task.Token',
        request: {
          'orderId.$': '$.orderId',
          'traceId.$': '$.traceId',
          'items.$': '$.items',
          'shippingAddress.$': '$.shippingAddress',
        },
      },
      MessageAttributes: { traceId: { DataType: 'String', 'StringValue.$': '$.traceId' } },
    });
  });
});
