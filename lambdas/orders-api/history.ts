import { readableCause } from '../orders/orders.js';

/**
 * Turns a Step Functions execution history into the step list GET /orders/{id} shows. Works on the
 * shapes of GetExecutionHistory's events, for Lambda tasks (LambdaFunction*) and service tasks (Task*).
 */

interface Details {
  name?: string;
  output?: string;
  error?: string;
  cause?: string;
}

export interface HistoryEventLike {
  type?: string;
  timestamp?: Date;
  stateEnteredEventDetails?: Details;
  lambdaFunctionSucceededEventDetails?: Details;
  lambdaFunctionFailedEventDetails?: Details;
  lambdaFunctionTimedOutEventDetails?: Details;
  taskSucceededEventDetails?: Details;
  taskFailedEventDetails?: Details;
  taskTimedOutEventDetails?: Details;
}

/** `stopped`: the execution ended (stopped, timed out) while the step ran; a redrive runs it again. */
export type StepOutcome = 'succeeded' | 'failed' | 'timed-out' | 'stopped' | 'running';

export interface StepRecord {
  step: string;
  outcome: StepOutcome;
  /** Attempts made, retries included. */
  attempts: number;
  startedAt: string;
  endedAt?: string;
  error?: { error: string; cause: string };
}

const SCHEDULED = new Set(['LambdaFunctionScheduled', 'TaskScheduled']);
const EXECUTION_ENDS = new Set(['ExecutionAborted', 'ExecutionTimedOut', 'ExecutionFailed']);

function resultOf(event: HistoryEventLike): { outcome: StepOutcome; details: Details } | undefined {
  const candidates: [Details | undefined, StepOutcome][] = [
    [event.lambdaFunctionSucceededEventDetails, 'succeeded'],
    [event.taskSucceededEventDetails, 'succeeded'],
    [event.lambdaFunctionFailedEventDetails, 'failed'],
    [event.taskFailedEventDetails, 'failed'],
    [event.lambdaFunctionTimedOutEventDetails, 'timed-out'],
    [event.taskTimedOutEventDetails, 'timed-out'],
  ];
  const found = candidates.find(([details]) => details !== undefined);
  return found ? { outcome: found[1], details: found[0] ?? {} } : undefined;
}

function parsedOutput(output: string | undefined): unknown {
  try {
    return JSON.parse(output ?? 'null');
  } catch {
    return output;
  }
}

/**
 * The step list, and each succeeded step's output by step name (what the saga keeps under `$.results`, which
 * an operator's completion starts from).
 */
export function stepsFromHistory(events: readonly HistoryEventLike[]): {
  steps: StepRecord[];
  results: Record<string, unknown>;
} {
  const steps: StepRecord[] = [];
  const results: Record<string, unknown> = {};
  let current: StepRecord | undefined;
  for (const event of events) {
    const at = event.timestamp ? new Date(event.timestamp).toISOString() : '';
    if (event.type && EXECUTION_ENDS.has(event.type)) {
      if (current?.outcome === 'running') Object.assign(current, { outcome: 'stopped', endedAt: at });
      continue;
    }
    if (event.type === 'TaskStateEntered') {
      current = {
        step: event.stateEnteredEventDetails?.name ?? 'unknown',
        outcome: 'running',
        attempts: 0,
        startedAt: at,
      };
      steps.push(current);
      continue;
    }
    if (!current) continue;
    if (event.type && SCHEDULED.has(event.type)) {
      current.attempts += 1;
      continue;
    }
    const result = resultOf(event);
    if (!result) continue;
    current.outcome = result.outcome;
    current.endedAt = at;
    if (result.outcome === 'succeeded') {
      delete current.error;
      results[current.step] = parsedOutput(result.details.output);
    } else {
      current.error = {
        error: result.details.error ?? (result.outcome === 'timed-out' ? 'States.Timeout' : 'Unknown'),
        cause: readableCause(result.details.cause),
      };
    }
  }
  return { steps, results };
}
