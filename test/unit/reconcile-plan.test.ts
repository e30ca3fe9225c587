import { describe, expect, it } from 'vitest';
import { type Decision, planReconcile, type ReconcileFacts } from '../../lambdas/orders/reconcile-plan.js';
import {
  type ExecutionView,
  executionArnOf,
  type RecordedExecution,
} from '../../lambdas/orders/saga-client.js';
import type { OperatorAction, OrderStatus } from '../../lambdas/orders/status.js';

/**
 * The reconcile planner over every reachable combination of order status x execution status x
 * redrivable x request. Each table row is the contract for one order status; a cell is the decision.
 */

type Column =
  | 'NONE'
  | 'RUNNING'
  | 'PENDING_REDRIVE'
  | 'SUCCEEDED'
  | 'FAILED@OrderCancelled'
  | 'FAILED@CompensationFailed'
  | 'FAILED@NeedsAttention'
  | 'FAILED uncaught'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'MISSING';
const COLUMNS: Column[] = [
  'NONE',
  'RUNNING',
  'PENDING_REDRIVE',
  'SUCCEEDED',
  'FAILED@OrderCancelled',
  'FAILED@CompensationFailed',
  'FAILED@NeedsAttention',
  'FAILED uncaught',
  'TIMED_OUT',
  'ABORTED',
  'MISSING',
];

function executionOf(column: Column, redrivable: boolean): ExecutionView | undefined {
  switch (column) {
    case 'NONE':
      return undefined;
    case 'MISSING':
      return { status: 'MISSING' };
    case 'FAILED uncaught':
      return { status: 'FAILED', error: 'States.Runtime', cause: 'bad path', redrivable };
    default: {
      const [status, error] = column.split('@') as [Exclude<ExecutionView['status'], 'MISSING'>, string?];
      return { status, ...(error ? { error } : {}), redrivable };
    }
  }
}

const SAGA: RecordedExecution = {
  arn: 'arn:aws:states:us-east-1:1:execution:Saga:ord_1',
  name: 'ord_1',
  kind: 'saga',
  attempt: 0,
};
const ACTION = { action: 'cancel' as const, actor: 'ops', reason: 'r', startedAt: '2026-01-01T00:00:00Z' };

function facts(
  status: OrderStatus,
  column: Column,
  redrivable: boolean,
  overrides: Partial<ReconcileFacts> = {},
): ReconcileFacts {
  const execution = executionOf(column, redrivable);
  return {
    status,
    autoRedrives: 0,
    redriveBudget: 2,
    barrierSafe: true,
    actionStarting: false,
    ...(execution ? { latest: SAGA, execution } : {}),
    ...overrides,
  };
}

/** A decision in a few characters, so a table row reads at a glance. */
function code(decision: Decision): string {
  switch (decision.do) {
    case 'nothing':
      return 'none';
    case 'refuse':
      return `refuse:${decision.code}`;
    case 'start-saga':
      return 'start';
    case 'auto-redrive':
      return 'redrive';
    case 'set-status':
      return decision.failure?.reason ? `NA:${decision.failure.reason}` : `->${decision.to}`;
    case 'operator-redrive':
      return 'op-redrive';
    case 'operator-cancel':
      return decision.stopRunning ? 'op-cancel+stop' : 'op-cancel';
    case 'operator-complete':
      return 'op-complete';
  }
}

/** `redrivable` only matters where a cell says `r|nr` (redrivable | not redrivable). */
type Row = Record<Column, string>;
function row(cells: string[]): Row {
  return Object.fromEntries(COLUMNS.map((column, index) => [column, cells[index]])) as Row;
}
function cellFor(cell: string, redrivable: boolean): string {
  const [whenRedrivable, whenNot = whenRedrivable] = cell.split('|');
  return (redrivable ? whenRedrivable : whenNot) ?? cell;
}

function casesOf(table: Record<string, Row>) {
  return Object.entries(table)
    .flatMap(([rowName, cells]) =>
      COLUMNS.flatMap((column) =>
        [true, false].map((redrivable) => ({
          rowName,
          column,
          redrivable,
          expected: cellFor(cells[column], redrivable),
        })),
      ),
    )
    .map(
      (testCase) =>
        [
          `${testCase.rowName} x ${testCase.column} x ${testCase.redrivable ? 'redrivable' : 'not redrivable'}: ${testCase.expected}`,
          testCase,
        ] as const,
    );
}

const NONE11 = Array(11).fill('none');

describe('reconcile without a body (align)', () => {
  // Columns: NONE RUNNING PENDING_REDRIVE SUCCEEDED F@Cancelled F@CompFailed F@NeedsAttention F-uncaught TIMED_OUT ABORTED MISSING
  const table: Record<string, Row> = {
    PENDING: row([
      'start',
      'none',
      'none',
      '->CONFIRMED',
      '->CANCELLED',
      '->COMPENSATION_FAILED',
      'NA:failed-after-pivot',
      'NA:not-redrivable',
      'redrive|NA:not-redrivable',
      'NA:execution-stopped',
      'NA:execution-missing',
    ]),
    NEEDS_ATTENTION: row([
      'none',
      'none',
      'none',
      '->CONFIRMED',
      '->CANCELLED',
      '->COMPENSATION_FAILED',
      ...Array(5).fill('none'),
    ]),
    COMPENSATION_FAILED: row([
      'none',
      'none',
      'none',
      'none',
      '->CANCELLED',
      'none',
      'NA:failed-after-pivot',
      ...Array(4).fill('none'),
    ]),
    'NEEDS_ATTENTION with an action in flight': row([
      'none',
      'none',
      'none',
      '->CONFIRMED',
      '->CANCELLED',
      '->COMPENSATION_FAILED',
      'NA:failed-after-pivot',
      'NA:not-redrivable',
      'redrive|NA:not-redrivable',
      'NA:execution-stopped',
      'NA:execution-missing',
    ]),
    'COMPENSATION_FAILED with an action in flight': row([
      'none',
      'none',
      'none',
      'none',
      '->CANCELLED',
      '->COMPENSATION_FAILED',
      'NA:failed-after-pivot',
      'NA:not-redrivable',
      'redrive|NA:not-redrivable',
      'NA:execution-stopped',
      'NA:execution-missing',
    ]),
    CONFIRMED: row(NONE11),
    CANCELLED: row(NONE11),
  };

  it.each(casesOf(table))('%s', (_, { rowName, column, redrivable, expected }) => {
    const [status, withAction] = rowName.split(' with an action') as [OrderStatus, string?];
    const overrides =
      withAction !== undefined ? { pendingAction: { ...ACTION, executionArn: SAGA.arn } } : {};
    expect(code(planReconcile(facts(status, column, redrivable, overrides), { kind: 'align' }))).toBe(
      expected,
    );
  });

  it('hands a TIMED_OUT saga to a person once the redrive budget is spent', () => {
    const decision = planReconcile(facts('PENDING', 'TIMED_OUT', true, { autoRedrives: 2 }), {
      kind: 'align',
    });
    expect(code(decision)).toBe('NA:redrive-budget-spent');
  });

  it('never redrives an order whose barrier rows may have expired', () => {
    expect(
      code(planReconcile(facts('PENDING', 'TIMED_OUT', true, { barrierSafe: false }), { kind: 'align' })),
    ).toBe('NA:barrier-expired');
  });

  it('never starts a lost saga whose barrier rows may have expired', () => {
    expect(
      code(planReconcile(facts('PENDING', 'NONE', true, { barrierSafe: false }), { kind: 'align' })),
    ).toBe('NA:barrier-expired');
  });

  it('leaves an operator action alone while it is starting, even over a stopped saga', () => {
    const starting = facts('PENDING', 'ABORTED', true, { pendingAction: ACTION, actionStarting: true });
    expect(code(planReconcile(starting, { kind: 'align' }))).toBe('none');
  });

  it('keeps the error and cause of the execution it hands over', () => {
    const decision = planReconcile(facts('PENDING', 'FAILED uncaught', false), { kind: 'align' });
    expect(decision).toMatchObject({
      do: 'set-status',
      to: 'NEEDS_ATTENTION',
      failure: { reason: 'not-redrivable', error: 'States.Runtime', cause: 'bad path' },
    });
  });
});

describe('reconcile with an operator action', () => {
  const operate = (state: ReconcileFacts, action: OperatorAction) =>
    code(planReconcile(state, { kind: 'operator', action, reason: 'r', actor: 'ops' }));
  const nonFinal: OrderStatus[] = ['PENDING', 'NEEDS_ATTENTION', 'COMPENSATION_FAILED'];

  // Columns: NONE RUNNING PENDING_REDRIVE SUCCEEDED F@Cancelled F@CompFailed F@NeedsAttention F-uncaught TIMED_OUT ABORTED MISSING
  const redrive = row([
    'refuse:ExecutionMissing',
    'refuse:ExecutionRunning',
    'refuse:ExecutionRunning',
    'refuse:NothingToRedrive',
    'refuse:NothingToRedrive',
    'refuse:NothingToRedrive',
    'refuse:NothingToRedrive',
    'op-redrive|refuse:NotRedrivable',
    'op-redrive|refuse:NotRedrivable',
    'op-redrive|refuse:NotRedrivable',
    'refuse:ExecutionMissing',
  ]);
  const cancelBeforePivot = row([
    'op-cancel',
    'op-cancel+stop',
    'op-cancel+stop',
    ...Array(7).fill('op-cancel'),
    'refuse:ExecutionMissing',
  ]);
  const completeAfterPivot = row([
    'op-complete',
    'refuse:ExecutionRunning',
    'refuse:ExecutionRunning',
    ...Array(7).fill('op-complete'),
    'refuse:ExecutionMissing',
  ]);
  const table: Record<string, Row> = {
    ...Object.fromEntries(nonFinal.map((status) => [`${status} redrive`, redrive])),
    ...Object.fromEntries(nonFinal.map((status) => [`${status} cancel before the pivot`, cancelBeforePivot])),
    'PENDING complete after the pivot': completeAfterPivot,
    'NEEDS_ATTENTION complete after the pivot': completeAfterPivot,
    'COMPENSATION_FAILED complete after the pivot': row([
      ...Array(10).fill('refuse:NotCompletable'),
      'refuse:ExecutionMissing',
    ]),
    'CONFIRMED redrive': row(Array(11).fill('refuse:OrderFinal')),
    'CONFIRMED cancel before the pivot': row(Array(11).fill('refuse:OrderFinal')),
    'CONFIRMED complete after the pivot': row(NONE11),
    'CANCELLED redrive': row(Array(11).fill('refuse:OrderFinal')),
    'CANCELLED cancel before the pivot': row(NONE11),
    'CANCELLED complete after the pivot': row(Array(11).fill('refuse:OrderFinal')),
  };

  it.each(casesOf(table))('%s', (_, { rowName, column, redrivable, expected }) => {
    const [status, action] = rowName.split(' ') as [OrderStatus, OperatorAction];
    const pivotSucceeded = action === 'complete';
    expect(operate(facts(status, column, redrivable, { pivotSucceeded }), action)).toBe(expected);
  });

  it.each(nonFinal)('refuses to cancel a %s order once the pivot succeeded', (status) => {
    expect(operate(facts(status, 'TIMED_OUT', true, { pivotSucceeded: true }), 'cancel')).toBe(
      'refuse:PivotPassed',
    );
  });

  it('refuses to cancel when the saga history is gone and the pivot is unknown', () => {
    expect(operate(facts('NEEDS_ATTENTION', 'ABORTED', true, { pivotSucceeded: 'unknown' }), 'cancel')).toBe(
      'refuse:ExecutionMissing',
    );
  });

  it.each(['PENDING', 'NEEDS_ATTENTION'] as const)(
    'refuses to complete a %s order before the pivot',
    (status) => {
      expect(operate(facts(status, 'TIMED_OUT', true, { pivotSucceeded: false }), 'complete')).toBe(
        'refuse:PivotNotReached',
      );
    },
  );

  it.each(['redrive', 'cancel', 'complete'] as const)('refuses %s while another action runs', (action) => {
    const busy = facts('NEEDS_ATTENTION', 'RUNNING', true, {
      pendingAction: { ...ACTION, executionArn: SAGA.arn },
      pivotSucceeded: action === 'complete',
    });
    expect(operate(busy, action)).toBe('refuse:ActionInProgress');
  });

  it('refuses an action while another one is still starting', () => {
    const starting = facts('NEEDS_ATTENTION', 'ABORTED', true, {
      pendingAction: ACTION,
      actionStarting: true,
    });
    expect(operate(starting, 'redrive')).toBe('refuse:ActionInProgress');
  });

  it('lets a new action replace one whose execution ended without changing the order', () => {
    const ended = facts('COMPENSATION_FAILED', 'FAILED@CompensationFailed', true, {
      pendingAction: { ...ACTION, executionArn: SAGA.arn },
      pivotSucceeded: false,
    });
    expect(operate(ended, 'cancel')).toBe('op-cancel');
  });

  it.each(['redrive', 'cancel', 'complete'] as const)(
    'refuses %s once barrier rows may have expired, and hands the order to a person',
    (action) => {
      const expired = facts('NEEDS_ATTENTION', 'TIMED_OUT', true, {
        barrierSafe: false,
        pivotSucceeded: action === 'complete',
      });
      expect(planReconcile(expired, { kind: 'operator', action, reason: 'r', actor: 'ops' })).toMatchObject({
        do: 'refuse',
        code: 'BarrierExpired',
        attention: 'barrier-expired',
      });
    },
  );
});

describe('execution ARNs', () => {
  const machine = 'arn:aws:states:us-east-1:111111111111:stateMachine:OrderSaga';

  it.each([
    ['the machine', machine],
    ['its live alias', `${machine}:live`],
    ['a published version', `${machine}:7`],
  ])('an execution started through %s is the machine’s execution', (_, startedWith) => {
    expect(executionArnOf(startedWith, 'order-1')).toBe(
      'arn:aws:states:us-east-1:111111111111:execution:OrderSaga:order-1',
    );
  });

  it('refuses what is not a state machine ARN', () => {
    expect(() => executionArnOf('arn:aws:lambda:us-east-1:111111111111:function:f', 'x')).toThrow(
      /Not a state machine ARN/,
    );
  });
});
