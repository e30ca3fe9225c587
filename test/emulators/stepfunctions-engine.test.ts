import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLambdaRunner } from '../../local/lambda-runner.js';
import { type SqsLocal, startSqsLocal } from '../../local/sqs.js';
import {
  createLocalStateMachine,
  type JsonValue,
  sqsSendMessageIntegration,
  TaskFailure,
  TaskTokenRegistry,
} from '../../local/stepfunctions-engine.js';

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
          'orderId.$': '$.orderId',
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
    const execution = saga.start({ orderId: 'o-1' }, { name: 'order-o-1' });
    expect(saga.start({ orderId: 'o-1' }, { name: 'order-o-1' })).toBe(execution);
    await answerApproval((token, body) => {
      expect(body.orderId).toBe('o-1');
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
      orderId: 'o-1',
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
    expect(types.slice(0, 4)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered:Reserve',
      'TaskScheduled:Reserve',
      'TaskSucceeded:Reserve',
    ]);
    expect(types.filter((type) => type === 'StateRetried:Flaky')).toHaveLength(2);
    expect(types).toContain('TaskSubmitted:Approve');
    expect(types).toContain('TaskTimedOut:Slow');
    expect(types).toContain('StateCaught:Slow');
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    expect(() => saga.start({ orderId: 'o-1' }, { name: 'order-o-1' })).toThrow(/Already Exists/);
  });

  it('catches a custom Lambda error by name and fails through a Fail state', async () => {
    const saga = await machine({ stock: false, failuresBeforeSuccess: 0, slowMs: 0 });
    const outcome = await saga.start({ orderId: 'o-2' }).result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'OutOfStock', cause: 'reservation failed' });
  });

  it('maps a missing heartbeat to States.HeartbeatTimeout and exposes late answers as TaskTimedOut', async () => {
    const saga = await machine({ stock: true, failuresBeforeSuccess: 0, slowMs: 0 });
    const execution = saga.start({ orderId: 'o-3' });
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
    const failing = saga.start({ orderId: 'o-4' });
    await answerApproval((token) => taskTokens.sendTaskFailure(token, 'Rejected', 'manager said no'));
    expect(await failing.result).toMatchObject({
      status: 'FAILED',
      error: 'Rejected',
      cause: 'manager said no',
    });

    const stopped = saga.start({ orderId: 'o-5' });
    await vi.waitFor(() =>
      expect(taskTokens.pendingTasks().some((task) => task.executionArn === stopped.executionArn)).toBe(true),
    );
    stopped.stop('Cancelled', 'by test');
    expect(await stopped.result).toMatchObject({ status: 'ABORTED', error: 'Cancelled' });
    expect(taskTokens.pendingTasks()).toHaveLength(0);
    // Drain the message of the stopped execution.
    await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
  });

  it('serves Lambda tasks from the real lambda runner, mapping a function timeout to Lambda.Unknown', async () => {
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
              Retry: [{ ErrorEquals: ['Lambda.Unknown'], MaxAttempts: 0 }],
              Catch: [{ ErrorEquals: ['Lambda.Unknown', 'InsufficientStock'], Next: 'Caught' }],
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
      const timedOut = await saga.start({ action: 'sleep', ms: 2000 }).result;
      expect(timedOut.output).toMatchObject({ Error: 'Lambda.Unknown' });
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
