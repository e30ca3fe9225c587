import type { TaskTokenRegistry } from './task-tokens.js';
import {
  type JsonValue,
  type LambdaInvoker,
  type ServiceIntegration,
  TaskFailure,
  type TaskHandler,
} from './tasks.js';

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

/**
 * What a task still running when its execution ends (stopped, timed out, or moved on past a timed-out state)
 * is told. Like the engine's own States.Runtime, no Retry or Catch matches it: the engine must not run the
 * state again, or its Catch target, for an execution that is over.
 */
export class TaskCutShort extends TaskFailure {
  readonly isRetryable = false;
  readonly isCatchable = false;

  constructor(cause: string) {
    super('States.Runtime', cause);
  }
}

export const EXECUTION_ENDS: ReadonlySet<string> = new Set([
  'ExecutionSucceeded',
  'ExecutionFailed',
  'ExecutionTimedOut',
  'ExecutionAborted',
]);

export function rejectionOnAbort(signal: AbortSignal): Promise<never> {
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

export interface ExecutionInternals {
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
