import type { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { DataKey } from '../platform/data-key.js';

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
 * A Lambda step whose result is the function's returned payload. It invokes the version published with the
 * deploy that built the definition, so an execution (and its redrive) runs the code it started with, never
 * `$LATEST` under an old state.
 */
export function invokeFunction(fn: lambda.Function): SagaTaskFactory {
  return (scope, options) =>
    new InvokePublishedVersion(scope, options.stateName, {
      lambdaFunction: fn.currentVersion,
      payloadResponseOnly: true,
      payload: withAttempt(options.payload),
      resultPath: options.resultPath,
      taskTimeout: sfn.Timeout.duration(options.timeout),
      // The saga sets its own Retry, with jitter and the function-timeout errors CDK's default misses.
      retryOnServiceExceptions: false,
    });
}

/**
 * LambdaInvoke on a version grants that one version only. The next deploy would then take the grant away from
 * the executions still running the previous definition, which invokes the previous version: the machine's role
 * may invoke every version of the function (`<arn>` and `<arn>:*`), as a task on the function itself grants.
 */
class InvokePublishedVersion extends tasks.LambdaInvoke {
  protected override readonly taskPolicies: iam.PolicyStatement[];

  constructor(
    scope: Construct,
    id: string,
    props: tasks.LambdaInvokeProps & { lambdaFunction: lambda.IVersion },
  ) {
    super(scope, id, props);
    this.taskPolicies = [
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: props.lambdaFunction.lambda.resourceArnsForGrantInvoke,
      }),
    ];
  }
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

/** SqsSendMessage with string message attributes, which CDK's task does not take. */
class SqsSendMessageWithAttributes extends tasks.SqsSendMessage {
  constructor(
    scope: Construct,
    id: string,
    props: tasks.SqsSendMessageProps,
    private readonly attributePaths: Record<string, string>,
  ) {
    super(scope, id, props);
    // CDK grants the queue's key (GenerateDataKey* among it) in the machine's IAM policy. A data key takes no
    // use from IAM: the queue's trust names the machine in the key policy, so the statement would only widen.
    if (!(props.queue.encryptionMasterKey instanceof DataKey)) return;
    const keyStatements = (this.taskPolicies ?? []).filter((statement) =>
      statement.actions.every((action) => action.startsWith('kms:')),
    );
    for (const statement of keyStatements) this.taskPolicies?.splice(this.taskPolicies.indexOf(statement), 1);
  }

  // biome-ignore lint/suspicious/noExplicitAny: the base class renders the state as untyped JSON.
  protected override _renderTask(topLevelQueryLanguage?: sfn.QueryLanguage): any {
    const rendered = super._renderTask(topLevelQueryLanguage);
    const attributes = Object.entries(this.attributePaths);
    if (attributes.length === 0) return rendered;
    return {
      ...rendered,
      Parameters: {
        ...rendered.Parameters,
        MessageAttributes: Object.fromEntries(
          attributes.map(([name, path]) => [name, { DataType: 'String', 'StringValue.$': path }]),
        ),
      },
    };
  }
}

/**
 * A callback step: sends the payload with a task token to a queue and waits until a worker answers with
 * SendTaskSuccess or SendTaskFailure. The message is `{ taskToken, request: <payload> }`. Give the step a
 * heartbeat so a request nobody picks up fails fast instead of holding the saga until its timeout.
 * `messageAttributes` names string attributes by the JSONPath of their value in the saga's state (a trace id,
 * so the worker's lines and the queue's tooling see it without parsing the body).
 */
export function sendToQueueAndWait(
  queue: sqs.IQueue,
  messageAttributes: Record<string, string> = {},
): SagaTaskFactory {
  return (scope, options) =>
    new SqsSendMessageWithAttributes(
      scope,
      options.stateName,
      {
        queue,
        integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        messageBody: sfn.TaskInput.fromObject({
          taskToken: sfn.JsonPath.taskToken,
          request: options.payload.value,
        }),
        resultPath: options.resultPath,
        taskTimeout: sfn.Timeout.duration(options.timeout),
        ...(options.heartbeat ? { heartbeatTimeout: sfn.Timeout.duration(options.heartbeat) } : {}),
      },
      messageAttributes,
    );
}
