import type { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

export interface SagaTaskOptions {
  readonly stateName: string;
  readonly timeout: Duration;
  readonly heartbeat?: Duration;
  readonly payload: sfn.TaskInput;
  readonly resultPath: string;
}

/** Builds the Task state for a step; lets a step be a Lambda call, an SQS callback, or any other task. */
export type SagaTaskFactory = (scope: Construct, options: SagaTaskOptions) => sfn.TaskStateBase;

/**
 * A Lambda step whose result is the function's returned payload. The machine's role may invoke the
 * function and its versions and aliases (`<arn>:*`), as LambdaInvoke grants.
 */
export function invokeFunction(fn: lambda.IFunction): SagaTaskFactory {
  return (scope, options) =>
    new tasks.LambdaInvoke(scope, options.stateName, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      payload: withAttempt(options.payload),
      resultPath: options.resultPath,
      taskTimeout: sfn.Timeout.duration(options.timeout),
      // The saga sets its own Retry, with jitter and the function-timeout errors CDK's default misses.
      retryOnServiceExceptions: false,
    });
}

/**
 * The state's retry count rides along as `attempt`, so every log line of the step says which try it is. Only an
 * object payload can take a field; a payload that is a path (the whole state) is passed as it is.
 */
function withAttempt(payload: sfn.TaskInput): sfn.TaskInput {
  if (payload.type !== sfn.InputType.OBJECT) return payload;
  return sfn.TaskInput.fromObject({
    ...(payload.value as Record<string, unknown>),
    attempt: sfn.JsonPath.numberAt('$$.State.RetryCount'),
  });
}

/**
 * A callback step: sends the payload with a task token to a queue and waits until a worker answers with
 * SendTaskSuccess or SendTaskFailure. The message is `{ taskToken, request: <payload> }`. Give the step a
 * heartbeat so a request nobody picks up fails fast instead of holding the saga until its timeout.
 */
export function sendToQueueAndWait(queue: sqs.IQueue): SagaTaskFactory {
  return (scope, options) =>
    new tasks.SqsSendMessage(scope, options.stateName, {
      queue,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      messageBody: sfn.TaskInput.fromObject({
        taskToken: sfn.JsonPath.taskToken,
        request: options.payload.value,
      }),
      resultPath: options.resultPath,
      taskTimeout: sfn.Timeout.duration(options.timeout),
      ...(options.heartbeat ? { heartbeatTimeout: sfn.Timeout.duration(options.heartbeat) } : {}),
    });
}
