import type { StateMachine as EngineStateMachine } from 'aws-local-stepfunctions';
import type { TaskStateInfo } from './definition.js';
import {
  EXECUTION_ENDS,
  type ExecutionInternals,
  type HistoryEvent,
  type LocalExecution,
} from './executions.js';
import type { JsonValue } from './tasks.js';

type EventLogs = ReturnType<EngineStateMachine['run']>['eventLogs'];

type ResumePointTracker = (
  kind: 'entered' | 'exited',
  state: { name: string; type: string; input: unknown; output?: unknown },
  mapIndex: number | undefined,
) => void;

/** Appends an event to an execution's history, numbered and linked as GetExecutionHistory shows them. */
export function appendHistoryEvent(
  internals: ExecutionInternals,
  history: HistoryEvent[],
  event: Omit<HistoryEvent, 'id' | 'previousEventId' | 'timestamp'>,
  timestamp: number,
  onHistoryEvent: ((execution: LocalExecution, event: HistoryEvent) => void) | undefined,
): void {
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
    onHistoryEvent?.(internals.execution, recorded);
  } catch {
    // A listener (the trace) must not change the execution it listens to.
  }
}

// Parallel branches and Map iterations report their states through the same log; only top-level
// states outside an open Parallel or Map are places a redrive can restart at.
export function resumePointTracker(
  internals: ExecutionInternals,
  topLevelStates: Record<string, unknown>,
): ResumePointTracker {
  let openContainer: string | undefined;
  return (kind, state, mapIndex) => {
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
}

/** Turns the engine's event log of one attempt into AWS history events; resolves when the log ends. */
export async function recordEngineEvents(
  eventLogs: EventLogs,
  attempt: {
    record: ExecutionInternals['record'];
    redriven: boolean;
    taskStates: Map<string, TaskStateInfo>;
    trackResumePoint: ResumePointTracker;
    stopReason: () => ExecutionInternals['stopReason'];
  },
): Promise<void> {
  const { record, redriven, taskStates, trackResumePoint, stopReason } = attempt;
  for await (const event of eventLogs) {
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
        record({ type: 'ExecutionAborted', ...stopReason() }, at);
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
}
