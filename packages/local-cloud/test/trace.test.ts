import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalRestApi } from '../src/api-gateway.js';
import { eventSourceMappingsFromTemplate } from '../src/event-sources.js';
import { FaultRegistry } from '../src/faults.js';
import { FaultInjectingInvoker } from '../src/invoker.js';
import type { LambdaFunctionConfig, LambdaRunner } from '../src/lambda-runner.js';
import { type SqsLocal, startSqsLocal } from '../src/sqs.js';
import {
  createLocalStateMachine,
  type LambdaInvoker,
  TaskFailure,
  TaskTokenRegistry,
} from '../src/stepfunctions-engine.js';
import {
  type CfnTemplate,
  constructIdOf,
  createResolveContext,
  physicalNames,
  withAttributes,
} from '../src/template.js';
import { createTracer, traceExecutions } from '../src/trace.js';
import { jobIdOf } from './correlation.js';

/** A tracer writing into an array; lines without their time, trailing durations as <n>ms. */
function captured(duplicateWindowMs = 30) {
  const lines: string[] = [];
  const tracer = createTracer((line) => lines.push(line), false, {
    duplicateWindowMs,
    correlationIdOf: jobIdOf,
  });
  const read = () =>
    lines.map((line) =>
      line
        .slice('14:21:54.231 '.length)
        .replace(/ \d+ms$/, ' <n>ms')
        .replace(/ {2,}/g, ' '),
    );
  return { tracer, lines, read };
}

const region = 'us-east-1';
const account = '000000000000';
const fn = (name: string) => `arn:aws:lambda:${region}:${account}:function:${name}`;

describe('the trace line', () => {
  it('aligns time, correlation id, what and outcome in columns, with the duration last', () => {
    const { tracer, lines } = captured();
    tracer.stateEnded('job_8c1e9f629da1c7094666836e6c4c2380', 'ReserveInventory', {}, 280.4);
    tracer.stateEnded(undefined, 'ChargePayment', { error: 'States.Timeout' }, 2000);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} job_8c1e9f629da1c7094666836e6c4c2380 ReserveInventory {9}ok 280ms$/,
    );
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} - {36}ChargePayment {12}States\.Timeout 2000ms$/);
  });

  it('names the error of a failed state with the readable part of its cause', () => {
    const { tracer, read } = captured();
    tracer.stateEnded(
      'o-1',
      'CreateShipment',
      { error: 'ShippingRejected', cause: 'We do not ship to BR' },
      25,
    );
    tracer.stateEnded(
      'o-1',
      'ChargePayment',
      {
        error: 'InsufficientFunds',
        cause: JSON.stringify({ errorType: 'InsufficientFunds', errorMessage: 'Balance 0', trace: ['at x'] }),
      },
      190,
    );
    expect(read()).toEqual([
      'o-1 CreateShipment ShippingRejected: We do not ship to BR <n>ms',
      'o-1 ChargePayment InsufficientFunds: Balance 0 <n>ms',
    ]);
  });

  it('shows an API request by method, route, status and correlation id', () => {
    const { tracer, read } = captured();
    tracer.api({ correlationId: 'job_1', method: 'POST', path: '/jobs', status: 202, ms: 12 });
    tracer.api({
      correlationId: 'job_1',
      method: 'GET',
      path: '/jobs/{jobId}',
      status: 502,
      ms: 3,
      error: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 3.00 seconds' },
    });
    expect(read()).toEqual([
      'job_1 POST /jobs 202 <n>ms',
      'job_1 GET /jobs/{jobId} 502 Sandbox.Timedout: Task timed out after 3.00 seconds <n>ms',
    ]);
  });
});

describe('handler logs in the trace', () => {
  const stepFailed = JSON.stringify({
    level: 'warn',
    message: 'step failed',
    step: 'ChargePayment',
    jobId: 'o-1',
    errorType: 'InsufficientFunds',
    errorMessage: 'Balance 0',
  });

  it('prints a warning or an error once, formatted, never the raw JSON line', async () => {
    const { tracer, read, lines } = captured();
    tracer.handlerLog(
      'ShippingWorker',
      JSON.stringify({ level: 'info', message: 'step succeeded', jobId: 'o-1' }),
    );
    tracer.handlerLog('ShippingWorker', 'not JSON at all');
    tracer.handlerLog(
      'ShippingWorker',
      JSON.stringify({
        level: 'warn',
        message: 'the saga no longer waits for this shipment',
        jobId: 'o-1',
      }),
    );
    tracer.handlerLog(
      'MarkNeedsAttention',
      JSON.stringify({
        level: 'error',
        message: 'saga needs a person',
        jobId: 'o-2',
        status: 'NEEDS_ATTENTION',
      }),
    );
    // An error nothing else reported: printed once the window has passed.
    tracer.handlerLog(
      'OutboxRelay',
      JSON.stringify({ level: 'error', message: 'relay failed', errorType: 'Boom' }),
    );
    await vi.waitFor(() => expect(lines).toHaveLength(3));
    expect(read()).toEqual([
      'o-1 ShippingWorker warn: the saga no longer waits for this shipment',
      'o-2 MarkNeedsAttention error: saga needs a person',
      '- OutboxRelay error: relay failed (Boom)',
    ]);
    expect(lines.some((line) => line.includes('{'))).toBe(false);
  });

  it('leaves out a log of the error the state line reports, whichever of the two comes first', async () => {
    const { tracer, read } = captured();
    const failure = {
      error: 'InsufficientFunds',
      cause: JSON.stringify({ errorType: 'InsufficientFunds', errorMessage: 'Balance 0', trace: [] }),
    };
    // The log usually arrives before the function's result...
    tracer.handlerLog('ChargePayment', stepFailed);
    tracer.stateEnded('o-1', 'ChargePayment', failure, 5);
    // ...and sometimes after it.
    tracer.stateEnded('o-1', 'ChargePayment', failure, 5);
    tracer.handlerLog('ChargePayment', stepFailed);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(read()).toEqual([
      'o-1 ChargePayment InsufficientFunds: Balance 0 <n>ms',
      'o-1 ChargePayment InsufficientFunds: Balance 0 <n>ms',
    ]);
  });
});

describe('the trace of an execution', () => {
  const taskTokens = new TaskTokenRegistry();
  const { tracer, read } = captured();
  let lineCountWhenReleaseRan = -1;
  const lambda: LambdaInvoker = {
    async invoke(name, _payload, task) {
      if (name === fn('release')) lineCountWhenReleaseRan = read().length;
      if (name === fn('hold')) {
        await new Promise((resolve) => task?.signal.addEventListener('abort', resolve, { once: true }));
      }
      if (name === fn('charge')) {
        return { ok: false, error: { errorType: 'TransientError', errorMessage: 'try again' } };
      }
      return { ok: true, payload: {} };
    },
  };

  it('has a line per state as it ends, callback states and the error that failed them included', async () => {
    const machine = await createLocalStateMachine({
      stateMachineArn: `arn:aws:states:${region}:${account}:stateMachine:traced`,
      timeScale: 0.01,
      lambda,
      taskTokens,
      onHistoryEvent: traceExecutions(tracer, 'JobFlow'),
      taskHandlers: {
        // The shipping worker: turns job_1 down; never answers for the other jobs.
        Ship: (task) => {
          const { taskToken = '' } = task;
          if (JSON.stringify(task.input).includes('job_1')) {
            setTimeout(
              () => taskTokens.sendTaskFailure(taskToken, 'ShippingRejected', 'We do not ship to BR'),
              10,
            );
          }
          return {};
        },
      },
      definition: {
        StartAt: 'Reserve',
        States: {
          Reserve: { Type: 'Task', Resource: fn('reserve'), ResultPath: null, Next: 'Charge' },
          // Retried once, then caught.
          Charge: {
            Type: 'Task',
            Resource: fn('charge'),
            Retry: [{ ErrorEquals: ['TransientError'], IntervalSeconds: 1, MaxAttempts: 1 }],
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: 'Slow' }],
            Next: 'Ship',
          },
          Slow: {
            Type: 'Task',
            Resource: fn('hold'),
            TimeoutSeconds: 5,
            Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: null, Next: 'Ship' }],
            End: true,
          },
          Ship: {
            Type: 'Task',
            Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
            Parameters: {
              QueueUrl: 'http://sqs.local/q',
              MessageBody: { 'token.$': '$$.Task.Token', 'jobId.$': '$.jobId' },
            },
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: 'Pause' }],
            End: true,
          },
          Pause: { Type: 'Pass', Next: 'Release' },
          Release: { Type: 'Task', Resource: fn('release'), Next: 'Cancelled' },
          Cancelled: { Type: 'Fail', Error: 'JobCancelled', Cause: 'compensated' },
        },
      },
    });
    const execution = machine.start({ jobId: 'job_1' }, { name: 'job_1' });
    await execution.result;
    expect(read()).toEqual([
      'job_1 JobFlow started',
      'job_1 Reserve ok <n>ms',
      'job_1 Charge TransientError: try again <n>ms',
      'job_1 Charge TransientError: try again <n>ms',
      'job_1 Slow States.Timeout <n>ms',
      'job_1 Ship ShippingRejected: We do not ship to BR <n>ms',
      'job_1 Pause ok <n>ms',
      'job_1 Release ok <n>ms',
      'job_1 JobFlow FAILED Cancelled JobCancelled <n>ms',
    ]);
    // Printed when it happens: the callback state's line was out before the next function ran.
    expect(lineCountWhenReleaseRan).toBe(7);

    // A stopped execution: the state cut short has no line; the execution's says where it stopped and why.
    const stopped = machine.start({ jobId: 'job_2' }, { name: 'job_2' });
    await vi.waitFor(() => expect(stopped.history.at(-1)?.type).toBe('TaskSubmitted'));
    stopped.stop('OperatorAction', 'by test');
    await stopped.result;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(read().filter((line) => line.startsWith('job_2'))).toEqual([
      'job_2 JobFlow started',
      'job_2 Reserve ok <n>ms',
      'job_2 Charge TransientError: try again <n>ms',
      'job_2 Charge TransientError: try again <n>ms',
      'job_2 Slow States.Timeout <n>ms',
      'job_2 JobFlow ABORTED Ship OperatorAction <n>ms',
    ]);
  });

  it('says which execution it is when the input names no job', async () => {
    const { tracer: own, read: ownLines } = captured();
    const machine = await createLocalStateMachine({
      stateMachineArn: `arn:aws:states:${region}:${account}:stateMachine:anonymous`,
      onHistoryEvent: traceExecutions(own, 'Nightly'),
      taskHandlers: {
        Work: () => {
          throw new TaskFailure('Boom', 'bad');
        },
      },
      definition: {
        StartAt: 'Work',
        States: { Work: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:putItem', End: true } },
      },
    });
    await machine.start({}, { name: 'run-1' }).result;
    expect(ownLines()).toEqual([
      '- Nightly started (execution run-1)',
      '- Work Boom: bad <n>ms',
      '- Nightly FAILED Work Boom <n>ms',
    ]);
  });
});

describe('short names', () => {
  const template: CfnTemplate = {
    Resources: {
      Worker: {
        Type: 'AWS::Lambda::Function',
        Properties: { FunctionName: 'JobFlow-ShippingShippingWorker98C63055' },
        Metadata: { 'aws:cdk:path': 'JobFlow/Shipping/ShippingWorker/Resource' },
      },
      Requests: {
        Type: 'AWS::SQS::Queue',
        Properties: { QueueName: 'JobFlow-shipping-requests' },
        Metadata: { 'aws:cdk:path': 'JobFlow/Shipping/Requests/Queue/Resource' },
      },
      ShippingShippingWorkerSqsEventSourceJobFlowShippingRequestsQueueB3101F85F34B8E37: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          FunctionName: { Ref: 'Worker' },
          EventSourceArn: { 'Fn::GetAtt': ['Requests', 'Arn'] },
        },
        Metadata: {
          'aws:cdk:path':
            'JobFlow/Shipping/ShippingWorker/SqsEventSource:JobFlowShippingRequestsQueueB3101F85/Resource',
        },
      },
      Saga: {
        Type: 'AWS::StepFunctions::StateMachine',
        Metadata: { 'aws:cdk:path': 'JobFlow/JobFlow/StateMachine/Resource' },
      },
      Unwind: {
        Type: 'AWS::StepFunctions::StateMachine',
        Metadata: { 'aws:cdk:path': 'JobFlow/JobFlow/UnwindStateMachine/Resource' },
      },
    },
  };

  it('calls resources by construct id and event source mappings by their function', () => {
    expect(constructIdOf(template, 'Worker')).toBe('ShippingWorker');
    expect(constructIdOf(template, 'Saga')).toBe('JobFlow');
    expect(constructIdOf(template, 'Unwind')).toBe('UnwindStateMachine');
    expect(constructIdOf(template, 'Nowhere')).toBe('Nowhere');
    const names = physicalNames(template, { stackName: 'JobFlow' });
    const ctx = createResolveContext(withAttributes(names, {}), { stackName: 'JobFlow', template });
    const [mapping] = eventSourceMappingsFromTemplate(template, ctx);
    expect(mapping).toMatchObject({ label: 'ShippingWorker', sourceName: 'JobFlow-shipping-requests' });
  });

  it('traces event source and schedule invocations by construct id, Step Functions tasks by state only', async () => {
    const config: LambdaFunctionConfig = {
      functionName: 'JobFlow-ShippingShippingWorker98C63055',
      functionArn: fn('JobFlow-ShippingShippingWorker98C63055'),
      logicalId: 'ShippingShippingWorker98C63055',
      bundleDir: '/nowhere',
      handler: 'index.handler',
      environment: {},
      timeoutSeconds: 3,
      memoryMb: 128,
    };
    const runner = {
      functions: () => [config],
      invoke: async () => ({
        ok: true,
        payload: null,
        functionName: config.functionName,
        requestId: 'r',
        durationMs: 1,
      }),
    } as unknown as LambdaRunner;
    const { tracer, read } = captured();
    const invoker = new FaultInjectingInvoker(
      runner,
      new FaultRegistry(),
      tracer,
      1,
      new Map([[config.functionName, 'ShippingWorker']]),
    );
    const body = JSON.stringify({ request: { jobId: 'job_3' } });
    await invoker.invoke(config.functionName, { Records: [{ body }] });
    await invoker.untraced().invoke(config.functionName, { pathParameters: { jobId: 'job_3' } });
    await invoker.invoke(
      config.functionArn,
      { jobId: 'job_3' },
      {
        stateName: 'CreateShipment',
        resource: config.functionArn,
        input: {},
        executionArn: 'arn',
        executionName: 'job_3',
        signal: new AbortController().signal,
      },
    );
    expect(read()).toEqual(['job_3 ShippingWorker ok <n>ms']);
  });
});

describe('the REST API in the trace', () => {
  const uri = `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${fn('api')}/invocations`;
  const method = (httpMethod: string, resource: string) => ({
    Type: 'AWS::ApiGateway::Method',
    Properties: {
      HttpMethod: httpMethod,
      ResourceId: { Ref: resource },
      Integration: { Type: 'AWS_PROXY', Uri: uri },
    },
  });
  const template: CfnTemplate = {
    Resources: {
      Jobs: {
        Type: 'AWS::ApiGateway::Resource',
        Properties: { ParentId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] }, PathPart: 'jobs' },
      },
      Job: {
        Type: 'AWS::ApiGateway::Resource',
        Properties: { ParentId: { Ref: 'Jobs' }, PathPart: '{jobId}' },
      },
      Post: method('POST', 'Jobs'),
      Get: method('GET', 'Job'),
    },
  };

  it('reports method, route, status and the job from the path or the response', async () => {
    const { tracer, read } = captured();
    const invoker: LambdaInvoker = {
      async invoke(_name, payload) {
        const event = payload as { httpMethod: string; pathParameters: { jobId: string } | null };
        if (event.pathParameters?.jobId === 'job_broken') {
          return { ok: false, error: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out' } };
        }
        return {
          ok: true,
          payload:
            event.httpMethod === 'POST'
              ? { statusCode: 202, body: JSON.stringify({ jobId: 'job_new', status: 'PENDING' }) }
              : { statusCode: 200, body: JSON.stringify({ jobId: event.pathParameters?.jobId }) },
        };
      },
    };
    const names = physicalNames(template, { stackName: 'JobFlow' });
    const ctx = createResolveContext(names, { stackName: 'JobFlow', template });
    const api = new LocalRestApi(template, ctx, invoker, {
      onResponse: tracer.api,
      correlationIdOf: jobIdOf,
    });
    const request = (httpMethod: string, url: string) =>
      api.handle({ method: httpMethod, url, headers: {}, body: httpMethod === 'POST' ? '{}' : '' });
    expect((await request('POST', '/jobs')).status).toBe(202);
    expect((await request('GET', '/jobs/job_old')).status).toBe(200);
    expect((await request('GET', '/jobs/job_broken')).status).toBe(502);
    expect((await request('DELETE', '/nothing/here')).status).toBe(403);
    expect(read()).toEqual([
      'job_new POST /jobs 202 <n>ms',
      'job_old GET /jobs/{jobId} 200 <n>ms',
      'job_broken GET /jobs/{jobId} 502 Sandbox.Timedout: Task timed out <n>ms',
      '- DELETE /nothing/here 403 <n>ms',
    ]);
  });
});

describe('moves to a dead-letter queue in the trace', () => {
  let sqs: SqsLocal;

  beforeAll(async () => {
    sqs = await startSqsLocal();
  });

  afterAll(async () => {
    await sqs?.stop();
  });

  it('are reported by the SQS emulator as they happen, with the message they moved', async () => {
    const { tracer, read } = captured();
    const moves: string[] = [];
    const unsubscribe = sqs.onDeadLetter((moved) => {
      moves.push(moved.queueName);
      tracer.deadLetter('job_4', moved.queueName, 'work-dlq', 1);
    });
    const { QueueUrl: dlqUrl = '' } = await sqs.client.send(
      new CreateQueueCommand({ QueueName: 'work-dlq' }),
    );
    const { Attributes } = await sqs.client.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
    );
    const { QueueUrl: queueUrl = '' } = await sqs.client.send(
      new CreateQueueCommand({
        QueueName: 'work',
        Attributes: {
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount: 1 }),
        },
      }),
    );
    await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"jobId":"job_4"}' }));
    // Received once and not deleted; the next receive moves it.
    for (let receive = 0; receive < 2; receive += 1) {
      await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 0 }));
    }
    await vi.waitFor(() => expect(moves).toEqual(['work']));
    expect(read()).toEqual(['job_4 work moved to work-dlq after 1 receive(s)']);
    unsubscribe();
  });
});
