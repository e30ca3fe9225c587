import { Duration, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../platform/nag.js';

/**
 * Transient failures worth retrying: a callback step's SQS client errors, Lambda's own service and throttling errors, `Lambda.Unknown`
 * (function timeout or out of memory, which CDK's default retry misses), and the handlers'
 * `TransientError` (DynamoDB throttling and transaction conflicts are mapped to it).
 */
export const DEFAULT_TRANSIENT_ERRORS: readonly string[] = [
  'SQS.SdkClientException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
  'TransientError',
];

export interface SagaRetryPolicy {
  /** Attempts after the first. */
  readonly maxAttempts: number;
  readonly interval: Duration;
  readonly backoffRate: number;
  /** Caps the exponential growth so a long retry chain stays inside the saga's timeout. */
  readonly maxDelay: Duration;
}

/** Forward steps before the pivot: a few quick retries, then compensate. */
export const DEFAULT_FORWARD_RETRY: SagaRetryPolicy = {
  maxAttempts: 3,
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxDelay: Duration.seconds(10),
};

/** Steps after the pivot cannot be undone, so they are retried far longer before a person is called. */
export const DEFAULT_POST_PIVOT_RETRY: SagaRetryPolicy = {
  maxAttempts: 8,
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(60),
};

/** Compensations must eventually succeed: retried on every error, long, before escalation. */
export const DEFAULT_COMPENSATION_RETRY: SagaRetryPolicy = {
  maxAttempts: 8,
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(60),
};

export interface SagaTaskOptions {
  readonly stateName: string;
  readonly timeout: Duration;
  readonly heartbeat?: Duration;
  readonly payload: sfn.TaskInput;
  readonly resultPath: string;
}

/** Builds the Task state for a step; lets a step be a Lambda call, an SQS callback, or any other task. */
export type SagaTaskFactory = (scope: Construct, options: SagaTaskOptions) => sfn.TaskStateBase;

/** A Lambda step whose result is the function's returned payload. */
export function invokeFunction(fn: lambda.IFunction): SagaTaskFactory {
  return (scope, options) => {
    acknowledgeWildcardResource(
      scope,
      `${fn.functionArn}:*`,
      'LambdaInvoke grants the function and its own versions and aliases (Arn:*); no other function is reachable.',
    );
    return new tasks.LambdaInvoke(scope, options.stateName, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      payload: options.payload,
      resultPath: options.resultPath,
      taskTimeout: sfn.Timeout.duration(options.timeout),
      // The saga sets its own Retry, with jitter and the Lambda.Unknown case CDK's default misses.
      retryOnServiceExceptions: false,
    });
  };
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

export interface SagaTaskSpec {
  /** The state's name; dashboards, docs and tests refer to it. */
  readonly name: string;
  readonly task: SagaTaskFactory;
  /**
   * What the task receives.
   * @default the whole saga state
   */
  readonly payload?: sfn.TaskInput;
  /**
   * How long one attempt may take before it fails with States.Timeout.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * For callback tasks: the longest silence between heartbeats before States.HeartbeatTimeout.
   * @default no heartbeat
   */
  readonly heartbeat?: Duration;
}

export interface SagaStep extends SagaTaskSpec {
  /**
   * Undoes this step. Runs when this step or a later one (up to the pivot) fails, including when this step
   * itself failed, because it may have committed before failing. Omit for steps with nothing to undo.
   * @default no compensation
   */
  readonly compensation?: SagaTaskSpec;
  /**
   * Named business errors this step raises. They are never retried; the saga compensates (or escalates
   * after the pivot). Listed so the contract can state them and so synth rejects a retry policy naming them.
   * @default none
   */
  readonly businessErrors?: readonly string[];
  /**
   * Retry policy for transient errors.
   * @default DEFAULT_FORWARD_RETRY, or DEFAULT_POST_PIVOT_RETRY after the pivot
   */
  readonly retry?: SagaRetryPolicy;
  /**
   * The point of no return. A pivot failure still compensates; every step after it only goes forward.
   * @default false
   */
  readonly pivot?: boolean;
}

export interface SagaProps {
  /** Forward steps, in order. At most one is the pivot. */
  readonly steps: readonly SagaStep[];
  /** The Succeed state reached when every step succeeded. */
  readonly succeededStateName: string;
  /** Runs after every compensation, last (e.g. mark the order cancelled). */
  readonly finalCompensation: SagaTaskSpec;
  /** The Fail state that ends a fully compensated saga. */
  readonly cancelledStateName: string;
  /** Runs when a compensation, or a step after the pivot, exhausts its retries. */
  readonly escalation: SagaTaskSpec;
  /** The Fail state that ends an escalated saga. */
  readonly escalatedStateName: string;
  /**
   * The longest an execution may run; bounds every retry chain and the barrier rows' lifetime.
   * @default Duration.hours(1)
   */
  readonly timeout?: Duration;
  /**
   * Error names retried on forward steps.
   * @default DEFAULT_TRANSIENT_ERRORS
   */
  readonly transientErrors?: readonly string[];
  /**
   * Retry policy for compensations, the final compensation and the escalation.
   * @default DEFAULT_COMPENSATION_RETRY
   */
  readonly compensationRetry?: SagaRetryPolicy;
  /**
   * Where execution logs go.
   * @default a new log group kept for one month
   */
  readonly logGroup?: logs.ILogGroup;
}

const DEFAULT_TASK_TIMEOUT = Duration.seconds(30);

/** Where a step's result lands in the saga state. */
export function resultPathOf(stepName: string): string {
  return `$.results.${stepName}`;
}

/** Where a Catch records a failure; keyed by state so the first failure and later ones are all kept, in order. */
export function failurePathOf(stateName: string): string {
  return `$.failures.${stateName}`;
}

/**
 * A Standard-workflow saga built from an ordered list of steps. Each forward step retries transient
 * errors with exponential backoff and full jitter, never its business errors; its Catch enters the
 * compensation chain at its own compensation (it may have committed before failing) and the chain runs
 * the earlier compensations in exact reverse order, then the final compensation. Steps after the pivot
 * are retried forward and escalate instead of compensating. JSONPath only: no JSONata, no variables.
 */
export class Saga extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: SagaProps) {
    super(scope, id);
    validateSteps(props);
    this.timeout = props.timeout ?? Duration.hours(1);
    const transientErrors = [...(props.transientErrors ?? DEFAULT_TRANSIENT_ERRORS)];
    const compensationRetry = props.compensationRetry ?? DEFAULT_COMPENSATION_RETRY;

    const escalatedEnd = new sfn.Fail(this, props.escalatedStateName, {
      error: props.escalatedStateName,
      cause: 'A compensation or a step after the pivot failed after all retries; the order needs a person',
    });
    const escalation = this.buildTask(props.escalation, 'escalation');
    escalation.addRetry(retryProps(transientErrors, compensationRetry));
    escalation.addCatch(escalatedEnd, {
      errors: [sfn.Errors.ALL],
      resultPath: failurePathOf(props.escalation.name),
    });
    escalation.next(escalatedEnd);

    const compensate = (spec: SagaTaskSpec): sfn.TaskStateBase => {
      const task = this.buildTask(spec, 'compensation');
      task.addRetry(retryProps([sfn.Errors.ALL], compensationRetry));
      task.addCatch(escalation, { errors: [sfn.Errors.ALL], resultPath: failurePathOf(spec.name) });
      return task;
    };

    const cancelledEnd = new sfn.Fail(this, props.cancelledStateName, {
      error: props.cancelledStateName,
      cause: 'A step failed and every completed step was compensated',
    });
    const finalCompensation = compensate(props.finalCompensation);
    finalCompensation.next(cancelledEnd);

    // Chain compensations from the first step's up, so entering at step k's runs k, k-1, ..., 1, final.
    const pivotIndex = props.steps.findIndex((step) => step.pivot);
    const lastCompensableIndex = pivotIndex === -1 ? props.steps.length - 1 : pivotIndex;
    const compensationEntry: sfn.IChainable[] = [];
    let below: sfn.IChainable = finalCompensation;
    props.steps.forEach((step, index) => {
      if (step.compensation && index <= lastCompensableIndex) {
        below = compensate(step.compensation).next(below);
      }
      compensationEntry[index] = below;
    });

    const forward = props.steps.map((step, index) => {
      const afterPivot = pivotIndex !== -1 && index > pivotIndex;
      const task = this.buildTask(step, 'forward');
      const policy = step.retry ?? (afterPivot ? DEFAULT_POST_PIVOT_RETRY : DEFAULT_FORWARD_RETRY);
      // After the pivot the outcome of a timed-out attempt is unknown but only forward is allowed: try again.
      const retried = afterPivot ? [...transientErrors, sfn.Errors.TIMEOUT] : transientErrors;
      task.addRetry(retryProps(retried, policy));
      const onFailure = afterPivot ? escalation : compensationEntry[index];
      if (!onFailure) throw new Error(`No failure path for ${step.name}`);
      task.addCatch(onFailure, { errors: [sfn.Errors.ALL], resultPath: failurePathOf(step.name) });
      return task;
    });

    const [first, ...rest] = forward;
    if (!first) throw new Error('A saga needs at least one step');
    const definition = rest
      .reduce<sfn.Chain>((chain, task) => chain.next(task), sfn.Chain.start(first))
      .next(new sfn.Succeed(this, props.succeededStateName));

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: this.timeout,
      tracingEnabled: true,
      logs: {
        destination:
          props.logGroup ??
          new logs.LogGroup(this, 'ExecutionLogs', { retention: logs.RetentionDays.ONE_MONTH }),
        level: sfn.LogLevel.ALL,
        // Execution data holds customers' addresses: events are logged, payloads are not.
        includeExecutionData: false,
      },
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing and CloudWatch Logs vended log delivery (logs:CreateLogDelivery and friends) do not support resource-level permissions.',
    });
  }

  private buildTask(spec: SagaTaskSpec, role: 'forward' | 'compensation' | 'escalation'): sfn.TaskStateBase {
    return spec.task(this, {
      stateName: spec.name,
      timeout: spec.timeout ?? DEFAULT_TASK_TIMEOUT,
      heartbeat: spec.heartbeat,
      payload: spec.payload ?? sfn.TaskInput.fromJsonPathAt('$'),
      // Compensations and the escalation keep the state as it was: their results matter only for the history.
      resultPath: role === 'forward' ? resultPathOf(spec.name) : sfn.JsonPath.DISCARD,
    });
  }
}

function retryProps(errors: readonly string[], policy: SagaRetryPolicy): sfn.RetryProps {
  return {
    errors: [...errors],
    maxAttempts: policy.maxAttempts,
    interval: policy.interval,
    backoffRate: policy.backoffRate,
    maxDelay: policy.maxDelay,
    jitterStrategy: sfn.JitterType.FULL,
  };
}

function validateSteps(props: SagaProps): void {
  const pivots = props.steps.filter((step) => step.pivot);
  if (pivots.length > 1)
    throw new Error(`A saga has at most one pivot, got ${pivots.map((s) => s.name).join(', ')}`);
  const transient = new Set(props.transientErrors ?? DEFAULT_TRANSIENT_ERRORS);
  for (const step of props.steps) {
    const retriedBusiness = (step.businessErrors ?? []).filter((name) => transient.has(name));
    if (retriedBusiness.length > 0) {
      throw new Error(
        `${step.name}: business errors must never be retried, but ${retriedBusiness.join(', ')} is transient`,
      );
    }
  }
  const names = [
    ...props.steps.flatMap((step) => [step.name, step.compensation?.name]),
    props.finalCompensation.name,
    props.escalation.name,
    props.succeededStateName,
    props.cancelledStateName,
    props.escalatedStateName,
  ].filter((name): name is string => name !== undefined);
  const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
  if (duplicates.length > 0) throw new Error(`State names must be unique: ${duplicates.join(', ')}`);
}
