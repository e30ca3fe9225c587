import { randomBytes, randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { StateMachine as EngineStateMachine, StateMachineDefinition } from 'aws-local-stepfunctions';
import { LAMBDA_TIMEOUT_ERROR_TYPE } from './lambda-runner.js';
import { isRecord } from './template.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Throw this from a task handler to fail the state with an error name that Retry/Catch match against
 * (the engine compares `error.name`; Catch's output is { Error: name, Cause: message }).
 */
export class TaskFailure extends Error {
  constructor(errorName: string, cause = '') {
    super(cause);
    this.name = errorName;
  }
}

// Runtime crashes that Step Functions reports as Lambda.Unknown rather than by type. A function that ran past
// its timeout is not one of them: Lambda reports it as Sandbox.Timedout today and Step Functions matches that
// name, so a Retry or Catch written only for the documented Lambda.Unknown must not pass locally.
const LAMBDA_UNKNOWN_PATTERN = /^(Sandbox\.|Runtime\.)/;

export interface LambdaErrorShape {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

/** The error a Task state sees for a failed Lambda invocation, named as on AWS. */
export function taskFailureFromLambdaError(error: LambdaErrorShape): TaskFailure {
  if (error.errorType === LAMBDA_TIMEOUT_ERROR_TYPE) {
    return new TaskFailure(error.errorType, error.errorMessage);
  }
  if (LAMBDA_UNKNOWN_PATTERN.test(error.errorType)) {
    return new TaskFailure('Lambda.Unknown', `${error.errorType}: ${error.errorMessage}`);
  }
  return new TaskFailure(
    error.errorType,
    JSON.stringify({
      errorType: error.errorType,
      errorMessage: error.errorMessage,
      trace: error.trace ?? [],
    }),
  );
}

export type LambdaInvokeOutcome = { ok: true; payload: unknown } | { ok: false; error: LambdaErrorShape };

export interface LambdaInvoker {
  // `task` names the state being run, so callers can trace or inject faults per state.
  invoke(functionNameOrArn: string, payload: unknown, task?: TaskInvocation): Promise<LambdaInvokeOutcome>;
}

export interface TaskInvocation {
  stateName: string;
  resource: string;
  // The effective input after InputPath and Parameters (the task token already substituted in).
  input: JsonValue;
  executionArn: string;
  executionName: string;
  // Only for .waitForTaskToken states.
  taskToken?: string;
  // Aborted when the execution stops or times out, and when this state's own TimeoutSeconds fires: a call
  // still waiting then can give up, since its answer no longer reaches the execution.
  signal: AbortSignal;
}

export type TaskHandler = (task: TaskInvocation) => Promise<JsonValue> | JsonValue;

// A service call such as sqs:sendMessage, keyed by its resource without .waitForTaskToken.
export type ServiceIntegration = (parameters: JsonValue, task: TaskInvocation) => Promise<JsonValue>;

export class TaskTokenError extends Error {
  constructor(name: 'TaskDoesNotExist' | 'TaskTimedOut' | 'InvalidToken' | 'InvalidOutput', message: string) {
    super(message);
    this.name = name;
  }
}

interface PendingTask {
  executionArn: string;
  stateName: string;
  createdAt: number;
  heartbeatMs?: number;
  heartbeatTimer?: NodeJS.Timeout;
  expiryTimer?: NodeJS.Timeout;
  resolve: (output: JsonValue) => void;
  reject: (error: Error) => void;
}

export interface CreateTokenOptions {
  executionArn: string;
  stateName: string;
  heartbeatMs?: number;
  // After this the token answers TaskTimedOut; the state's own timeout is the engine's business.
  expiresAfterMs?: number;
}

/** Task tokens awaiting SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat, shared by all machines. */
export class TaskTokenRegistry {
  private readonly pending = new Map<string, PendingTask>();
  // Remembered so that late answers get TaskTimedOut instead of TaskDoesNotExist, as on AWS.
  private readonly closed = new Map<string, 'timed-out' | 'done'>();

  create(options: CreateTokenOptions): { token: string; outcome: Promise<JsonValue> } {
    const token = `local-${randomBytes(48).toString('base64url')}`;
    let resolve: (output: JsonValue) => void = () => undefined;
    let reject: (error: Error) => void = () => undefined;
    const outcome = new Promise<JsonValue>((resolvePromise, rejectPromise) => {
      resolve = resolvePromise;
      reject = rejectPromise;
    });
    const task: PendingTask = {
      executionArn: options.executionArn,
      stateName: options.stateName,
      createdAt: Date.now(),
      heartbeatMs: options.heartbeatMs,
      resolve,
      reject,
    };
    this.pending.set(token, task);
    this.armHeartbeat(token, task);
    if (options.expiresAfterMs !== undefined && Number.isFinite(options.expiresAfterMs)) {
      task.expiryTimer = setTimeout(() => this.close(token, 'timed-out'), options.expiresAfterMs);
      task.expiryTimer.unref();
    }
    return { token, outcome };
  }

  private armHeartbeat(token: string, task: PendingTask): void {
    clearTimeout(task.heartbeatTimer);
    if (task.heartbeatMs === undefined) {
      return;
    }
    task.heartbeatTimer = setTimeout(() => {
      this.close(token, 'timed-out');
      task.reject(new TaskFailure('States.HeartbeatTimeout', `No heartbeat within ${task.heartbeatMs} ms`));
    }, task.heartbeatMs);
    // A pending token must not keep a process alive on its own, as the expiry timer does not.
    task.heartbeatTimer.unref();
  }

  private take(token: string): PendingTask {
    const task = this.pending.get(token);
    if (task) {
      return task;
    }
    if (!token.startsWith('local-')) {
      throw new TaskTokenError('InvalidToken', 'Invalid token');
    }
    if (this.closed.get(token) === 'timed-out') {
      throw new TaskTokenError('TaskTimedOut', 'Task Timed Out');
    }
    throw new TaskTokenError('TaskDoesNotExist', 'Task does not exist anymore');
  }

  /** Removes a token without answering it (its task timed out, or its execution stopped). */
  close(token: string, reason: 'timed-out' | 'done'): void {
    const task = this.pending.get(token);
    if (task) {
      clearTimeout(task.heartbeatTimer);
      clearTimeout(task.expiryTimer);
      this.pending.delete(token);
    }
    if (this.closed.get(token) !== 'timed-out') {
      this.closed.set(token, reason);
    }
    // Bounded memory for long local sessions; the oldest tokens are forgotten first.
    if (this.closed.size > 10_000) {
      const oldest = this.closed.keys().next().value;
      if (oldest !== undefined) {
        this.closed.delete(oldest);
      }
    }
  }

  sendTaskSuccess(token: string, output: string | JsonValue): void {
    const task = this.take(token);
    let parsed: JsonValue;
    try {
      parsed = typeof output === 'string' ? (JSON.parse(output) as JsonValue) : output;
    } catch {
      throw new TaskTokenError('InvalidOutput', 'Output is not valid JSON');
    }
    this.close(token, 'done');
    task.resolve(parsed);
  }

  sendTaskFailure(token: string, error = '', cause = ''): void {
    const task = this.take(token);
    this.close(token, 'done');
    // On AWS a failure without an error name is matched as States.TaskFailed only.
    task.reject(new TaskFailure(error, cause));
  }

  sendTaskHeartbeat(token: string): void {
    this.armHeartbeat(token, this.take(token));
  }

  pendingTasks(): { token: string; executionArn: string; stateName: string; createdAt: number }[] {
    return [...this.pending.entries()].map(([token, task]) => ({
      token,
      executionArn: task.executionArn,
      stateName: task.stateName,
      createdAt: task.createdAt,
    }));
  }

  closeAllOf(executionArn: string): void {
    for (const [token, task] of this.pending) {
      if (task.executionArn === executionArn) {
        this.close(token, 'done');
      }
    }
  }
}

// Literal that replaces $$.Task.Token in Parameters: the engine has no task token in its context object.
const TASK_TOKEN_PLACEHOLDER = '@@LOCAL_TASK_TOKEN@@';
const WAIT_FOR_TASK_TOKEN_SUFFIX = '.waitForTaskToken';
// AWS's default task timeout is 99999999 s, beyond what setTimeout can hold; the engine's default is 60 s.
const MAX_TIMER_SECONDS = 2_000_000;

type StateDefinition = Record<string, unknown>;

function replaceTaskTokenReferences(parameters: unknown): unknown {
  if (Array.isArray(parameters)) {
    return parameters.map(replaceTaskTokenReferences);
  }
  if (!isRecord(parameters)) {
    return parameters;
  }
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (key.endsWith('.$') && value === '$$.Task.Token') {
      result[key.slice(0, -2)] = TASK_TOKEN_PLACEHOLDER;
    } else if (key.endsWith('.$') && typeof value === 'string' && value.includes('$$.Task.Token')) {
      // Inside intrinsic functions such as States.Format(..., $$.Task.Token) a string literal works.
      result[key] = value.replaceAll('$$.Task.Token', `'${TASK_TOKEN_PLACEHOLDER}'`);
    } else {
      result[key] = replaceTaskTokenReferences(value);
    }
  }
  return result;
}

function substituteTaskToken(value: JsonValue, token: string): JsonValue {
  if (typeof value === 'string') {
    return value.replaceAll(TASK_TOKEN_PLACEHOLDER, token);
  }
  if (Array.isArray(value)) {
    return value.map((item) => substituteTaskToken(item, token));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteTaskToken(item, token)]),
    );
  }
  return value;
}

function scaled(seconds: number, timeScale: number): number {
  return Math.min(seconds * timeScale, MAX_TIMER_SECONDS);
}

interface TaskStateInfo {
  resource: string;
  heartbeatSeconds?: number;
  timeoutSeconds?: number;
}

/**
 * Rewrites a definition for the engine: scales TimeoutSeconds, retry intervals and Wait seconds, gives tasks
 * AWS's near-infinite default timeout, and swaps $$.Task.Token for a placeholder. Fractional seconds work in
 * the engine but fail its validator, so validate the original definition first.
 */
export function prepareDefinition(
  definition: Record<string, unknown>,
  timeScale: number,
  taskStates: Map<string, TaskStateInfo> = new Map(),
): Record<string, unknown> {
  const prepared: Record<string, unknown> = structuredClone(definition);
  if (typeof prepared.TimeoutSeconds === 'number') {
    prepared.TimeoutSeconds = scaled(prepared.TimeoutSeconds, timeScale);
  }
  const states = isRecord(prepared.States) ? prepared.States : {};
  for (const [stateName, rawState] of Object.entries(states)) {
    if (!isRecord(rawState)) {
      continue;
    }
    const state: StateDefinition = rawState;
    if (state.Type === 'Task' && typeof state.Resource === 'string') {
      if (state.TimeoutSecondsPath === undefined) {
        state.TimeoutSeconds = scaled(
          typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : 99_999_999,
          timeScale,
        );
      }
      if (state.Resource.endsWith(WAIT_FOR_TASK_TOKEN_SUFFIX) && state.Parameters !== undefined) {
        state.Parameters = replaceTaskTokenReferences(state.Parameters);
      }
      taskStates.set(stateName, {
        resource: state.Resource,
        heartbeatSeconds: typeof state.HeartbeatSeconds === 'number' ? state.HeartbeatSeconds : undefined,
        timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined,
      });
    }
    if (state.Type === 'Wait' && typeof state.Seconds === 'number') {
      state.Seconds = state.Seconds * timeScale;
    }
    if (Array.isArray(state.Retry)) {
      state.Retry = state.Retry.map((retrier: unknown) => {
        if (!isRecord(retrier)) {
          return retrier;
        }
        return {
          ...retrier,
          IntervalSeconds:
            (typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1) * timeScale,
          ...(typeof retrier.MaxDelaySeconds === 'number'
            ? { MaxDelaySeconds: retrier.MaxDelaySeconds * timeScale }
            : {}),
        };
      });
    }
    if (Array.isArray(state.Branches)) {
      state.Branches = state.Branches.map((branch: unknown) =>
        isRecord(branch) ? prepareDefinition(branch, timeScale, taskStates) : branch,
      );
    }
    for (const key of ['Iterator', 'ItemProcessor'] as const) {
      const nested = state[key];
      if (isRecord(nested)) {
        state[key] = prepareDefinition(nested, timeScale, taskStates);
      }
    }
  }
  return prepared;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/**
 * One event of an execution's history, as GetExecutionHistory numbers and links them: ids are consecutive
 * from 1 and every event is one AWS records (a retry shows as the task's events again, a caught error as
 * the state's exit), so the Step Functions API can hand the history out as it is.
 */
export interface HistoryEvent {
  id: number;
  // As on AWS: the event before it, except the first state's entry and an abort, which link to 0.
  previousEventId: number;
  timestamp: string;
  // AWS names, with Task* for every task (the API reports Lambda-ARN tasks as LambdaFunction*):
  // ExecutionStarted, TaskStateEntered, TaskScheduled, TaskStarted, TaskSubmitted, TaskSucceeded,
  // TaskFailed, TaskTimedOut, TaskStateExited, ExecutionSucceeded/Failed/TimedOut/Aborted/Redriven, ...
  type: string;
  stateName?: string;
  resource?: string;
  input?: JsonValue;
  output?: JsonValue;
  error?: string;
  cause?: string;
  taskToken?: string;
  // MapIteration* only.
  index?: number;
  // ExecutionRedriven only.
  redriveCount?: number;
}

export interface ExecutionOutcome {
  status: Exclude<ExecutionStatus, 'RUNNING'>;
  output?: JsonValue;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate: Date;
}

export interface LocalExecution {
  executionArn: string;
  name: string;
  input: JsonValue;
  startDate: Date;
  status(): ExecutionStatus;
  // Grows while the execution runs.
  history: HistoryEvent[];
  // Never rejects: failures are in the outcome. Replaced by a new promise when the execution is redriven.
  result: Promise<ExecutionOutcome>;
  stop(error?: string, cause?: string): void;
  // How many times RedriveExecution restarted it, and when it last did.
  redriveCount: number;
  redriveDate?: Date;
}

export interface LocalStateMachineOptions {
  definition: Record<string, unknown>;
  stateMachineArn: string;
  // Multiplies TimeoutSeconds, HeartbeatSeconds, Retry intervals, Wait Seconds and execution timeout.
  timeScale?: number;
  lambda?: LambdaInvoker;
  // e.g. { 'arn:aws:states:::sqs:sendMessage': sqsSendMessageIntegration(client) }
  integrations?: Record<string, ServiceIntegration>;
  // Overrides by state name; wins over lambda and integrations.
  taskHandlers?: Record<string, TaskHandler>;
  taskTokens?: TaskTokenRegistry;
  roleArn?: string;
  // Called with every event as it is added to an execution's history (the local cloud's trace).
  onHistoryEvent?: (execution: LocalExecution, event: HistoryEvent) => void;
}

export interface LocalStateMachine {
  stateMachineArn: string;
  name: string;
  definition: Record<string, unknown>;
  // Standard-workflow semantics: same name and input while running returns the running execution.
  start(input: JsonValue, options?: { name?: string }): LocalExecution;
  /**
   * RedriveExecution: restarts a FAILED, TIMED_OUT or ABORTED execution at the top-level state that did not
   * complete, with that state's input. Same LocalExecution object, history appended, `result` replaced.
   */
  redrive(executionArn: string): LocalExecution;
  executions(): LocalExecution[];
  taskTokens: TaskTokenRegistry;
}

export class ExecutionAlreadyExists extends Error {
  override name = 'ExecutionAlreadyExists';
}

export class ExecutionNotRedrivable extends Error {
  override name = 'ExecutionNotRedrivable';
}

export class ExecutionDoesNotExist extends Error {
  override name = 'ExecutionDoesNotExist';
}

const REDRIVABLE_STATUSES: ReadonlySet<ExecutionStatus> = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);

/** Whether RedriveExecution would accept this status (AWS also checks age and history size; not locally). */
export function isRedrivable(status: ExecutionStatus): boolean {
  return REDRIVABLE_STATUSES.has(status);
}

function errorText(error: unknown): { error: string; cause: string } {
  if (error instanceof Error) {
    return { error: error.name, cause: error.message };
  }
  return { error: 'Error', cause: String(error) };
}

function awsErrorName(prefix: string, error: unknown): TaskFailure {
  const { error: name, cause } = errorText(error);
  return new TaskFailure(`${prefix}.${name}`, cause);
}

/** sqs:sendMessage as Step Functions calls it: an object MessageBody is sent as JSON text. */
export function sqsSendMessageIntegration(client: SQSClient): ServiceIntegration {
  return async (parameters) => {
    if (!isRecord(parameters) || typeof parameters.QueueUrl !== 'string') {
      throw new TaskFailure('States.Runtime', 'sqs:sendMessage needs Parameters.QueueUrl');
    }
    const body = parameters.MessageBody;
    try {
      const response = await client.send(
        new SendMessageCommand({
          ...(parameters as Record<string, never>),
          QueueUrl: parameters.QueueUrl,
          MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      );
      return { MessageId: response.MessageId ?? '', MD5OfMessageBody: response.MD5OfMessageBody ?? '' };
    } catch (error) {
      throw awsErrorName('SQS', error);
    }
  };
}

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

function lambdaIntegration(lambda: LambdaInvoker): ServiceIntegration {
  return async (parameters, task): Promise<JsonValue> => {
    if (!isRecord(parameters) || typeof parameters.FunctionName !== 'string') {
      throw new TaskFailure('States.Runtime', 'lambda:invoke needs Parameters.FunctionName');
    }
    const outcome = lambda.invoke(parameters.FunctionName, parameters.Payload ?? {}, task);
    if (parameters.InvocationType === 'Event') {
      void outcome;
      return { StatusCode: 202, Payload: '' };
    }
    const result = await outcome;
    if (!result.ok) {
      throw taskFailureFromLambdaError(result.error);
    }
    return { ExecutedVersion: '$LATEST', Payload: (result.payload ?? null) as JsonValue, StatusCode: 200 };
  };
}

/**
 * What a task still running when its execution ends (stopped, timed out, or moved on past a timed-out state)
 * is told. Like the engine's own States.Runtime, no Retry or Catch matches it: the engine must not run the
 * state again, or its Catch target, for an execution that is over.
 */
class TaskCutShort extends TaskFailure {
  readonly isRetryable = false;
  readonly isCatchable = false;

  constructor(cause: string) {
    super('States.Runtime', cause);
  }
}

const EXECUTION_ENDS: ReadonlySet<string> = new Set([
  'ExecutionSucceeded',
  'ExecutionFailed',
  'ExecutionTimedOut',
  'ExecutionAborted',
]);

function rejectionOnAbort(signal: AbortSignal): Promise<never> {
  const rejection = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(new TaskCutShort('Execution stopped')), { once: true });
  });
  // Only raced against; an execution that ends normally must not leave an unhandled rejection.
  rejection.catch(() => undefined);
  return rejection;
}

interface ResumePoint {
  stateName: string;
  input: JsonValue;
  exited: boolean;
  output?: JsonValue;
}

interface ExecutionInternals {
  execution: LocalExecution;
  status: ExecutionStatus;
  stopReason?: { error: string; cause: string };
  // Of the current attempt; stop() aborts it.
  abortController: AbortController;
  // Where a redrive restarts: the last top-level state the latest attempt entered.
  resumePoint?: ResumePoint;
  // Set by the event that ends an attempt; nothing is recorded after it until a redrive.
  closed: boolean;
  record(event: Omit<HistoryEvent, 'id' | 'previousEventId' | 'timestamp'>, timestamp?: number): void;
}

/**
 * Builds the engine's StateMachine once (validation costs ~100 ms) and runs executions on it, each Task state
 * served locally: lambda ARNs through `lambda`, service ARNs through `integrations`, anything through
 * `taskHandlers`. Throws at build time if a Task state has no local handler, since the engine would otherwise
 * call real AWS Lambda.
 */
export async function createLocalStateMachine(options: LocalStateMachineOptions): Promise<LocalStateMachine> {
  const { StateMachine } = await import('aws-local-stepfunctions');
  const timeScale = options.timeScale ?? 1;
  const taskTokens = options.taskTokens ?? new TaskTokenRegistry();
  const [, , , region = '', accountId = '', , machineName = 'local'] = options.stateMachineArn.split(':');

  // The engine's validator gives readable errors on the definition as written.
  new StateMachine(options.definition as unknown as StateMachineDefinition);
  const taskStates = new Map<string, TaskStateInfo>();
  const prepared = prepareDefinition(options.definition, timeScale, taskStates);
  const engine: EngineStateMachine = new StateMachine(prepared as unknown as StateMachineDefinition, {
    validationOptions: { noValidate: true },
  });

  const integrations: Record<string, ServiceIntegration> = {
    ...(options.lambda ? { [LAMBDA_INVOKE]: lambdaIntegration(options.lambda) } : {}),
    ...options.integrations,
  };

  const serviceCallFor = (stateName: string, resource: string): ServiceIntegration | undefined => {
    const base = resource.endsWith(WAIT_FOR_TASK_TOKEN_SUFFIX)
      ? resource.slice(0, -WAIT_FOR_TASK_TOKEN_SUFFIX.length)
      : resource;
    const custom = options.taskHandlers?.[stateName];
    if (custom) {
      return async (_parameters, task) => custom(task);
    }
    if (/^arn:[^:]+:lambda:/.test(base) && options.lambda) {
      const lambda = options.lambda;
      // Resource = function ARN is Step Functions' "payload response only" form: output = function result.
      return async (payload, task) => {
        const result = await lambda.invoke(base, payload, task);
        if (!result.ok) {
          throw taskFailureFromLambdaError(result.error);
        }
        return (result.payload ?? null) as JsonValue;
      };
    }
    return integrations[base];
  };

  const missing = [...taskStates.entries()]
    .filter(([stateName, info]) => !serviceCallFor(stateName, info.resource))
    .map(([stateName, info]) => `${stateName} (${info.resource})`);
  if (missing.length > 0) {
    throw new Error(`No local handler for Task state(s): ${missing.join(', ')}`);
  }

  // Engines that start at another state, for redrives; each costs a StateMachine build, so they are kept.
  const enginesByStartAt = new Map<string, EngineStateMachine>([[String(prepared.StartAt), engine]]);
  const engineStartingAt = (stateName: string): EngineStateMachine => {
    const cached = enginesByStartAt.get(stateName);
    if (cached) {
      return cached;
    }
    const built: EngineStateMachine = new StateMachine(
      { ...prepared, StartAt: stateName } as unknown as StateMachineDefinition,
      { validationOptions: { noValidate: true } },
    );
    enginesByStartAt.set(stateName, built);
    return built;
  };
  const topLevelStates = isRecord(prepared.States) ? prepared.States : {};

  const executions = new Map<string, ExecutionInternals>();

  /** One attempt of an execution: the first run, or a redrive continuing the same history. */
  const runAttempt = (
    internals: ExecutionInternals,
    startingEngine: EngineStateMachine,
    input: JsonValue,
    redriven: boolean,
  ): Promise<ExecutionOutcome> => {
    const { execution, record } = internals;
    const { executionArn, name } = execution;
    const abortController = new AbortController();
    internals.abortController = abortController;
    internals.stopReason = undefined;

    const handlerFor = (stateName: string, info: TaskStateInfo) => async (effectiveInput: JsonValue) => {
      // Lets the event-log reader record StateEntered before this task's own events.
      await nextTurn();
      // The execution ended meanwhile (stopped, timed out): nothing is called for it any more.
      if (abortController.signal.aborted) throw new TaskCutShort('Execution stopped');
      const serviceCall = serviceCallFor(stateName, info.resource);
      if (!serviceCall) {
        throw new TaskFailure('States.Runtime', `No local handler for ${stateName}`);
      }
      const waitsForToken = info.resource.endsWith(WAIT_FOR_TASK_TOKEN_SUFFIX);
      const tokenEntry = waitsForToken
        ? taskTokens.create({
            executionArn,
            stateName,
            heartbeatMs:
              info.heartbeatSeconds === undefined ? undefined : info.heartbeatSeconds * timeScale * 1000,
            expiresAfterMs: (info.timeoutSeconds ?? MAX_TIMER_SECONDS) * 1000,
          })
        : undefined;
      const parameters = tokenEntry ? substituteTaskToken(effectiveInput, tokenEntry.token) : effectiveInput;
      // The engine times a task out by racing it against a timer of its own and never tells the handler. This
      // timer has the same length and is armed later (after nextTurn), so it fires after the engine's: by then
      // the state has failed with States.Timeout and whatever the call answers is discarded.
      const taskAbort = new AbortController();
      const abortTask = (): void => taskAbort.abort();
      abortController.signal.addEventListener('abort', abortTask, { once: true });
      let stateTimedOut = false;
      const stateTimer =
        info.timeoutSeconds === undefined
          ? undefined
          : setTimeout(() => {
              stateTimedOut = true;
              abortTask();
            }, info.timeoutSeconds * 1000);
      stateTimer?.unref();
      const ended = rejectionOnAbort(taskAbort.signal);
      const task: TaskInvocation = {
        stateName,
        resource: info.resource,
        input: parameters,
        executionArn,
        executionName: name,
        taskToken: tokenEntry?.token,
        signal: taskAbort.signal,
      };
      // Whether this task's end belongs in the history. Not when the state already timed out (AWS recorded the
      // timeout), nor when the execution ended while it ran (AWS ends the history with the execution's end).
      const endIsHistory = (): boolean => !stateTimedOut && !abortController.signal.aborted;
      record({ type: 'TaskScheduled', stateName, resource: info.resource, input: parameters });
      record({ type: 'TaskStarted', stateName, resource: info.resource });
      try {
        const serviceResult = await Promise.race([serviceCall(parameters, task), ended]);
        let output = serviceResult;
        if (tokenEntry && endIsHistory()) {
          record({
            type: 'TaskSubmitted',
            stateName,
            resource: info.resource,
            output: serviceResult,
            taskToken: tokenEntry.token,
          });
        }
        if (tokenEntry) output = await Promise.race([tokenEntry.outcome, ended]);
        if (endIsHistory()) record({ type: 'TaskSucceeded', stateName, resource: info.resource, output });
        return output;
      } catch (error) {
        if (tokenEntry) {
          taskTokens.close(tokenEntry.token, 'done');
        }
        if (endIsHistory()) {
          const { error: errorName, cause } = errorText(error);
          record({ type: 'TaskFailed', stateName, resource: info.resource, error: errorName, cause });
        }
        throw error;
      } finally {
        clearTimeout(stateTimer);
        abortController.signal.removeEventListener('abort', abortTask);
      }
    };

    const taskResourceLocalHandlers = Object.fromEntries(
      [...taskStates.entries()].map(([stateName, info]) => [stateName, handlerFor(stateName, info)]),
    );
    const run = startingEngine.run(input, {
      overrides: { taskResourceLocalHandlers },
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          RoleArn: options.roleArn ?? '',
          RedriveCount: execution.redriveCount,
        },
        StateMachine: { Id: options.stateMachineArn, Name: machineName },
      },
    });
    abortController.signal.addEventListener('abort', () => run.abort(), { once: true });

    // Parallel branches and Map iterations report their states through the same log; only top-level
    // states outside an open Parallel or Map are places a redrive can restart at.
    let openContainer: string | undefined;
    const trackResumePoint = (
      kind: 'entered' | 'exited',
      state: { name: string; type: string; input: unknown; output?: unknown },
      mapIndex: number | undefined,
    ): void => {
      if (mapIndex !== undefined || !(state.name in topLevelStates)) {
        return;
      }
      const isContainer = state.type === 'Parallel' || state.type === 'Map';
      if (kind === 'entered') {
        if (openContainer === undefined) {
          internals.resumePoint = { stateName: state.name, input: state.input as JsonValue, exited: false };
          openContainer = isContainer ? state.name : undefined;
        }
        return;
      }
      if (openContainer !== undefined && (openContainer !== state.name || !isContainer)) {
        return;
      }
      openContainer = undefined;
      if (internals.resumePoint?.stateName === state.name) {
        internals.resumePoint = { ...internals.resumePoint, exited: true, output: state.output as JsonValue };
      }
    };

    const historyDone = (async () => {
      for await (const event of run.eventLogs) {
        const at = event.timestamp;
        switch (event.type) {
          case 'ExecutionStarted':
            // A redrive is recorded as ExecutionRedriven instead, as on AWS.
            if (!redriven) {
              record({ type: 'ExecutionStarted', input: event.input }, at);
            }
            break;
          case 'StateEntered':
            trackResumePoint('entered', event.state, event.index);
            record(
              {
                type: `${event.state.type}StateEntered`,
                stateName: event.state.name,
                input: event.state.input,
              },
              at,
            );
            break;
          case 'StateExited':
            trackResumePoint('exited', event.state, event.index);
            record(
              {
                type: `${event.state.type}StateExited`,
                stateName: event.state.name,
                output: event.state.output,
              },
              at,
            );
            break;
          case 'StateFailed':
            if (event.Error === 'States.Timeout') {
              // Raised by the engine's own timer: no TaskFailed was recorded by the handler. AWS gives no cause.
              record(
                {
                  type: 'TaskTimedOut',
                  stateName: event.state.name,
                  resource: taskStates.get(event.state.name)?.resource,
                  error: event.Error,
                },
                at,
              );
            }
            break;
          case 'StateRetried':
          case 'StateCaught':
            // Not history on AWS: a retry shows as the task's events again, a catch as the state's exit.
            break;
          case 'ExecutionSucceeded':
            record({ type: 'ExecutionSucceeded', output: event.output }, at);
            break;
          case 'ExecutionFailed':
            record({ type: 'ExecutionFailed', error: event.Error, cause: String(event.Cause ?? '') }, at);
            break;
          case 'ExecutionTimeout':
            record({ type: 'ExecutionTimedOut', error: 'States.Timeout' }, at);
            break;
          case 'ExecutionAborted':
            record({ type: 'ExecutionAborted', ...internals.stopReason }, at);
            break;
          case 'MapIterationStarted':
          case 'MapIterationSucceeded':
          case 'MapIterationFailed':
            record({ type: event.type, stateName: event.parentState.name, index: event.index }, at);
            break;
          default:
            // ParallelBranch*: the engine's own, no AWS event.
            break;
        }
      }
    })();

    return (async (): Promise<ExecutionOutcome> => {
      let outcome: Omit<ExecutionOutcome, 'startDate' | 'stopDate'>;
      try {
        const output = (await run.result) as JsonValue;
        outcome = { status: 'SUCCEEDED', output };
      } catch (error) {
        if (error instanceof Error && error.name === 'ExecutionAbortedError') {
          outcome = { status: 'ABORTED', ...internals.stopReason };
        } else if (error instanceof Error && error.name === 'ExecutionTimeoutError') {
          outcome = { status: 'TIMED_OUT', error: 'States.Timeout', cause: 'The execution timed out' };
        } else {
          const cause = error instanceof Error ? error.cause : undefined;
          outcome = { status: 'FAILED', ...errorText(cause ?? error) };
        }
      }
      internals.status = outcome.status;
      abortController.abort();
      taskTokens.closeAllOf(executionArn);
      await historyDone;
      return { ...outcome, startDate: execution.startDate, stopDate: new Date() };
    })();
  };

  const start = (input: JsonValue, startOptions: { name?: string } = {}): LocalExecution => {
    const name = startOptions.name ?? randomUUID();
    const existing = executions.get(name)?.execution;
    if (existing) {
      if (existing.status() === 'RUNNING' && JSON.stringify(existing.input) === JSON.stringify(input)) {
        return existing;
      }
      throw new ExecutionAlreadyExists(`Execution Already Exists: '${existing.executionArn}'`);
    }
    const executionArn = `arn:aws:states:${region}:${accountId}:execution:${machineName}:${name}`;
    const history: HistoryEvent[] = [];
    const internals: ExecutionInternals = {
      status: 'RUNNING',
      abortController: new AbortController(),
      closed: false,
      record: (event, timestamp = Date.now()) => {
        // A task that answers after its execution ended is not history (and would look like the last step).
        if (internals.closed) return;
        const id = history.length + 1;
        const firstState = event.type.endsWith('StateEntered') && history.at(-1)?.type === 'ExecutionStarted';
        const recorded: HistoryEvent = {
          id,
          previousEventId: firstState || event.type === 'ExecutionAborted' ? 0 : id - 1,
          timestamp: new Date(timestamp).toISOString(),
          ...event,
        };
        history.push(recorded);
        if (EXECUTION_ENDS.has(event.type)) internals.closed = true;
        try {
          options.onHistoryEvent?.(internals.execution, recorded);
        } catch {
          // A listener (the trace) must not change the execution it listens to.
        }
      },
      execution: {
        executionArn,
        name,
        input,
        startDate: new Date(),
        status: () => internals.status,
        history,
        // Replaced below, before the execution is visible to anyone: the attempt needs this object first.
        result: new Promise<ExecutionOutcome>(() => undefined),
        stop: (error = '', cause = '') => {
          if (internals.status === 'RUNNING') {
            internals.stopReason = { error, cause };
            internals.abortController.abort();
          }
        },
        redriveCount: 0,
      },
    };
    internals.execution.result = runAttempt(internals, engine, input, false);
    executions.set(name, internals);
    return internals.execution;
  };

  const redrive = (executionArn: string): LocalExecution => {
    const internals = [...executions.values()].find(
      (candidate) => candidate.execution.executionArn === executionArn,
    );
    if (!internals) {
      throw new ExecutionDoesNotExist(`Execution Does Not Exist: '${executionArn}'`);
    }
    const { execution } = internals;
    if (!isRedrivable(internals.status)) {
      throw new ExecutionNotRedrivable(`Execution is ${internals.status} and cannot be redriven.`);
    }
    // Stopped before entering any state: nothing ran, so start over.
    const resumePoint = internals.resumePoint ?? {
      stateName: String(prepared.StartAt),
      input: execution.input,
      exited: false,
    };
    let stateName = resumePoint.stateName;
    let input = resumePoint.input;
    // Aborted between two states: the last one completed, so go on with the next.
    const next = topLevelStates[stateName];
    if (resumePoint.exited && isRecord(next) && typeof next.Next === 'string') {
      stateName = next.Next;
      input = resumePoint.output ?? null;
    }
    const startingEngine = engineStartingAt(stateName);
    execution.redriveCount += 1;
    execution.redriveDate = new Date();
    internals.status = 'RUNNING';
    internals.resumePoint = undefined;
    internals.closed = false;
    internals.record({ type: 'ExecutionRedriven', redriveCount: execution.redriveCount });
    execution.result = runAttempt(internals, startingEngine, input, true);
    return execution;
  };

  return {
    stateMachineArn: options.stateMachineArn,
    name: machineName,
    definition: options.definition,
    start,
    redrive,
    executions: () => [...executions.values()].map((internals) => internals.execution),
    taskTokens,
  };
}
