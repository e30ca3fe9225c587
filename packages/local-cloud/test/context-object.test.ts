import { describe, expect, it } from 'vitest';
import { createLocalStateMachine, type JsonValue, TaskFailure } from '../src/stepfunctions-engine.js';

const machineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:context-object';

describe('the context object of a Task state', () => {
  it('gives $$.State.RetryCount: 0 on the first attempt, counting retries, and 0 again in the next state', async () => {
    const seen: Array<{ state: string; input: JsonValue }> = [];
    let flakyCalls = 0;
    const machine = await createLocalStateMachine({
      definition: {
        StartAt: 'Flaky',
        States: {
          Flaky: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: 'flaky', Payload: { 'attempt.$': '$$.State.RetryCount' } },
            Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 3 }],
            ResultPath: null,
            Next: 'Steady',
          },
          Steady: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: 'steady', Payload: { 'attempt.$': '$$.State.RetryCount' } },
            ResultPath: null,
            End: true,
          },
        },
      },
      stateMachineArn: machineArn,
      timeScale: 0.01,
      taskHandlers: {
        Flaky: (task) => {
          seen.push({ state: 'Flaky', input: task.input });
          flakyCalls += 1;
          if (flakyCalls <= 2) throw new TaskFailure('TransientError', 'try again');
          return {};
        },
        Steady: (task) => {
          seen.push({ state: 'Steady', input: task.input });
          return {};
        },
      },
    });

    expect(await machine.start({}).result).toMatchObject({ status: 'SUCCEEDED' });
    expect(
      seen.map(({ state, input }) => [state, (input as { Payload: { attempt: unknown } }).Payload.attempt]),
    ).toEqual([
      ['Flaky', 0],
      ['Flaky', 1],
      ['Flaky', 2],
      ['Steady', 0],
    ]);
  });
});
