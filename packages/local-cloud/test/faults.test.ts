import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localRoutes } from '../src/cloud/local-routes.js';
import {
  AWS_CALL_FAULT_MODES,
  CALLBACK_FAULT_MODES,
  FAULT_MODES,
  FaultRegistry,
  FaultValidationError,
  LAMBDA_FAULT_MODES,
} from '../src/faults.js';
import { FaultInjectingInvoker } from '../src/invoker.js';
import { createLambdaRunner, type LambdaFunctionConfig } from '../src/lambda-runner.js';
import type { LocalSchedules } from '../src/schedules.js';
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
const rendezvous = {
  ...fixture('rendezvous', 20),
  bundleDir: new URL('./fixtures/rendezvous', import.meta.url).pathname,
};
runner.register(stuck);
runner.register(slow);
runner.register(rendezvous);
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

describe('fault catalogue', () => {
  function catalogued(): FaultRegistry {
    const registry = new FaultRegistry({ correlationField: 'orderId' });
    registry.addTargets([
      { target: 'ShippingWorker', modes: LAMBDA_FAULT_MODES },
      { target: 'CreateShipment', modes: CALLBACK_FAULT_MODES },
      { target: 'ChargePayment', modes: LAMBDA_FAULT_MODES },
    ]);
    registry.addTargets([
      { target: 'dynamodb:TransactWriteItems:Inventory/Table', modes: AWS_CALL_FAULT_MODES },
      // A queue and a function may share a name: the modes add up.
      { target: 'ShippingWorker', modes: ['duplicate-delivery'] },
    ]);
    return registry;
  }

  it('groups the modes: Lambda ones and AWS-call ones make up FAULT_MODES', () => {
    expect(AWS_CALL_FAULT_MODES).toEqual(['throttle', 'conflict', 'unavailable']);
    expect(FAULT_MODES).toEqual([...LAMBDA_FAULT_MODES, ...AWS_CALL_FAULT_MODES]);
  });

  it('lists its targets sorted and once each', () => {
    expect(catalogued().targets()).toEqual([
      'ChargePayment',
      'CreateShipment',
      'ShippingWorker',
      'dynamodb:TransactWriteItems:Inventory/Table',
    ]);
  });

  it('refuses an unknown target and names the valid ones', () => {
    const registry = catalogued();
    const error = (() => {
      try {
        registry.add({ target: 'ShipingWorker', mode: 'error', count: 1 });
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(FaultValidationError);
    expect(error).toMatchObject({ validTargets: registry.targets() });
    expect((error as Error).message).toContain('ShipingWorker');
    expect(registry.list()).toEqual([]);
  });

  it('refuses a mode that does not apply to the target and names the ones that do', () => {
    const registry = catalogued();
    expect(() => registry.add({ target: 'CreateShipment', mode: 'hang', count: 1 })).toThrow(
      expect.objectContaining({ name: 'FaultValidationError', validModes: [...CALLBACK_FAULT_MODES] }),
    );
    expect(() => registry.add({ target: 'ChargePayment', mode: 'throttle', count: 1 })).toThrow(
      expect.objectContaining({ validModes: [...LAMBDA_FAULT_MODES] }),
    );
    expect(() =>
      registry.add({ target: 'dynamodb:TransactWriteItems:Inventory/Table', mode: 'error', count: 1 }),
    ).toThrow(expect.objectContaining({ validModes: [...AWS_CALL_FAULT_MODES] }));
    expect(
      registry.add({ target: 'CreateShipment', mode: 'lost-response', count: 2, orderId: 'o-1' }),
    ).toMatchObject({ target: 'CreateShipment', mode: 'lost-response', remaining: 2, orderId: 'o-1' });
  });

  const schedules = { list: () => [] } as unknown as LocalSchedules;
  const request = {} as Parameters<ReturnType<typeof localRoutes>[string]>[0];

  it('answers POST /_local/faults with 400 InvalidFault, listing valid targets or modes', async () => {
    const registry = catalogued();
    const routes = localRoutes(undefined, schedules, registry);
    const post = routes['POST /_local/faults'];
    expect(await post?.(request, JSON.stringify({ target: 'Nobody', mode: 'error', count: 1 }))).toEqual({
      status: 400,
      body: {
        error: {
          code: 'InvalidFault',
          message: expect.stringContaining('Nobody'),
          validTargets: registry.targets(),
        },
      },
    });
    expect(
      await post?.(request, JSON.stringify({ target: 'CreateShipment', mode: 'transient', count: 1 })),
    ).toEqual({
      status: 400,
      body: {
        error: {
          code: 'InvalidFault',
          message: expect.stringContaining('transient'),
          validModes: ['error', 'timeout', 'lost-response', 'duplicate-delivery'],
        },
      },
    });
    expect(await post?.(request, '{')).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidFault' } },
    });
  });

  it('answers GET /_local/faults with the armed faults and every valid target', async () => {
    const registry = catalogued();
    const routes = localRoutes(undefined, schedules, registry);
    await routes['POST /_local/faults']?.(
      request,
      JSON.stringify({ target: 'ShippingWorker', mode: 'duplicate-delivery', count: 3 }),
    );
    expect(await routes['GET /_local/faults']?.(request, '')).toEqual({
      status: 200,
      body: {
        faults: [
          { id: expect.any(String), target: 'ShippingWorker', mode: 'duplicate-delivery', remaining: 3 },
        ],
        targets: registry.targets(),
      },
    });
  });
});

describe('duplicate-delivery overlap', () => {
  it('runs both copies of a function at once and answers with the first one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rendezvous-'));
    faults.add({ target: 'rendezvous', mode: 'duplicate-delivery', count: 1 });
    // Within the function's (scaled) 5 s timeout, so a copy run alone still answers.
    const outcome = await invoker.invoke('rendezvous', { dir, waitMs: 3000 });
    expect(outcome).toMatchObject({ ok: true, payload: { seen: 2 } });
    const marks = await readdir(dir);
    const seenByEach = await Promise.all(marks.map((mark) => readFile(join(dir, mark), 'utf8')));
    expect(seenByEach).toEqual(['2', '2']);
  });
});
