import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { StateMachine as EngineStateMachine, StateMachineDefinition } from 'aws-local-stepfunctions';
import {
  MAX_TIMER_SECONDS,
  prepareDefinition,
  retriesSinceEntered,
  substituteRetryCount,
  substituteTaskToken,
  type TaskStateInfo,
  WAIT_FOR_TASK_TOKEN_SUFFIX,
} from './stepfunctions/definition.js';
import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  type ExecutionInternals,
  ExecutionNotRedrivable,
  type ExecutionOutcome,
  type HistoryEvent,
  isRedrivable,
  type LocalExecution,
  type LocalStateMachine,
  type LocalStateMachineOptions,
  rejectionOnAbort,
  TaskCutShort,
} from './stepfunctions/executions.js';
import { appendHistoryEvent, recordEngineEvents, resumePointTracker } from './stepfunctions/history.js';
import { errorText, LAMBDA_INVOKE, lambdaIntegration } from './stepfunctions/integrations.js';
import { TaskTokenRegistry } from './stepfunctions/task-tokens.js';
import {
  type JsonValue,
  type ServiceIntegration,
  TaskFailure,
  type TaskInvocation,
  taskFailureFromLambdaError,
} from './stepfunctions/tasks.js';
import { isRecord } from './template.js';

export { prepareDefinition } from './stepfunctions/definition.js';
export {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  type ExecutionOutcome,
  type ExecutionStatus,
  type HistoryEvent,
  isRedrivable,
  type LocalExecution,
  type LocalStateMachine,
  type LocalStateMachineOptions,
} from './stepfunctions/executions.js';
export { sqsSendMessageIntegration } from './stepfunctions/integrations.js';
export { type CreateTokenOptions, TaskTokenError, TaskTokenRegistry } from './stepfunctions/task-tokens.js';
export {
  type JsonValue,
  type LambdaErrorShape,
  type LambdaInvokeOutcome,
  type LambdaInvoker,
  type ServiceIntegration,
  TaskFailure,
  type TaskHandler,
  type TaskInvocation,
  taskFailureFromLambdaError,
} from './stepfunctions/tasks.js';

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
      const parameters = substituteRetryCount(
        tokenEntry ? substituteTaskToken(effectiveInput, tokenEntry.token) : effectiveInput,
        retriesSinceEntered(execution.history, stateName),
      );
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

    const trackResumePoint = resumePointTracker(internals, topLevelStates);

    const historyDone = recordEngineEvents(run.eventLogs, {
      record,
      redriven,
      taskStates,
      trackResumePoint,
      stopReason: () => internals.stopReason,
    });

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
      record: (event, timestamp = Date.now()) =>
        appendHistoryEvent(internals, history, event, timestamp, options.onHistoryEvent),
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
