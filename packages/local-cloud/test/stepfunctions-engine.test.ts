import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DUMMY_CREDENTIALS } from '../src/emulator-credentials.js';
import { createLambdaRunner } from '../src/lambda-runner.js';
import { StepFunctionsApi } from '../src/sfn-api.js';
import { type SqsLocal, startSqsLocal } from '../src/sqs.js';
import {
  createLocalStateMachine,
  type JsonValue,
  type LambdaInvoker,
  sqsSendMessageIntegration,
  TaskFailure,
  TaskTokenRegistry,
} from '../src/stepfunctions-engine.js';

const machineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:test-saga';
const reserveArn = 'arn:aws:lambda:us-east-1:000000000000:function:reserve';

// JSONPath saga: reserve (Lambda, payloadResponseOnly), flaky step with retry, payment with Catch on a custom
// error, an approval that waits for a task token sent through SQS, and a slow step with TimeoutSeconds.
const definition = {
  StartAt: 'Reserve',
  States: {
    Reserve: {
      Type: 'Task',
      Resource: reserveArn,
      ResultPath: '$.reservation',
      Catch: [{ ErrorEquals: ['InsufficientStock'], ResultPath: '$.error', Next: 'OutOfStock' }],
      Next: 'Flaky',
    },
    Flaky: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'flaky', 'Payload.$': '$' },
      ResultSelector: { 'attempts.$': '$.Payload.attempts' },
      ResultPath: '$.flaky',
      Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
      Next: 'Approve',
    },
    Approve: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: {
        QueueUrl: 'QUEUE_URL',
        MessageBody: {
          'jobId.$': '$.jobId',
          'token.$': '$$.Task.Token',
          'execution.$': '$$.Execution.Id',
        },
      },
      TimeoutSeconds: 20,
      HeartbeatSeconds: 10,
      ResultPath: '$.approval',
      Catch: [{ ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.error', Next: 'NoHeartbeat' }],
      Next: 'Slow',
    },
    Slow: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'slow', 'Payload.$': '$' },
      TimeoutSeconds: 10,
      ResultPath: null,
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'TimedOut' }],
      End: true,
    },
    OutOfStock: { Type: 'Fail', Error: 'OutOfStock', Cause: 'reservation failed' },
    NoHeartbeat: { Type: 'Fail', Error: 'NoHeartbeat' },
    TimedOut: { Type: 'Pass', End: true },
  },
};

interface FakeLambda {
  invoke(
    name: string,
    payload: unknown,
  ): Promise<
    { ok: true; payload: unknown } | { ok: false; error: { errorType: string; errorMessage: string } }
  >;
}

function fakeLambda(behaviour: {
  stock: boolean;
  failuresBeforeSuccess: number;
  slowMs: number;
}): FakeLambda {
  let flakyCalls = 0;
  return {
    async invoke(name, payload) {
      if (name === reserveArn) {
        return behaviour.stock
          ? { ok: true, payload: { reserved: true } }
          : { ok: false, error: { errorType: 'InsufficientStock', errorMessage: 'none left' } };
      }
      if (name === 'flaky') {
        flakyCalls += 1;
        return flakyCalls <= behaviour.failuresBeforeSuccess
          ? { ok: false, error: { errorType: 'TransientError', errorMessage: 'try again' } }
          : { ok: true, payload: { attempts: flakyCalls } };
      }
      await new Promise((resolve) => setTimeout(resolve, behaviour.slowMs));
      return { ok: true, payload };
    },
  };
}

describe('local Step Functions engine', () => {
  let sqs: SqsLocal;
  let queueUrl: string;
  const taskTokens = new TaskTokenRegistry();

  beforeAll(async () => {
    sqs = await startSqsLocal();
    const created = await sqs.client.send(new CreateQueueCommand({ QueueName: 'approvals' }));
    queueUrl = created.QueueUrl ?? '';
  });

  afterAll(async () => {
    await sqs?.stop();
  });

  async function machine(behaviour: { stock: boolean; failuresBeforeSuccess: number; slowMs: number }) {
    const withQueue: Record<string, unknown> = JSON.parse(
      JSON.stringify(definition).replace('QUEUE_URL', queueUrl),
    );
    return createLocalStateMachine({
      definition: withQueue,
      stateMachineArn: machineArn,
      // 2 s retry interval -> 20 ms, 10 s timeouts -> 100 ms, 20 s -> 200 ms.
      timeScale: 0.01,
      lambda: fakeLambda(behaviour),
      integrations: { 'arn:aws:states:::sqs:sendMessage': sqsSendMessageIntegration(sqs.client) },
      taskTokens,
    });
  }

  async function answerApproval(
    answer: (token: string, body: Record<string, JsonValue>) => void,
  ): Promise<void> {
    const received = await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 2 }),
    );
    const body = JSON.parse(received.Messages?.[0]?.Body ?? '{}') as Record<string, JsonValue>;
    answer(String(body.token), body);
  }

  it('runs the success path with a retried transient error, a task token answered via SQS and a timeout', async () => {
    const saga = await machine({ stock: true, failuresBeforeSuccess: 2, slowMs: 1000 });
    const started = performance.now();
    const execution = saga.start({ jobId: 'o-1' }, { name: 'job-o-1' });
    expect(saga.start({ jobId: 'o-1' }, { name: 'job-o-1' })).toBe(execution);
    await answerApproval((token, body) => {
      expect(body.jobId).toBe('o-1');
      expect(body.execution).toBe(execution.executionArn);
      taskTokens.sendTaskHeartbeat(token);
      taskTokens.sendTaskSuccess(token, JSON.stringify({ approved: true }));
      expect(() => taskTokens.sendTaskSuccess(token, '{}')).toThrow(
        expect.objectContaining({ name: 'TaskDoesNotExist' }),
      );
    });
    const outcome = await execution.result;
    const elapsed = performance.now() - started;

    expect(outcome.status).toBe('SUCCEEDED');
    expect(outcome.output).toMatchObject({
      jobId: 'o-1',
      reservation: { reserved: true },
      flaky: { attempts: 3 },
      approval: { approved: true },
      error: { Error: 'States.Timeout' },
    });
    // Retry intervals 20 + 40 ms and a 100 ms timeout: far below the unscaled 6 s + 10 s.
    expect(elapsed).toBeLessThan(2000);
    const types = execution.history.map(
      (event) => `${event.type}${event.stateName ? `:${event.stateName}` : ''}`,
    );
    expect(types.slice(0, 5)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered:Reserve',
      'TaskScheduled:Reserve',
      'TaskStarted:Reserve',
      'TaskSucceeded:Reserve',
    ]);
    // Retries show as the task's events again, as on AWS: three attempts, two failures.
    expect(types.filter((type) => type === 'TaskScheduled:Flaky')).toHaveLength(3);
    expect(types.filter((type) => type === 'TaskFailed:Flaky')).toHaveLength(2);
    expect(types).toContain('TaskSubmitted:Approve');
    // The caught timeout exits the state.
    expect(types.slice(types.indexOf('TaskTimedOut:Slow'))).toEqual([
      'TaskTimedOut:Slow',
      'TaskStateExited:Slow',
      'PassStateEntered:TimedOut',
      'PassStateExited:TimedOut',
      'ExecutionSucceeded',
    ]);
    expect(() => saga.start({ jobId: 'o-1' }, { name: 'job-o-1' })).toThrow(/Already Exists/);
  });

  it('catches a custom Lambda error by name and fails through a Fail state', async () => {
    const saga = await machine({ stock: false, failuresBeforeSuccess: 0, slowMs: 0 });
    const outcome = await saga.start({ jobId: 'o-2' }).result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'OutOfStock', cause: 'reservation failed' });
  });

  it('maps a missing heartbeat to States.HeartbeatTimeout and exposes late answers as TaskTimedOut', async () => {
    const saga = await machine({ stock: true, failuresBeforeSuccess: 0, slowMs: 0 });
    const execution = saga.start({ jobId: 'o-3' });
    let token = '';
    await answerApproval((received) => {
      token = received;
    });
    const outcome = await execution.result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'NoHeartbeat' });
    expect(() => taskTokens.sendTaskSuccess(token, '{}')).toThrow(
      expect.objectContaining({ name: 'TaskTimedOut' }),
    );
  });

  it('fails the task with the error name given to SendTaskFailure, and stops executions', async () => {
    const saga = await machine({ stock: true, failuresBeforeSuccess: 0, slowMs: 0 });
    const failing = saga.start({ jobId: 'o-4' });
    await answerApproval((token) => taskTokens.sendTaskFailure(token, 'Rejected', 'manager said no'));
    expect(await failing.result).toMatchObject({
      status: 'FAILED',
      error: 'Rejected',
      cause: 'manager said no',
    });

    const stopped = saga.start({ jobId: 'o-5' });
    await vi.waitFor(() =>
      expect(taskTokens.pendingTasks().some((task) => task.executionArn === stopped.executionArn)).toBe(true),
    );
    stopped.stop('Cancelled', 'by test');
    expect(await stopped.result).toMatchObject({ status: 'ABORTED', error: 'Cancelled' });
    expect(taskTokens.pendingTasks()).toHaveLength(0);
    // Drain the message of the stopped execution.
    await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
  });

  it('serves Lambda tasks from the real lambda runner, naming a function timeout Sandbox.Timedout and a crash Lambda.Unknown', async () => {
    const runner = createLambdaRunner({ timeScale: 0.1 });
    const bundleDir = new URL('./fixtures/lambda-basic', import.meta.url).pathname;
    const arn = 'arn:aws:lambda:us-east-1:000000000000:function:basic';
    runner.register({
      functionName: 'basic',
      functionArn: arn,
      bundleDir,
      handler: 'index.handler',
      environment: {},
      timeoutSeconds: 3,
      memoryMb: 128,
    });
    try {
      const saga = await createLocalStateMachine({
        stateMachineArn: machineArn,
        lambda: runner,
        definition: {
          StartAt: 'Call',
          States: {
            Call: {
              Type: 'Task',
              Resource: arn,
              Retry: [{ ErrorEquals: ['Sandbox.Timedout', 'Lambda.Unknown'], MaxAttempts: 0 }],
              Catch: [
                { ErrorEquals: ['Sandbox.Timedout', 'Lambda.Unknown', 'InsufficientStock'], Next: 'Caught' },
              ],
              End: true,
            },
            Caught: { Type: 'Pass', End: true },
          },
        },
      });
      const ok = await saga.start({ action: 'echo' }).result;
      expect(ok).toMatchObject({ status: 'SUCCEEDED', output: { echo: { action: 'echo' } } });
      const failed = await saga.start({ action: 'fail', sku: 'x' }).result;
      expect(failed.output).toMatchObject({ Error: 'InsufficientStock' });
      expect(JSON.parse(String((failed.output as Record<string, JsonValue>).Cause))).toMatchObject({
        errorType: 'InsufficientStock',
        errorMessage: 'not enough x',
      });
      // 3 s at a tenth is below Lambda's 1 s minimum, so the function is ended after 1 s.
      const timedOut = await saga.start({ action: 'sleep', ms: 2000 }).result;
      expect(timedOut.output).toEqual({
        Error: 'Sandbox.Timedout',
        Cause: expect.stringMatching(/^RequestId: \S+ Error: Task timed out after 1\.00 seconds$/),
      });
      const crashed = await saga.start({ action: 'exit' }).result;
      expect(crashed.output).toEqual({
        Error: 'Lambda.Unknown',
        Cause: expect.stringMatching(/^Runtime\.ExitError: /),
      });
    } finally {
      await runner.stop();
    }
  });

  it('refuses a Task state without a local handler and honours state-name overrides', async () => {
    const taskDefinition = {
      StartAt: 'Put',
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:putItem',
          Parameters: { TableName: 't' },
          End: true,
        },
      },
    };
    await expect(
      createLocalStateMachine({ definition: taskDefinition, stateMachineArn: machineArn }),
    ).rejects.toThrow(/No local handler for Task state\(s\): Put/);
    const overridden = await createLocalStateMachine({
      definition: taskDefinition,
      stateMachineArn: machineArn,
      taskHandlers: {
        Put: (task) => {
          throw new TaskFailure('DynamoDB.ConditionalCheckFailedException', JSON.stringify(task.input));
        },
      },
    });
    expect(await overridden.start({}).result).toMatchObject({
      status: 'FAILED',
      error: 'DynamoDB.ConditionalCheckFailedException',
      cause: '{"TableName":"t"}',
    });
  });
});

describe('RedriveExecution', () => {
  const reserve = 'arn:aws:lambda:us-east-1:000000000000:function:reserve';
  const charge = 'arn:aws:lambda:us-east-1:000000000000:function:charge';
  const twoTasks = {
    StartAt: 'Reserve',
    States: {
      Reserve: { Type: 'Task', Resource: reserve, ResultPath: '$.reservation', Next: 'Charge' },
      Charge: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: charge, 'Payload.$': '$' },
        OutputPath: '$.Payload',
        End: true,
      },
    },
  };

  // Reserve always works; Charge fails on its first call only, like a dependency that was briefly down.
  function countingLambda(): LambdaInvoker & { calls: Record<string, number> } {
    const calls: Record<string, number> = {};
    return {
      calls,
      async invoke(name, payload) {
        calls[name] = (calls[name] ?? 0) + 1;
        if (name === charge && calls[name] === 1) {
          return { ok: false, error: { errorType: 'PaymentDown', errorMessage: 'gateway unavailable' } };
        }
        return { ok: true, payload: name === reserve ? { reserved: true } : { charged: payload } };
      },
    };
  }

  it('restarts a failed execution at the failed state, keeping its identity and history', async () => {
    const lambda = countingLambda();
    const saga = await createLocalStateMachine({ definition: twoTasks, stateMachineArn: machineArn, lambda });
    const execution = saga.start({ jobId: 'r-1' }, { name: 'redrive-1' });
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'PaymentDown' });
    expect(() => saga.redrive(`${execution.executionArn}-nope`)).toThrow(
      expect.objectContaining({ name: 'ExecutionDoesNotExist' }),
    );

    const started = performance.now();
    expect(saga.redrive(execution.executionArn)).toBe(execution);
    expect(execution.status()).toBe('RUNNING');
    const outcome = await execution.result;
    console.log(`redrive to SUCCEEDED in ${(performance.now() - started).toFixed(1)} ms`);
    expect(outcome).toMatchObject({
      status: 'SUCCEEDED',
      output: { charged: { jobId: 'r-1', reservation: { reserved: true } } },
    });
    expect(execution.redriveCount).toBe(1);
    expect(lambda.calls).toEqual({ [reserve]: 1, [charge]: 2 });
    const types = execution.history.map(
      (event) => `${event.type}${event.stateName ? `:${event.stateName}` : ''}`,
    );
    expect(types).toEqual([
      'ExecutionStarted',
      'TaskStateEntered:Reserve',
      'TaskScheduled:Reserve',
      'TaskStarted:Reserve',
      'TaskSucceeded:Reserve',
      'TaskStateExited:Reserve',
      'TaskStateEntered:Charge',
      'TaskScheduled:Charge',
      'TaskStarted:Charge',
      'TaskFailed:Charge',
      'ExecutionFailed',
      'ExecutionRedriven',
      'TaskStateEntered:Charge',
      'TaskScheduled:Charge',
      'TaskStarted:Charge',
      'TaskSucceeded:Charge',
      'TaskStateExited:Charge',
      'ExecutionSucceeded',
    ]);
    expect(execution.history.map((event) => event.id)).toEqual(types.map((_, index) => index + 1));
    // The retried state gets the input it had the first time, not the execution input.
    expect(execution.history[12]?.input).toEqual({ jobId: 'r-1', reservation: { reserved: true } });

    expect(() => saga.redrive(execution.executionArn)).toThrow(
      expect.objectContaining({ name: 'ExecutionNotRedrivable' }),
    );
  });

  it('restarts a failed Parallel state as a whole, not the branch state inside it', async () => {
    let attempts = 0;
    const saga = await createLocalStateMachine({
      stateMachineArn: machineArn,
      definition: {
        StartAt: 'Prepare',
        States: {
          Prepare: { Type: 'Pass', Result: { prepared: true }, ResultPath: '$.prep', Next: 'FanOut' },
          FanOut: {
            Type: 'Parallel',
            Branches: [
              { StartAt: 'Notify', States: { Notify: { Type: 'Pass', End: true } } },
              {
                StartAt: 'Ship',
                States: { Ship: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:putItem', End: true } },
              },
            ],
            End: true,
          },
        },
      },
      taskHandlers: {
        Ship: () => {
          attempts += 1;
          if (attempts === 1) throw new TaskFailure('CarrierDown', 'try later');
          return { shipped: true };
        },
      },
    });
    const execution = saga.start({ jobId: 'r-4' });
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'CarrierDown' });
    saga.redrive(execution.executionArn);
    expect(await execution.result).toMatchObject({
      status: 'SUCCEEDED',
      output: [{ jobId: 'r-4', prep: { prepared: true } }, { shipped: true }],
    });
    const redriven = execution.history.slice(
      execution.history.findIndex((event) => event.type === 'ExecutionRedriven'),
    );
    expect(redriven[1]).toMatchObject({ type: 'ParallelStateEntered', stateName: 'FanOut' });
    expect(redriven.some((event) => event.stateName === 'Prepare')).toBe(false);
  });

  it('redrives a stopped execution, and refuses a running one', async () => {
    let release: () => void = () => undefined;
    const saga = await createLocalStateMachine({
      definition: twoTasks,
      stateMachineArn: machineArn,
      lambda: countingLambda(),
      taskHandlers: {
        // Hangs the first time so that the execution can be caught RUNNING and stopped.
        Reserve: () => new Promise((resolve) => (release = () => resolve({ reserved: 'late' }))),
      },
    });
    const execution = saga.start({ jobId: 'r-2' });
    await vi.waitFor(() =>
      expect(execution.history.some((event) => event.type === 'TaskScheduled')).toBe(true),
    );
    expect(() => saga.redrive(execution.executionArn)).toThrow(/RUNNING and cannot be redriven/);
    execution.stop('Operator', 'paused');
    expect(await execution.result).toMatchObject({ status: 'ABORTED', error: 'Operator' });
    saga.redrive(execution.executionArn);
    await vi.waitFor(() => expect(execution.history.at(-1)?.type).toBe('TaskStarted'));
    release();
    // Charge fails on its first call: FAILED again, redriven a second time, then through.
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'PaymentDown' });
    saga.redrive(execution.executionArn);
    expect(await execution.result).toMatchObject({ status: 'SUCCEEDED' });
    expect(execution.redriveCount).toBe(2);
  });

  it('speaks RedriveExecution and the redrive fields of DescribeExecution over the SDK', async () => {
    const taskTokens = new TaskTokenRegistry();
    const redriven: string[] = [];
    const api = new StepFunctionsApi(taskTokens, { onRedrive: (execution) => redriven.push(execution.name) });
    api.addStateMachine(
      await createLocalStateMachine({
        definition: twoTasks,
        stateMachineArn: machineArn,
        lambda: countingLambda(),
        taskTokens,
      }),
    );
    const server = createServer((request, response) => void api.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sfn = new SFNClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: DUMMY_CREDENTIALS,
    });
    try {
      const { executionArn } = api.startExecution({
        stateMachineArn: machineArn,
        input: '{"jobId":"r-3"}',
      });
      const [execution] = api.allExecutions();
      await execution?.result;
      const failed = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(failed).toMatchObject({ status: 'FAILED', redriveCount: 0, redriveStatus: 'REDRIVABLE' });

      const { redriveDate } = await sfn.send(new RedriveExecutionCommand({ executionArn }));
      expect(redriveDate).toBeInstanceOf(Date);
      expect(redriven).toHaveLength(1);
      await execution?.result;
      const succeeded = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      expect(succeeded).toMatchObject({
        status: 'SUCCEEDED',
        redriveCount: 1,
        redriveStatus: 'NOT_REDRIVABLE',
        output: JSON.stringify({ charged: { jobId: 'r-3', reservation: { reserved: true } } }),
      });
      expect(succeeded.stopDate?.getTime()).toBeGreaterThanOrEqual(redriveDate?.getTime() ?? Infinity);
      const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
      expect(events.find((event) => event.type === 'ExecutionRedriven')).toMatchObject({
        executionRedrivenEventDetails: { redriveCount: 1 },
      });
      await expect(sfn.send(new RedriveExecutionCommand({ executionArn }))).rejects.toMatchObject({
        name: 'ExecutionNotRedrivable',
      });
    } finally {
      sfn.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('several state machines behind one Step Functions API', () => {
  const mainArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:main';
  const unwindArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:unwind';
  const shared = 'arn:aws:lambda:us-east-1:000000000000:function:shared';

  it('routes every execution call to the machine in its ARN and reports redriveStatus as AWS does', async () => {
    let failing = true;
    // One function behind both machines, as the saga and its unwind machine share their compensations.
    const lambda: LambdaInvoker = {
      async invoke(_name, payload, task) {
        const input = payload as { fail?: boolean; hold?: boolean };
        if (input.fail && failing) return { ok: false, error: { errorType: 'Boom', errorMessage: 'down' } };
        if (input.hold && task) {
          const { signal } = task;
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        }
        return { ok: true, payload: { done: true } };
      },
    };
    const taskTokens = new TaskTokenRegistry();
    const api = new StepFunctionsApi(taskTokens);
    api.addStateMachine(
      await createLocalStateMachine({
        stateMachineArn: mainArn,
        // 3 s at a tenth: an execution still holding after 0.3 s times out.
        timeScale: 0.1,
        lambda,
        taskTokens,
        definition: {
          TimeoutSeconds: 3,
          StartAt: 'Reserve',
          States: { Reserve: { Type: 'Task', Resource: shared, End: true } },
        },
      }),
    );
    api.addStateMachine(
      await createLocalStateMachine({
        stateMachineArn: unwindArn,
        lambda,
        taskTokens,
        definition: {
          StartAt: 'Release',
          States: { Release: { Type: 'Task', Resource: shared, End: true } },
        },
      }),
    );
    const server = createServer((request, response) => void api.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sfn = new SFNClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: DUMMY_CREDENTIALS,
    });
    const start = async (stateMachineArn: string, name: string, input: object) =>
      (await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) })))
        .executionArn ?? '';
    const settled = async (executionArn: string) => {
      await vi.waitFor(async () => {
        const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        expect(status).not.toBe('RUNNING');
      });
      return sfn.send(new DescribeExecutionCommand({ executionArn }));
    };
    try {
      // The same name on two machines is two executions, as on AWS.
      const mainDone = await start(mainArn, 'ord-1', {});
      const unwindFailed = await start(unwindArn, 'ord-1', { fail: true });
      const unwindStopped = await start(unwindArn, 'ord-1-cancel-1', { hold: true });
      const mainTimedOut = await start(mainArn, 'ord-2', { hold: true });
      expect([mainDone, unwindFailed, unwindStopped, mainTimedOut]).toEqual([
        'arn:aws:states:us-east-1:000000000000:execution:main:ord-1',
        'arn:aws:states:us-east-1:000000000000:execution:unwind:ord-1',
        'arn:aws:states:us-east-1:000000000000:execution:unwind:ord-1-cancel-1',
        'arn:aws:states:us-east-1:000000000000:execution:main:ord-2',
      ]);
      await vi.waitFor(() =>
        expect(
          api
            .allExecutions()
            .find((e) => e.executionArn === unwindStopped)
            ?.history.at(-1)?.type,
        ).toBe('TaskStarted'),
      );
      await sfn.send(new StopExecutionCommand({ executionArn: unwindStopped, error: 'Operator' }));

      expect(await settled(mainDone)).toMatchObject({
        stateMachineArn: mainArn,
        status: 'SUCCEEDED',
        redriveStatus: 'NOT_REDRIVABLE',
        redriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
      });
      expect(await settled(unwindFailed)).toMatchObject({
        stateMachineArn: unwindArn,
        status: 'FAILED',
        error: 'Boom',
        redriveStatus: 'REDRIVABLE',
      });
      expect(await settled(unwindStopped)).toMatchObject({
        stateMachineArn: unwindArn,
        status: 'ABORTED',
        error: 'Operator',
        redriveStatus: 'REDRIVABLE',
      });
      expect(await settled(mainTimedOut)).toMatchObject({
        stateMachineArn: mainArn,
        status: 'TIMED_OUT',
        redriveStatus: 'REDRIVABLE',
      });
      for (const executionArn of [unwindFailed, unwindStopped, mainTimedOut]) {
        expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).redriveStatusReason).toBe(
          undefined,
        );
      }

      const listed = async (stateMachineArn: string) =>
        ((await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [])
          .map((item) => `${item.name}:${item.status}:${item.stateMachineArn === stateMachineArn}`)
          .sort();
      expect(await listed(mainArn)).toEqual(['ord-1:SUCCEEDED:true', 'ord-2:TIMED_OUT:true']);
      expect(await listed(unwindArn)).toEqual(['ord-1-cancel-1:ABORTED:true', 'ord-1:FAILED:true']);

      const statesOf = async (executionArn: string) =>
        ((await sfn.send(new GetExecutionHistoryCommand({ executionArn }))).events ?? []).flatMap((event) =>
          event.stateEnteredEventDetails?.name ? [event.stateEnteredEventDetails.name] : [],
        );
      expect(await statesOf(mainDone)).toEqual(['Reserve']);
      expect(await statesOf(unwindFailed)).toEqual(['Release']);

      failing = false;
      await sfn.send(new RedriveExecutionCommand({ executionArn: unwindFailed }));
      expect(await settled(unwindFailed)).toMatchObject({
        stateMachineArn: unwindArn,
        status: 'SUCCEEDED',
        redriveCount: 1,
      });
      expect(await statesOf(unwindFailed)).toEqual(['Release', 'Release']);
      expect(await sfn.send(new DescribeExecutionCommand({ executionArn: mainDone }))).toMatchObject({
        status: 'SUCCEEDED',
        redriveCount: 0,
      });
    } finally {
      sfn.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
