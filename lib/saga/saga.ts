import { Duration, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { stageOf } from '../stages.js';
import { LiveAlias } from './live-alias.js';
import {
  DEFAULT_COMPENSATION_RETRY,
  DEFAULT_CONTENTION_ERRORS,
  DEFAULT_CONTENTION_RETRY,
  DEFAULT_FORWARD_RETRY,
  DEFAULT_POST_PIVOT_RETRY,
  DEFAULT_TRANSIENT_ERRORS,
  retryProps,
  type SagaRetryPolicy,
} from './retry.js';
import { failurePathOf, resultPathOf } from './state-paths.js';
import type { SagaTaskFactory } from './tasks.js';

export {
  DEFAULT_COMPENSATION_RETRY,
  DEFAULT_CONTENTION_ERRORS,
  DEFAULT_CONTENTION_RETRY,
  DEFAULT_FORWARD_RETRY,
  DEFAULT_POST_PIVOT_RETRY,
  DEFAULT_TRANSIENT_ERRORS,
  type SagaRetryPolicy,
} from './retry.js';
export { failurePathOf, resultPathOf } from './state-paths.js';
export { invokeFunction, type SagaTaskFactory, type SagaTaskOptions, sendToQueueAndWait } from './tasks.js';

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
  /**
   * Whether the step's task can fail with a contention error, which then gets the contention retry. A callback
   * step whose worker retries contention itself (by redelivery) never reports one, and a retrier that cannot
   * fire is only noise in the definition.
   * @default true
   */
  readonly reportsContention?: boolean;
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
   * Runs when a step after the pivot exhausts its retries: nothing may be undone any more, so this hands
   * the saga to a person, who finishes it with the completion machine once the cause is fixed.
   * @default the escalation
   */
  readonly afterPivotEscalation?: SagaTaskSpec;
  /**
   * The Fail state that ends a saga handed over by `afterPivotEscalation`.
   * @default escalatedStateName
   */
  readonly afterPivotEscalatedStateName?: string;
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
   * Error names meaning another writer holds the same item: retried on every forward step and the escalation,
   * before the transient policy, with `contentionRetry`.
   * @default DEFAULT_CONTENTION_ERRORS
   */
  readonly contentionErrors?: readonly string[];
  /**
   * @default DEFAULT_CONTENTION_RETRY
   */
  readonly contentionRetry?: SagaRetryPolicy;
  /**
   * Where execution logs go.
   * @default a new log group kept for one month
   */
  readonly logGroup?: logs.ILogGroup;
  /**
   * Whether execution logs carry each state's input and output. Off by default: a saga's state usually
   * holds personal data (names, addresses) that logs should not keep.
   * @default false
   */
  readonly logExecutionData?: boolean;
  /**
   * X-Ray tracing of every execution.
   * @default true
   */
  readonly tracing?: boolean;
  /**
   * A customer-managed key for the machines' definitions and execution histories, which hold the saga's state.
   * @default a key AWS owns
   */
  readonly encryptionKey?: kms.IKey;
}

const DEFAULT_TASK_TIMEOUT = Duration.seconds(30);

/**
 * A Standard-workflow saga built from an ordered list of steps, as three state machines over the same
 * tasks:
 * - `stateMachine`, the saga: each forward step retries transient errors with exponential backoff and
 *   full jitter, never its business errors; its Catch enters the compensation chain at its own
 *   compensation (it may have committed before failing) and the chain runs the earlier compensations in
 *   exact reverse order, then the final compensation. Steps after the pivot are retried forward and
 *   escalate instead of compensating.
 * - `unwindStateMachine`: every compensation up to the pivot in reverse order, then the final
 *   compensation. An operator cancels with it; each compensation goes through its barrier, so one that
 *   already ran does nothing and one whose action never ran is a null compensation.
 * - `completionStateMachine`: the steps after the pivot, for an operator to finish a saga whose step
 *   after the pivot failed. Absent when no step follows the pivot.
 * JSONPath only: no JSONata, no variables.
 */
export class Saga extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly unwindStateMachine: sfn.StateMachine;
  readonly completionStateMachine?: sfn.StateMachine;
  readonly timeout: Duration;

  private readonly transientErrors: string[];
  private readonly compensationRetry: SagaRetryPolicy;
  private readonly contentionErrors: string[];
  private readonly contentionRetry: SagaRetryPolicy;
  private readonly pivotIndex: number;
  private readonly logGroup: logs.ILogGroup;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: SagaProps,
  ) {
    super(scope, id);
    validateSteps(props);
    this.timeout = props.timeout ?? Duration.hours(1);
    this.transientErrors = [...(props.transientErrors ?? DEFAULT_TRANSIENT_ERRORS)];
    this.compensationRetry = props.compensationRetry ?? DEFAULT_COMPENSATION_RETRY;
    this.contentionErrors = [...(props.contentionErrors ?? DEFAULT_CONTENTION_ERRORS)];
    this.contentionRetry = props.contentionRetry ?? DEFAULT_CONTENTION_RETRY;
    this.pivotIndex = props.steps.findIndex((step) => step.pivot);
    this.logGroup =
      props.logGroup ??
      new logs.LogGroup(this, 'ExecutionLogs', {
        retention: stageOf(this).logRetention,
        removalPolicy: stageOf(this).logRemovalPolicy,
      });

    // The saga's states keep this construct as their scope, so its template does not move.
    this.stateMachine = this.machine('StateMachine', this.forwardDefinition(this));
    const unwindScope = new Construct(this, 'Unwind');
    this.unwindStateMachine = this.machine('UnwindStateMachine', this.unwindDefinition(unwindScope));
    if (this.pivotIndex !== -1 && this.pivotIndex < props.steps.length - 1) {
      const completionScope = new Construct(this, 'Completion');
      this.completionStateMachine = this.machine(
        'CompletionStateMachine',
        this.completionDefinition(completionScope),
      );
    }
  }

  private machine(id: string, definition: sfn.IChainable): sfn.StateMachine {
    const machine = new sfn.StateMachine(this, id, {
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: this.timeout,
      tracingEnabled: this.props.tracing ?? true,
      ...(this.props.encryptionKey
        ? {
            encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(this.props.encryptionKey),
          }
        : {}),
      logs: {
        destination: this.logGroup,
        level: sfn.LogLevel.ALL,
        includeExecutionData: this.props.logExecutionData ?? false,
      },
    });
    Validations.of(machine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing and CloudWatch Logs vended log delivery (logs:CreateLogDelivery and friends) do not support resource-level permissions.',
    });
    new LiveAlias(machine, stageOf(this).versionRemovalPolicy);
    return machine;
  }

  /** The escalation task and its Fail state, built into `scope`. */
  private escalationInto(scope: Construct, spec: SagaTaskSpec, failStateName: string): sfn.TaskStateBase {
    const end = new sfn.Fail(scope, failStateName, {
      error: failStateName,
      cause: 'A step could neither complete nor be compensated after all retries; a person must act',
    });
    const escalation = this.buildTask(scope, spec, 'escalation');
    this.addContentionRetry(escalation);
    escalation.addRetry(retryProps(this.transientErrors, this.compensationRetry));
    escalation.addCatch(end, { errors: [sfn.Errors.ALL], resultPath: failurePathOf(spec.name) });
    escalation.next(end);
    return escalation;
  }

  private afterPivotEscalationInto(scope: Construct): sfn.TaskStateBase {
    return this.escalationInto(
      scope,
      this.props.afterPivotEscalation ?? this.props.escalation,
      this.props.afterPivotEscalatedStateName ?? this.props.escalatedStateName,
    );
  }

  /**
   * The compensation chain in `scope`: entry[k] runs step k's compensation (when it has one), then those
   * of the steps before it in reverse order, then the final compensation and the cancelled end.
   */
  private compensationChainInto(scope: Construct): {
    entry: sfn.IChainable[];
    escalation: sfn.TaskStateBase;
  } {
    const escalation = this.escalationInto(scope, this.props.escalation, this.props.escalatedStateName);
    const compensate = (spec: SagaTaskSpec): sfn.TaskStateBase => {
      const task = this.buildTask(scope, spec, 'compensation');
      task.addRetry(retryProps([sfn.Errors.ALL], this.compensationRetry));
      task.addCatch(escalation, { errors: [sfn.Errors.ALL], resultPath: failurePathOf(spec.name) });
      return task;
    };
    const cancelledEnd = new sfn.Fail(scope, this.props.cancelledStateName, {
      error: this.props.cancelledStateName,
      cause: 'Every completed step was compensated',
    });
    const entry: sfn.IChainable[] = [];
    let below: sfn.IChainable = compensate(this.props.finalCompensation).next(cancelledEnd);
    this.props.steps.forEach((step, index) => {
      if (step.compensation && index <= this.lastCompensableIndex()) {
        below = compensate(step.compensation).next(below);
      }
      entry[index] = below;
    });
    return { entry, escalation };
  }

  private lastCompensableIndex(): number {
    return this.pivotIndex === -1 ? this.props.steps.length - 1 : this.pivotIndex;
  }

  /** A forward step with its retry policy and the Catch that leads to `onFailure`. */
  private forwardStep(scope: Construct, index: number, onFailure: sfn.IChainable): sfn.TaskStateBase {
    const step = this.props.steps[index];
    if (!step) throw new Error(`No step ${index}`);
    const afterPivot = this.pivotIndex !== -1 && index > this.pivotIndex;
    const task = this.buildTask(scope, step, 'forward');
    const policy = step.retry ?? (afterPivot ? DEFAULT_POST_PIVOT_RETRY : DEFAULT_FORWARD_RETRY);
    // After the pivot the outcome of a timed-out attempt is unknown but only forward is allowed: try again.
    const retried = afterPivot ? [...this.transientErrors, sfn.Errors.TIMEOUT] : this.transientErrors;
    if (step.reportsContention !== false) this.addContentionRetry(task);
    task.addRetry(retryProps(retried, policy));
    task.addCatch(onFailure, { errors: [sfn.Errors.ALL], resultPath: failurePathOf(step.name) });
    return task;
  }

  /** Step Functions applies the first retrier that matches, so contention's own policy goes first. */
  private addContentionRetry(task: sfn.TaskStateBase): void {
    if (this.contentionErrors.length > 0)
      task.addRetry(retryProps(this.contentionErrors, this.contentionRetry));
  }

  private chainOf(tasks: sfn.TaskStateBase[], end: sfn.IChainable): sfn.IChainable {
    const [first, ...rest] = tasks;
    if (!first) throw new Error('A saga needs at least one step');
    return rest.reduce<sfn.Chain>((chain, task) => chain.next(task), sfn.Chain.start(first)).next(end);
  }

  private forwardDefinition(scope: Construct): sfn.IChainable {
    const { entry: compensationEntry, escalation } = this.compensationChainInto(scope);
    const afterPivotEscalation = this.props.afterPivotEscalation
      ? this.afterPivotEscalationInto(scope)
      : escalation;
    const tasks = this.props.steps.map((_, index) => {
      const afterPivot = this.pivotIndex !== -1 && index > this.pivotIndex;
      const onFailure = afterPivot ? afterPivotEscalation : compensationEntry[index];
      if (!onFailure) throw new Error(`No failure path for step ${index}`);
      return this.forwardStep(scope, index, onFailure);
    });
    return this.chainOf(tasks, new sfn.Succeed(scope, this.props.succeededStateName));
  }

  private unwindDefinition(scope: Construct): sfn.IChainable {
    const entry = this.compensationChainInto(scope).entry[this.lastCompensableIndex()];
    if (!entry) throw new Error('A saga needs at least one step');
    return entry;
  }

  private completionDefinition(scope: Construct): sfn.IChainable {
    const escalation = this.afterPivotEscalationInto(scope);
    const tasks = this.props.steps
      .map((_, index) => index)
      .filter((index) => index > this.pivotIndex)
      .map((index) => this.forwardStep(scope, index, escalation));
    return this.chainOf(tasks, new sfn.Succeed(scope, this.props.succeededStateName));
  }

  private buildTask(
    scope: Construct,
    spec: SagaTaskSpec,
    role: 'forward' | 'compensation' | 'escalation',
  ): sfn.TaskStateBase {
    return spec.task(scope, {
      stateName: spec.name,
      timeout: spec.timeout ?? DEFAULT_TASK_TIMEOUT,
      heartbeat: spec.heartbeat,
      payload: spec.payload ?? sfn.TaskInput.fromJsonPathAt('$'),
      // Compensations and the escalation keep the state as it was: their results matter only for the history.
      resultPath: role === 'forward' ? resultPathOf(spec.name) : sfn.JsonPath.DISCARD,
    });
  }
}

function validateSteps(props: SagaProps): void {
  const pivots = props.steps.filter((step) => step.pivot);
  if (pivots.length > 1)
    throw new Error(`A saga has at most one pivot, got ${pivots.map((s) => s.name).join(', ')}`);
  const transient = new Set([
    ...(props.transientErrors ?? DEFAULT_TRANSIENT_ERRORS),
    ...(props.contentionErrors ?? DEFAULT_CONTENTION_ERRORS),
  ]);
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
    props.afterPivotEscalation?.name,
    props.afterPivotEscalatedStateName,
  ].filter((name): name is string => name !== undefined);
  const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
  if (duplicates.length > 0) throw new Error(`State names must be unique: ${duplicates.join(', ')}`);
}
