import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DUMMY_CREDENTIALS } from '../src/emulator-credentials.js';
import { StepFunctionsApi } from '../src/sfn-api.js';
import {
  createLocalStateMachine,
  type LambdaInvoker,
  TaskTokenRegistry,
} from '../src/stepfunctions-engine.js';

/**
 * GetExecutionHistory event by event, as AWS records it (ids consecutive from 1, previousEventId naming the
 * event before, except the first state's entry and an abort, which name 0; retries and catches are no events
 * of their own), and nothing after the event that ends the execution.
 */

const region = 'us-east-1';
const account = '000000000000';
const machineArn = `arn:aws:states:${region}:${account}:stateMachine:history`;
const reserve = `arn:aws:lambda:${region}:${account}:function:reserve`;
const release = `arn:aws:lambda:${region}:${account}:function:release`;
const hold = `arn:aws:lambda:${region}:${account}:function:hold`;

const calls: string[] = [];
const lambda: LambdaInvoker = {
  async invoke(functionName, _payload, task) {
    calls.push(task?.stateName ?? functionName);
    if (functionName === hold) {
      // Runs until its execution ends or its state times out, like a function that is slow today.
      await new Promise((resolve) => task?.signal.addEventListener('abort', resolve, { once: true }));
    }
    return { ok: true, payload: { done: functionName.split(':').pop() ?? '' } };
  },
};

let sfn: SFNClient;
let server: Server;
const taskTokens = new TaskTokenRegistry();

beforeAll(async () => {
  const api = new StepFunctionsApi(taskTokens);
  api.addStateMachine(
    await createLocalStateMachine({
      stateMachineArn: machineArn,
      timeScale: 0.01,
      lambda,
      taskTokens,
      taskHandlers: {
        // What sqs:sendMessage would do; the "worker" answers through the API, as the shipping worker does.
        Ship: (task) => {
          const rejected = (task.input as { reject?: boolean }).reject === true;
          const { taskToken } = task;
          setTimeout(() => {
            if (rejected) {
              void sfn.send(
                new SendTaskFailureCommand({
                  taskToken,
                  error: 'ShippingRejected',
                  cause: 'We do not ship to BR',
                }),
              );
            } else {
              void sfn.send(new SendTaskSuccessCommand({ taskToken, output: '{"shipmentId":"s-1"}' }));
            }
          }, 20);
          return { MessageId: 'm-1', MD5OfMessageBody: '' };
        },
      },
      definition: {
        StartAt: 'Choose',
        States: {
          Choose: {
            Type: 'Choice',
            Choices: [
              { Variable: '$.flow', StringEquals: 'stop', Next: 'Hold' },
              { Variable: '$.flow', StringEquals: 'timeout', Next: 'Slow' },
            ],
            Default: 'Reserve',
          },
          Reserve: { Type: 'Task', Resource: reserve, ResultPath: '$.reservation', Next: 'Ship' },
          Ship: {
            Type: 'Task',
            Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
            Parameters: {
              QueueUrl: 'http://sqs.local/000000000000/shipping',
              MessageBody: { 'token.$': '$$.Task.Token' },
              'reject.$': '$.reject',
            },
            ResultPath: '$.shipment',
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Release' }],
            End: true,
          },
          Release: { Type: 'Task', Resource: release, ResultPath: null, Next: 'Cancelled' },
          Cancelled: { Type: 'Fail', Error: 'JobCancelled', Cause: 'Every completed step was compensated' },
          // Retried on anything: a stop must neither be retried nor caught.
          Hold: {
            Type: 'Task',
            Resource: hold,
            Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 3 }],
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Release' }],
            End: true,
          },
          // 10 s at a hundredth: 100 ms, long before the function would answer.
          Slow: {
            Type: 'Task',
            Resource: hold,
            TimeoutSeconds: 10,
            Catch: [{ ErrorEquals: ['States.Timeout'], Next: 'Cancelled' }],
            End: true,
          },
        },
      },
    }),
  );
  server = createServer((request, response) => void api.handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sfn = new SFNClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region,
    credentials: DUMMY_CREDENTIALS,
  });
});

afterAll(async () => {
  sfn.destroy();
  await new Promise((resolve) => server.close(resolve));
});

/** One line per event: id, previousEventId, type, and what names it (state, error, task resource). */
function line(event: HistoryEvent): string {
  const state = event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name;
  const failure =
    event.lambdaFunctionFailedEventDetails ??
    event.lambdaFunctionTimedOutEventDetails ??
    event.taskFailedEventDetails ??
    event.executionFailedEventDetails ??
    event.executionAbortedEventDetails;
  const task =
    event.taskScheduledEventDetails ??
    event.taskStartedEventDetails ??
    event.taskSubmittedEventDetails ??
    event.taskSucceededEventDetails ??
    event.taskFailedEventDetails;
  const detail = [
    state,
    task ? `${task.resourceType}:${task.resource}` : undefined,
    event.lambdaFunctionScheduledEventDetails?.resource?.split(':').pop(),
    failure?.error,
  ].filter(Boolean);
  return [event.id, event.previousEventId, event.type, ...detail].join(' ');
}

async function run(name: string, input: object, stopAfter?: (executionArn: string) => Promise<void>) {
  const { executionArn = '' } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: machineArn, name, input: JSON.stringify(input) }),
  );
  await stopAfter?.(executionArn);
  await vi.waitFor(async () => {
    const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(status).not.toBe('RUNNING');
  });
  const history = async () =>
    ((await sfn.send(new GetExecutionHistoryCommand({ executionArn }))).events ?? []).map(line);
  const events = await history();
  // Whatever was still running when the execution ended has had time to answer: it must not add anything.
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(await history()).toEqual(events);
  return { events, description: await sfn.send(new DescribeExecutionCommand({ executionArn })) };
}

const SHIP = 'sqs:sendMessage.waitForTaskToken';

describe('GetExecutionHistory of the local engine', () => {
  it('pins a happy execution event by event', async () => {
    const { events, description } = await run('happy', { flow: 'ship', reject: false });
    expect(description.status).toBe('SUCCEEDED');
    expect(events).toEqual([
      '1 0 ExecutionStarted',
      '2 0 ChoiceStateEntered Choose',
      '3 2 ChoiceStateExited Choose',
      '4 3 TaskStateEntered Reserve',
      '5 4 LambdaFunctionScheduled reserve',
      '6 5 LambdaFunctionStarted',
      '7 6 LambdaFunctionSucceeded',
      '8 7 TaskStateExited Reserve',
      '9 8 TaskStateEntered Ship',
      `10 9 TaskScheduled ${SHIP}`,
      `11 10 TaskStarted ${SHIP}`,
      `12 11 TaskSubmitted ${SHIP}`,
      `13 12 TaskSucceeded ${SHIP}`,
      '14 13 TaskStateExited Ship',
      '15 14 ExecutionSucceeded',
    ]);
  });

  it('pins a failed execution whose callback failure was caught and compensated', async () => {
    const { events, description } = await run('rejected', { flow: 'ship', reject: true });
    expect(description).toMatchObject({ status: 'FAILED', error: 'JobCancelled' });
    expect(events).toEqual([
      '1 0 ExecutionStarted',
      '2 0 ChoiceStateEntered Choose',
      '3 2 ChoiceStateExited Choose',
      '4 3 TaskStateEntered Reserve',
      '5 4 LambdaFunctionScheduled reserve',
      '6 5 LambdaFunctionStarted',
      '7 6 LambdaFunctionSucceeded',
      '8 7 TaskStateExited Reserve',
      '9 8 TaskStateEntered Ship',
      `10 9 TaskScheduled ${SHIP}`,
      `11 10 TaskStarted ${SHIP}`,
      `12 11 TaskSubmitted ${SHIP}`,
      `13 12 TaskFailed ${SHIP} ShippingRejected`,
      // Caught: the state exits (no event of the catch itself), and the next state follows.
      '14 13 TaskStateExited Ship',
      '15 14 TaskStateEntered Release',
      '16 15 LambdaFunctionScheduled release',
      '17 16 LambdaFunctionStarted',
      '18 17 LambdaFunctionSucceeded',
      '19 18 TaskStateExited Release',
      '20 19 FailStateEntered Cancelled',
      '21 20 ExecutionFailed JobCancelled',
    ]);
  });

  it('ends a stopped execution with ExecutionAborted: the task cut short is not failed, retried nor caught', async () => {
    calls.length = 0;
    const { events, description } = await run('stopped', { flow: 'stop' }, async (executionArn) => {
      await vi.waitFor(() => expect(calls).toEqual(['Hold']));
      await sfn.send(new StopExecutionCommand({ executionArn, error: 'OperatorAction', cause: 'by test' }));
    });
    expect(description).toMatchObject({ status: 'ABORTED', error: 'OperatorAction' });
    expect(events).toEqual([
      '1 0 ExecutionStarted',
      '2 0 ChoiceStateEntered Choose',
      '3 2 ChoiceStateExited Choose',
      '4 3 TaskStateEntered Hold',
      '5 4 LambdaFunctionScheduled hold',
      '6 5 LambdaFunctionStarted',
      '7 0 ExecutionAborted OperatorAction',
    ]);
    expect(calls).toEqual(['Hold']);
  });

  it('records a state timeout as LambdaFunctionTimedOut, and nothing of the call it abandoned', async () => {
    const { events, description } = await run('timed-out', { flow: 'timeout' });
    expect(description).toMatchObject({ status: 'FAILED', error: 'JobCancelled' });
    expect(events).toEqual([
      '1 0 ExecutionStarted',
      '2 0 ChoiceStateEntered Choose',
      '3 2 ChoiceStateExited Choose',
      '4 3 TaskStateEntered Slow',
      '5 4 LambdaFunctionScheduled hold',
      '6 5 LambdaFunctionStarted',
      '7 6 LambdaFunctionTimedOut States.Timeout',
      '8 7 TaskStateExited Slow',
      '9 8 FailStateEntered Cancelled',
      '10 9 ExecutionFailed JobCancelled',
    ]);
  });
});

describe('DescribeStateMachine of the local API', () => {
  it('answers the definition as written (unscaled), so a suite can derive its cases from what runs', async () => {
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: machineArn }));
    const definition = JSON.parse(described.definition ?? '{}') as {
      States: Record<string, { TimeoutSeconds?: number }>;
    };
    expect(described.stateMachineArn).toBe(machineArn);
    expect(Object.keys(definition.States)).toContain('Ship');
    expect(definition.States.Slow?.TimeoutSeconds).toBe(10);
    await expect(
      sfn.send(new DescribeStateMachineCommand({ stateMachineArn: `${machineArn}-missing` })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });
});
