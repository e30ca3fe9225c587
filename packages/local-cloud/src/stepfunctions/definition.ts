import { isRecord } from '../template.js';

import type { JsonValue } from './tasks.js';

// Literal that replaces $$.Task.Token in Parameters: the engine has no task token in its context object.
const TASK_TOKEN_PLACEHOLDER = '@@LOCAL_TASK_TOKEN@@';
// Literal that replaces $$.State.RetryCount in Parameters: the engine's context object has no State either.
const RETRY_COUNT_PLACEHOLDER = '@@LOCAL_STATE_RETRY_COUNT@@';
export const WAIT_FOR_TASK_TOKEN_SUFFIX = '.waitForTaskToken';
// AWS's default task timeout is 99999999 s, beyond what setTimeout can hold; the engine's default is 60 s.
export const MAX_TIMER_SECONDS = 2_000_000;

type StateDefinition = Record<string, unknown>;

function replaceContextReferences(parameters: unknown): unknown {
  if (Array.isArray(parameters)) {
    return parameters.map(replaceContextReferences);
  }
  if (!isRecord(parameters)) {
    return parameters;
  }
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (key.endsWith('.$') && value === '$$.Task.Token') {
      result[key.slice(0, -2)] = TASK_TOKEN_PLACEHOLDER;
    } else if (key.endsWith('.$') && value === '$$.State.RetryCount') {
      result[key.slice(0, -2)] = RETRY_COUNT_PLACEHOLDER;
    } else if (key.endsWith('.$') && typeof value === 'string' && value.includes('$$.Task.Token')) {
      // Inside intrinsic functions such as States.Format(..., $$.Task.Token) a string literal works.
      result[key] = value.replaceAll('$$.Task.Token', `'${TASK_TOKEN_PLACEHOLDER}'`);
    } else {
      result[key] = replaceContextReferences(value);
    }
  }
  return result;
}

/** Puts the attempt's retry count where Parameters named $$.State.RetryCount. */
export function substituteRetryCount(value: JsonValue, retryCount: number): JsonValue {
  if (value === RETRY_COUNT_PLACEHOLDER) return retryCount;
  if (Array.isArray(value)) return value.map((item) => substituteRetryCount(item, retryCount));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteRetryCount(item, retryCount)]),
    );
  }
  return value;
}

/** Attempts of the state before this one since it was last entered: what AWS gives as $$.State.RetryCount. */
export function retriesSinceEntered(
  history: readonly { type: string; stateName?: string }[],
  stateName: string,
): number {
  let retries = 0;
  for (let index = history.length - 1; index >= 0; index -= 1) {
    const event = history[index];
    if (event?.stateName !== stateName) continue;
    if (event.type.endsWith('StateEntered')) break;
    if (event.type === 'TaskScheduled') retries += 1;
  }
  return retries;
}

export function substituteTaskToken(value: JsonValue, token: string): JsonValue {
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

export function scaled(seconds: number, timeScale: number): number {
  return Math.min(seconds * timeScale, MAX_TIMER_SECONDS);
}

export interface TaskStateInfo {
  resource: string;
  heartbeatSeconds?: number;
  timeoutSeconds?: number;
}

/**
 * Rewrites a definition for the engine: scales TimeoutSeconds, retry intervals and Wait seconds, gives tasks
 * AWS's near-infinite default timeout, and swaps $$.Task.Token and $$.State.RetryCount for placeholders.
 * Fractional seconds work in the engine but fail its validator, so validate the original definition first.
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
      if (state.Parameters !== undefined) {
        state.Parameters = replaceContextReferences(state.Parameters);
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
