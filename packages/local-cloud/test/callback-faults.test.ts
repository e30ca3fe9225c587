import { CreateQueueCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withCallbackFaults } from '../src/callback-faults.js';
import { taskFaultTargets } from '../src/cloud/state-machines.js';
import { CALLBACK_FAULT_MODES, FaultRegistry, LAMBDA_FAULT_MODES } from '../src/faults.js';
import { type SqsLocal, startSqsLocal } from '../src/sqs.js';
import {
  createLocalStateMachine,
  sqsSendMessageIntegration,
  TaskTokenRegistry,
} from '../src/stepfunctions-engine.js';
import { createTracer } from '../src/trace.js';
import { jobIdOf } from './correlation.js';

// Shaped like the app's CreateShipment: the message is { taskToken, request }; a worker answers the token.
function definition(queueUrl: string): Record<string, unknown> {
  return {
    StartAt: 'CreateShipment',
    States: {
      CreateShipment: {
        Type: 'Task',
        Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
        Parameters: { QueueUrl: queueUrl, MessageBody: { 'taskToken.$': '$$.Task.Token', 'request.$': '$' } },
        // 0.5 s and 1 s at TIME_SCALE.
        HeartbeatSeconds: 10,
        TimeoutSeconds: 20,
        End: true,
      },
    },
  };
}
const TIME_SCALE = 0.05;

describe('faults at an SQS callback state', () => {
  let sqs: SqsLocal;
  const taskTokens = new TaskTokenRegistry();
  const faults = new FaultRegistry({ correlationField: 'jobId' });
  const trace: string[] = [];
  const tracer = createTracer((line) => trace.push(line), false, { correlationIdOf: jobIdOf });

  beforeAll(async () => {
    sqs = await startSqsLocal();
    faults.addTargets(taskFaultTargets(definition('')));
  });

  afterAll(async () => {
    await sqs?.stop();
  });

  /** A machine on a queue of its own, so no test sees another's messages. */
  async function callbackMachine(queueName: string) {
    const created = await sqs.client.send(new CreateQueueCommand({ QueueName: queueName }));
    const queueUrl = created.QueueUrl ?? '';
    const machine = await createLocalStateMachine({
      definition: definition(queueUrl),
      stateMachineArn: `arn:aws:states:us-east-1:000000000000:stateMachine:${queueName}`,
      timeScale: TIME_SCALE,
      integrations: {
        'arn:aws:states:::sqs:sendMessage': withCallbackFaults(sqsSendMessageIntegration(sqs.client), {
          faults,
          tracer,
          taskTokens,
        }),
      },
      taskTokens,
    });
    /** What a worker polling the queue for `waitSeconds` receives: the tokens of the messages. */
    const receive = async (waitSeconds: number, atLeast = 1): Promise<string[]> => {
      const messages: Message[] = [];
      const until = Date.now() + waitSeconds * 1000;
      do {
        const response = await sqs.client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: Math.min(1, waitSeconds),
          }),
        );
        messages.push(...(response.Messages ?? []));
      } while (messages.length < atLeast && Date.now() < until);
      return messages.map((message) => (JSON.parse(message.Body ?? '{}') as { taskToken: string }).taskToken);
    };
    return { machine, receive };
  }

  const historyOf = (execution: { history: { type: string; stateName?: string }[] }) =>
    execution.history.map((event) => event.type);

  it('catalogues the callback state with the callback modes and Lambda states with the Lambda ones', () => {
    const mixed = {
      StartAt: 'Reserve',
      States: {
        Reserve: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: 'reserve' },
          Next: 'Both',
        },
        Both: {
          Type: 'Parallel',
          Branches: [
            {
              StartAt: 'Charge',
              States: {
                Charge: {
                  Type: 'Task',
                  Resource: 'arn:aws:lambda:us-east-1:000000000000:function:c',
                  End: true,
                },
              },
            },
            definition('q'),
          ],
          Next: 'Notify',
        },
        Notify: {
          Type: 'Task',
          Resource: 'arn:aws:states:::sqs:sendMessage',
          Parameters: { QueueUrl: 'q', MessageBody: 'x' },
          End: true,
        },
      },
    };
    expect(taskFaultTargets(mixed)).toEqual([
      { target: 'Reserve', modes: LAMBDA_FAULT_MODES },
      { target: 'Charge', modes: LAMBDA_FAULT_MODES },
      { target: 'CreateShipment', modes: CALLBACK_FAULT_MODES },
    ]);
    expect(() => faults.add({ target: 'CreateShipment', mode: 'transient', count: 1 })).toThrow(
      expect.objectContaining({ validModes: [...CALLBACK_FAULT_MODES] }),
    );
  });

  it('timeout: the message never reaches a worker, so the heartbeat fires', async () => {
    const { machine, receive } = await callbackMachine('callback-timeout');
    faults.add({ target: 'CreateShipment', mode: 'timeout', count: 1, jobId: 'j-timeout' });
    const execution = machine.start({ jobId: 'j-timeout' });
    expect(await receive(1)).toEqual([]);
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'States.HeartbeatTimeout' });
    expect(historyOf(execution)).toContain('TaskSubmitted');
    expect(trace.some((line) => line.includes('j-timeout') && line.includes('fault injected: timeout'))).toBe(
      true,
    );
  });

  it('lost-response: the worker runs and hears success, but the execution never does', async () => {
    const { machine, receive } = await callbackMachine('callback-lost');
    faults.add({ target: 'CreateShipment', mode: 'lost-response', count: 1, jobId: 'j-lost' });
    const execution = machine.start({ jobId: 'j-lost' });
    const [token] = await receive(2);
    expect(token).toBeDefined();
    expect(() => taskTokens.sendTaskSuccess(token ?? '', { shipped: true })).not.toThrow();
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'States.HeartbeatTimeout' });
    expect(historyOf(execution)).not.toContain('TaskSucceeded');
  });

  it('error: the message is not delivered and the task fails with InjectedError, as from SendTaskFailure', async () => {
    const { machine, receive } = await callbackMachine('callback-error');
    faults.add({ target: 'CreateShipment', mode: 'error', count: 1, jobId: 'j-error' });
    const execution = machine.start({ jobId: 'j-error' });
    expect(await execution.result).toMatchObject({ status: 'FAILED', error: 'InjectedError' });
    expect(await receive(0)).toEqual([]);
    const types = historyOf(execution);
    // Submitted, then failed: the failure comes back on the token, as a worker's would.
    expect(types.indexOf('TaskSubmitted')).toBeGreaterThan(-1);
    expect(types.indexOf('TaskFailed')).toBeGreaterThan(types.indexOf('TaskSubmitted'));
  });

  it('duplicate-delivery: the message comes twice with one token; the second answer finds it completed', async () => {
    const { machine, receive } = await callbackMachine('callback-duplicate');
    faults.add({ target: 'CreateShipment', mode: 'duplicate-delivery', count: 1, jobId: 'j-dup' });
    const execution = machine.start({ jobId: 'j-dup' });
    const tokens = await receive(3, 2);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
    taskTokens.sendTaskSuccess(tokens[0] ?? '', { shipped: 1 });
    expect(() => taskTokens.sendTaskSuccess(tokens[1] ?? '', { shipped: 2 })).toThrow(
      expect.objectContaining({ name: 'TaskDoesNotExist' }),
    );
    expect(await execution.result).toMatchObject({ status: 'SUCCEEDED', output: { shipped: 1 } });
  });

  it('leaves the executions of other correlation ids alone', async () => {
    const { machine, receive } = await callbackMachine('callback-scoped');
    faults.add({ target: 'CreateShipment', mode: 'error', count: 1, jobId: 'j-someone-else' });
    const execution = machine.start({ jobId: 'j-scoped' });
    const [token] = await receive(2);
    taskTokens.sendTaskSuccess(token ?? '', { shipped: true });
    expect(await execution.result).toMatchObject({ status: 'SUCCEEDED' });
    expect(faults.list()).toMatchObject([{ jobId: 'j-someone-else', remaining: 1 }]);
  });
});
