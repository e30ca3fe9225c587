import { afterAll, describe, expect, it } from 'vitest';
import { FaultRegistry, FaultValidationError } from '../src/faults.js';
import { FaultInjectingInvoker } from '../src/invoker.js';
import { createLambdaRunner, type LambdaFunctionConfig } from '../src/lambda-runner.js';
import { createLocalStateMachine, type LambdaInvoker } from '../src/stepfunctions-engine.js';
import { createTracer } from '../src/trace.js';

const bundleDir = new URL('./fixtures/lambda-basic', import.meta.url).pathname;
// 6 s becomes 1.5 s and 40 s becomes 10 s: both above Lambda's one-second floor, so the scale shows.
const TIME_SCALE = 0.25;

function fixture(functionName: string, timeoutSeconds: number): LambdaFunctionConfig {
  return {
    functionName,
    functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    bundleDir,
    handler: 'index.handler',
    environment: {},
    timeoutSeconds,
    memoryMb: 128,
  };
}

const logs: string[] = [];
const runner = createLambdaRunner({
  timeScale: TIME_SCALE,
  onLog: (functionName, _stream, line) => logs.push(`${functionName}: ${line}`),
});
const stuck = fixture('stuck', 6);
const slow = fixture('slow', 40);
runner.register(stuck);
runner.register(slow);
const faults = new FaultRegistry();
const invoker = new FaultInjectingInvoker(
  runner,
  faults,
  createTracer(() => undefined, false),
  TIME_SCALE,
);

afterAll(async () => {
  await runner.stop();
});

describe('hang fault', () => {
  it('is accepted by POST /_local/faults validation', () => {
    expect(faults.add({ target: 'nobody', mode: 'hang', count: 1 })).toMatchObject({ mode: 'hang' });
    expect(() => faults.add({ target: 'nobody', mode: 'hangs', count: 1 })).toThrow(FaultValidationError);
    faults.clear();
  });

  it('never runs the handler and fails with Sandbox.Timedout at the scaled function timeout', async () => {
    faults.add({ target: 'stuck', mode: 'hang', count: 1 });
    const started = performance.now();
    const hung = await invoker.invoke('stuck', { action: 'echo' });
    const elapsed = performance.now() - started;
    expect(hung).toEqual({
      ok: false,
      error: {
        errorType: 'Sandbox.Timedout',
        errorMessage: 'Task timed out after 1.50 seconds (injected hang)',
        trace: [],
      },
    });
    expect(elapsed).toBeGreaterThanOrEqual(1450);
    expect(elapsed).toBeLessThan(4000);
    // The fault is used up; the next call is the function's first: the hung one never reached it.
    expect(await invoker.invoke('stuck', {})).toMatchObject({ ok: true, payload: { invocations: 1 } });
    expect(logs.filter((line) => line.startsWith('stuck: invoked'))).toEqual(['stuck: invoked default']);
  });

  it('reaches a Task state as Sandbox.Timedout when the function timeout comes first', async () => {
    faults.add({ target: 'CallStuck', mode: 'hang', count: 1 });
    const machine = await createLocalStateMachine({
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:hang-function-timeout',
      timeScale: TIME_SCALE,
      lambda: invoker,
      definition: {
        StartAt: 'CallStuck',
        States: {
          CallStuck: {
            Type: 'Task',
            Resource: stuck.functionArn,
            TimeoutSeconds: 60,
            Catch: [{ ErrorEquals: ['Sandbox.Timedout'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Pass', End: true },
        },
      },
    });
    const outcome = await machine.start({}).result;
    expect(outcome).toMatchObject({
      status: 'SUCCEEDED',
      output: { Error: 'Sandbox.Timedout', Cause: 'Task timed out after 1.50 seconds (injected hang)' },
    });
  });

  // `timeout` runs the function first and then loses its answer; both must stop waiting with the state.
  it.each([
    ['hang', 0],
    ['timeout', 1],
  ] as const)(
    '%s ends when the state TimeoutSeconds fires before the function timeout',
    async (mode, runs) => {
      const stateName = `Call-${mode}`;
      faults.add({ target: stateName, mode, count: 1 });
      let settledAfterMs: number | undefined;
      const started = performance.now();
      const watched: LambdaInvoker = {
        invoke: async (...args) => {
          const outcome = await invoker.invoke(...args);
          settledAfterMs = performance.now() - started;
          return outcome;
        },
      };
      const machine = await createLocalStateMachine({
        stateMachineArn: `arn:aws:states:us-east-1:000000000000:stateMachine:hang-${mode}`,
        timeScale: TIME_SCALE,
        lambda: watched,
        definition: {
          StartAt: stateName,
          States: {
            // 2 s becomes 0.5 s, far inside the function's 10 s.
            [stateName]: {
              Type: 'Task',
              Resource: slow.functionArn,
              TimeoutSeconds: 2,
              Catch: [{ ErrorEquals: ['States.Timeout'], Next: 'Caught' }],
              End: true,
            },
            // Long enough for the abandoned call to finish while the execution is still running.
            Caught: { Type: 'Wait', Seconds: 8, End: true },
          },
        },
      });
      const logsBefore = logs.filter((line) => line.startsWith('slow: invoked')).length;
      const execution = machine.start({ action: 'echo' });
      const outcome = await execution.result;
      expect(outcome.status).toBe('SUCCEEDED');
      expect(settledAfterMs).toBeDefined();
      expect(settledAfterMs).toBeLessThan(1500);
      expect(logs.filter((line) => line.startsWith('slow: invoked')).length - logsBefore).toBe(runs);
      // The abandoned call's own answer is not history: the state timed out.
      expect(execution.history.map((event) => event.type)).toEqual(
        expect.not.arrayContaining(['TaskFailed', 'TaskSucceeded']),
      );
      expect(execution.history.map((event) => event.type)).toContain('TaskTimedOut');
    },
  );
});
