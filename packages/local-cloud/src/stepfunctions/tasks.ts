import { LAMBDA_TIMEOUT_ERROR_TYPE } from '../lambda-runner.js';

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
