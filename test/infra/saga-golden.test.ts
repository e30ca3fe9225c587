import { Duration, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { Saga, type SagaTaskFactory, type SagaTaskOptions } from '../../lib/saga/saga.js';
import { definitionOf, testApp } from './synth.js';

/** A task that calls nothing: the golden definition shows what the Saga construct adds around any task. */
class FakeTask extends sfn.TaskStateBase {
  protected readonly taskMetrics = undefined;
  protected readonly taskPolicies = undefined;

  constructor(
    scope: Construct,
    private readonly options: SagaTaskOptions,
  ) {
    super(scope, options.stateName, {
      resultPath: options.resultPath,
      taskTimeout: sfn.Timeout.duration(options.timeout),
    });
  }

  protected _renderTask(): unknown {
    return { Resource: `fake:${this.options.stateName}`, Parameters: this.options.payload.value };
  }
}

const fake: SagaTaskFactory = (scope, options) => new FakeTask(scope, options);

function twoStepSaga(): Stack {
  const stack = new Stack(testApp(), 'Golden');
  new Saga(stack, 'Saga', {
    steps: [
      {
        name: 'Book',
        task: fake,
        timeout: Duration.seconds(5),
        compensation: { name: 'Unbook', task: fake },
      },
      { name: 'Pay', task: fake, pivot: true, compensation: { name: 'Refund', task: fake } },
    ],
    succeededStateName: 'Done',
    finalCompensation: { name: 'Close', task: fake },
    cancelledStateName: 'Undone',
    escalation: { name: 'Page', task: fake },
    escalatedStateName: 'Escalated',
    timeout: Duration.minutes(10),
  });
  return stack;
}

const forwardRetry = {
  ErrorEquals: [
    'SQS.SdkClientException',
    'SQS.AmazonSQSException',
    'Lambda.ServiceException',
    'Lambda.AWSLambdaException',
    'Lambda.SdkClientException',
    'Lambda.TooManyRequestsException',
    'Lambda.Unknown',
    'Lambda.ClientExecutionTimeoutException',
    'Sandbox.Timedout',
    'TransientError',
  ],
  IntervalSeconds: 1,
  MaxAttempts: 3,
  BackoffRate: 2,
  MaxDelaySeconds: 10,
  JitterStrategy: 'FULL',
};
const contentionRetry = {
  ErrorEquals: ['WriteConflict'],
  IntervalSeconds: 1,
  MaxAttempts: 10,
  BackoffRate: 1.5,
  MaxDelaySeconds: 5,
  JitterStrategy: 'FULL',
};
const compensationRetry = {
  ErrorEquals: ['States.ALL'],
  IntervalSeconds: 2,
  MaxAttempts: 8,
  BackoffRate: 2,
  MaxDelaySeconds: 60,
  JitterStrategy: 'FULL',
};
const escalationRetry = { ...compensationRetry, ErrorEquals: forwardRetry.ErrorEquals };
const compensation = (name: string, next: string) => ({
  Type: 'Task',
  Resource: `fake:${name}`,
  Parameters: { 'input.$': '$' },
  ResultPath: null,
  TimeoutSeconds: 30,
  Retry: [compensationRetry],
  Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: `$.failures.${name}`, Next: 'Page' }],
  Next: next,
});

describe('a two-step saga, rendered whole (golden)', () => {
  it('is exactly the forward chain, the catches into the reverse compensations, and the escalation', () => {
    const definition = definitionOf(twoStepSaga());
    // fromJsonPathAt('$') renders as a whole-input reference; normalize that one shape for the comparison.
    const normalized = JSON.parse(
      JSON.stringify(definition).replaceAll('"Parameters":"$"', '"Parameters":{"input.$":"$"}'),
    );

    expect(normalized).toEqual({
      StartAt: 'Book',
      States: {
        Book: {
          Type: 'Task',
          Resource: 'fake:Book',
          Parameters: { 'input.$': '$' },
          ResultPath: '$.results.Book',
          TimeoutSeconds: 5,
          Retry: [contentionRetry, forwardRetry],
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failures.Book', Next: 'Unbook' }],
          Next: 'Pay',
        },
        Pay: {
          Type: 'Task',
          Resource: 'fake:Pay',
          Parameters: { 'input.$': '$' },
          ResultPath: '$.results.Pay',
          TimeoutSeconds: 30,
          Retry: [contentionRetry, forwardRetry],
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failures.Pay', Next: 'Refund' }],
          Next: 'Done',
        },
        Done: { Type: 'Succeed' },
        Refund: compensation('Refund', 'Unbook'),
        Unbook: compensation('Unbook', 'Close'),
        Close: compensation('Close', 'Undone'),
        Undone: { Type: 'Fail', Error: 'Undone', Cause: 'Every completed step was compensated' },
        Page: {
          Type: 'Task',
          Resource: 'fake:Page',
          Parameters: { 'input.$': '$' },
          ResultPath: null,
          TimeoutSeconds: 30,
          Retry: [contentionRetry, escalationRetry],
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failures.Page', Next: 'Escalated' }],
          Next: 'Escalated',
        },
        Escalated: {
          Type: 'Fail',
          Error: 'Escalated',
          Cause: 'A step could neither complete nor be compensated after all retries; a person must act',
        },
      },
      TimeoutSeconds: 600,
      QueryLanguage: 'JSONPath',
    });
  });

  it('builds no completion machine when nothing follows the pivot, and an unwind of every compensation', () => {
    const stack = twoStepSaga();
    expect(() => definitionOf(stack, 'CompletionStateMachine')).toThrow(
      /Expected one CompletionStateMachine, found 0/,
    );
    const unwind = definitionOf(stack, 'UnwindStateMachine');
    expect(unwind.StartAt).toBe('Refund');
    expect(unwind.States.Refund?.Next).toBe('Unbook');
  });
});
