import { Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { invokeFunction, Saga, type SagaProps, type SagaStep } from '../../lib/saga/saga.js';
import { catchTarget, definitionOf, pathFrom, testApp } from './synth.js';

function build(steps: (fn: lambda.Function) => SagaStep[], overrides: Partial<SagaProps> = {}) {
  const stack = new Stack(testApp(), 'SagaTest');
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  const task = invokeFunction(fn);
  new Saga(stack, 'Saga', {
    steps: steps(fn),
    succeededStateName: 'Done',
    finalCompensation: { name: 'Finally', task },
    cancelledStateName: 'Undone',
    escalation: { name: 'CallAPerson', task },
    escalatedStateName: 'Escalated',
    timeout: Duration.minutes(5),
    ...overrides,
  });
  return definitionOf(stack);
}

const step = (fn: lambda.Function, name: string, extra: Partial<SagaStep> = {}): SagaStep => ({
  name,
  task: invokeFunction(fn),
  ...extra,
});

describe('Saga construct', () => {
  it('skips steps without a compensation when unwinding', () => {
    const definition = build((fn) => [
      step(fn, 'A', { compensation: { name: 'UndoA', task: invokeFunction(fn) } }),
      step(fn, 'B'),
      step(fn, 'C', { compensation: { name: 'UndoC', task: invokeFunction(fn) } }),
    ]);
    expect(pathFrom(definition, catchTarget(definition, 'B') as string)).toEqual([
      'UndoA',
      'Finally',
      'Undone',
    ]);
    expect(pathFrom(definition, catchTarget(definition, 'C') as string)).toEqual([
      'UndoC',
      'UndoA',
      'Finally',
      'Undone',
    ]);
  });

  it('goes straight to the final compensation when nothing before the failure can be undone', () => {
    const definition = build((fn) => [step(fn, 'A'), step(fn, 'B')]);
    expect(catchTarget(definition, 'A')).toBe('Finally');
  });

  it('compensates every step when there is no pivot', () => {
    const definition = build((fn) => [
      step(fn, 'A', { compensation: { name: 'UndoA', task: invokeFunction(fn) } }),
    ]);
    expect(pathFrom(definition, 'A')).toEqual(['A', 'Done']);
    expect(catchTarget(definition, 'A')).toBe('UndoA');
  });

  it('uses the default task timeout and the given execution timeout', () => {
    const definition = build((fn) => [step(fn, 'A')]);
    expect(definition.States.A?.TimeoutSeconds).toBe(30);
    expect(definition.TimeoutSeconds).toBe(300);
  });

  it('rejects two pivots', () => {
    expect(() => build((fn) => [step(fn, 'A', { pivot: true }), step(fn, 'B', { pivot: true })])).toThrow(
      'A saga has at most one pivot, got A, B',
    );
  });

  it('rejects a business error that the transient list would retry', () => {
    expect(() => build((fn) => [step(fn, 'A', { businessErrors: ['TransientError'] })])).toThrow(
      'A: business errors must never be retried, but TransientError is transient',
    );
  });

  it('rejects duplicate state names', () => {
    expect(() =>
      build((fn) => [step(fn, 'A', { compensation: { name: 'Finally', task: invokeFunction(fn) } })]),
    ).toThrow('State names must be unique: Finally');
  });
});
