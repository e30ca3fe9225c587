import { type CorrelationIdOf, noCorrelation } from './correlation.js';
import type { HistoryEvent, LocalExecution } from './stepfunctions-engine.js';

/**
 * The live, readable trace of a local cloud: one line per thing that happened, as it happens, aligned for
 * scanning: time, correlation id (what the line is about, when the app's correlationIdOf tells it), what (a
 * state, a function's construct id, a queue, an API route) and how it went.
 *
 *   14:21:54.231 job-42                               POST /jobs               202 12ms
 *   14:21:54.233 job-42                               JobFlow                  started
 *   14:21:54.516 job-42                               Prepare                  ok 280ms
 *   14:21:55.309 job-42                               Publish                  PublishRejected: Channel closed 25ms
 */
export type TraceWriter = (line: string) => void;

const COLORS = { green: 32, red: 31, yellow: 33, cyan: 36, dim: 2 } as const;
type Color = keyof typeof COLORS;

const CORRELATION_WIDTH = 36;
const WHAT_WIDTH = 24;
const MAX_DETAIL = 240;

export interface TracerOptions {
  /** What a payload, an execution's input or a handler's log record is about; nothing is correlated without it. */
  correlationIdOf?: CorrelationIdOf;
  /**
   * How long a handler's log line that names an error waits for the state or invocation line reporting the
   * same error (logs and results come back from a function separately); reported, it is not printed.
   */
  duplicateWindowMs?: number;
}

export interface TaskOutcome {
  error?: string;
  cause?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_DETAIL ? `${flat.slice(0, MAX_DETAIL - 1)}…` : flat;
}

/** The readable part of a Step Functions cause: a Lambda error's errorMessage, or the text itself. */
export function causeMessage(cause: string | undefined): string {
  if (!cause) return '';
  try {
    const parsed: unknown = JSON.parse(cause);
    if (isRecord(parsed) && typeof parsed.errorMessage === 'string') return oneLine(parsed.errorMessage);
  } catch {
    // Plain text: SendTaskFailure causes, Step Functions' own.
  }
  return oneLine(cause);
}

/** `Error: message`, or the error alone when there is no message. */
export function failureText(error: string, message: string): string {
  return message ? `${error}: ${message}` : error;
}

export function createTracer(write: TraceWriter, useColor: boolean, options: TracerOptions = {}) {
  const duplicateWindowMs = options.duplicateWindowMs ?? 250;
  const correlationIdOf = options.correlationIdOf ?? noCorrelation;
  const paint = (color: Color, text: string) =>
    useColor ? `\u001b[${COLORS[color]}m${text}\u001b[0m` : text;
  const line = (
    correlationId: string | undefined,
    what: string,
    outcome: string,
    color: Color,
    ms?: number,
    at = new Date(),
  ) => {
    const time = at.toISOString().slice(11, 23);
    const timing = ms === undefined ? '' : paint('dim', ` ${Math.round(ms)}ms`);
    write(
      `${paint('dim', time)} ${(correlationId ?? '-').padEnd(CORRELATION_WIDTH)} ${what.padEnd(WHAT_WIDTH)} ${paint(color, outcome)}${timing}`,
    );
  };

  // Failures already on a line of their own, so that a handler's log of the same error is not printed again.
  const reported = new Map<string, number>();
  const keyOf = (correlationId: string | undefined, error: string, message: string) =>
    `${correlationId ?? '-'}\u0000${error}\u0000${message}`;
  const remember = (correlationId: string | undefined, error: string, message: string) => {
    const now = Date.now();
    if (reported.size > 1000) {
      for (const [key, at] of reported) if (now - at > 60_000) reported.delete(key);
    }
    reported.set(keyOf(correlationId, error, message), now);
  };
  const failed = (
    correlationId: string | undefined,
    what: string,
    error: string,
    message: string,
    ms?: number,
  ) => {
    remember(correlationId, error, message);
    line(correlationId, what, failureText(error, message), 'red', ms);
  };

  return {
    correlationIdOf,
    /** Setup and housekeeping, not about any one correlation id. */
    info: (message: string) => write(paint('dim', `${new Date().toISOString().slice(11, 23)} ${message}`)),
    /** Something the platform did or noticed: a schedule fired, a batch comes back, a poll failed. */
    note: (correlationId: string | undefined, what: string, message: string) =>
      line(correlationId, what, oneLine(message), 'yellow'),
    executionStarted: (
      correlationId: string | undefined,
      machine: string,
      execution: string,
      redriven = false,
    ) =>
      line(
        correlationId,
        machine,
        `${redriven ? 'redriven' : 'started'}${correlationId === undefined ? ` (execution ${execution})` : ''}`,
        'cyan',
      ),
    executionEnded: (
      correlationId: string | undefined,
      machine: string,
      status: string,
      detail: string,
      ms: number,
    ) =>
      line(
        correlationId,
        machine,
        `${status}${detail ? ` ${detail}` : ''}`,
        status === 'SUCCEEDED' ? 'green' : 'red',
        ms,
      ),
    /** A state ended: a task attempt succeeded, failed or timed out, or another state exited. */
    stateEnded: (correlationId: string | undefined, state: string, outcome: TaskOutcome, ms?: number) => {
      if (outcome.error === undefined) line(correlationId, state, 'ok', 'green', ms);
      else failed(correlationId, state, outcome.error, causeMessage(outcome.cause), ms);
    },
    /** A function run outside Step Functions: by an event source mapping or a schedule. */
    invocation: (
      correlationId: string | undefined,
      fn: string,
      outcome: { ok: true } | { ok: false; error: { errorType: string; errorMessage: string } },
      ms: number,
    ) => {
      if (outcome.ok) line(correlationId, fn, 'ok', 'green', ms);
      else failed(correlationId, fn, outcome.error.errorType, oneLine(outcome.error.errorMessage), ms);
    },
    /** A REST API request: method, path, status; a function error behind a 5xx is named once, here. */
    api: (exchange: {
      correlationId?: string;
      method: string;
      path: string;
      status: number;
      ms: number;
      error?: { errorType: string; errorMessage: string };
    }) => {
      const { correlationId, error } = exchange;
      if (error) remember(correlationId, error.errorType, oneLine(error.errorMessage));
      const detail = error ? ` ${failureText(error.errorType, oneLine(error.errorMessage))}` : '';
      const color: Color = exchange.status >= 500 ? 'red' : exchange.status >= 400 ? 'yellow' : 'green';
      line(
        correlationId,
        `${exchange.method} ${exchange.path}`,
        `${exchange.status}${detail}`,
        color,
        exchange.ms,
      );
    },
    fault: (correlationId: string | undefined, target: string, mode: string) =>
      line(correlationId, target, `fault injected: ${mode}`, 'yellow'),
    /** SQS moved a message that was received too often to the queue's dead-letter queue. */
    deadLetter: (
      correlationId: string | undefined,
      queue: string,
      deadLetterQueue: string,
      maxReceiveCount?: number,
    ) =>
      line(
        correlationId,
        queue,
        `moved to ${deadLetterQueue}${maxReceiveCount === undefined ? '' : ` after ${maxReceiveCount} receive(s)`}`,
        'red',
      ),
    /**
     * A line a function wrote. Only structured warnings and errors are traced, as one line each; one that
     * names an error the trace already reports for the same correlation id (the state or invocation it failed) is not.
     */
    handlerLog: (fn: string, text: string) => {
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch {
        return;
      }
      // Loggers spell levels either way: Powertools writes WARN, others warn.
      const level = isRecord(record) && typeof record.level === 'string' ? record.level.toLowerCase() : '';
      if (!isRecord(record) || (level !== 'warn' && level !== 'error')) return;
      const at = new Date();
      const correlationId = correlationIdOf(record);
      const errorType = typeof record.errorType === 'string' ? record.errorType : undefined;
      const errorMessage = typeof record.errorMessage === 'string' ? oneLine(record.errorMessage) : '';
      const detail = errorType ? failureText(errorType, errorMessage) : errorMessage;
      const message = typeof record.message === 'string' ? record.message : '';
      const print = () =>
        line(
          correlationId,
          fn,
          oneLine(`${level}: ${message}${detail ? ` (${detail})` : ''}`),
          level === 'error' ? 'red' : 'yellow',
          undefined,
          at,
        );
      if (!errorType) {
        print();
        return;
      }
      const key = keyOf(correlationId, errorType, errorMessage);
      const wasReported = () => {
        const when = reported.get(key);
        return when !== undefined && Math.abs(when - at.getTime()) <= 10_000;
      };
      if (wasReported()) return;
      setTimeout(() => {
        if (!wasReported()) print();
      }, duplicateWindowMs).unref();
    },
  };
}

export type Tracer = ReturnType<typeof createTracer>;

const ENDED: Record<string, string> = {
  ExecutionSucceeded: 'SUCCEEDED',
  ExecutionFailed: 'FAILED',
  ExecutionTimedOut: 'TIMED_OUT',
  ExecutionAborted: 'ABORTED',
};
// States whose end is the execution's end: the execution's own line tells it.
const FINAL_STATES = new Set(['Succeed', 'Fail']);

function lastOf(
  history: readonly HistoryEvent[],
  before: number,
  matches: (event: HistoryEvent) => boolean,
): HistoryEvent | undefined {
  for (let index = before - 1; index >= 0; index -= 1) {
    const event = history[index];
    if (event && matches(event)) return event;
  }
  return undefined;
}

const elapsed = (from: HistoryEvent | undefined, to: HistoryEvent) =>
  from ? Date.parse(to.timestamp) - Date.parse(from.timestamp) : undefined;

/**
 * The trace of one state machine's executions, fed with each history event as it is recorded: a line when an
 * execution starts or is redriven, one for every task attempt as it ends (Lambda, service and callback tasks
 * alike, with the error that failed it), one for every other state as it exits, one when the execution ends.
 */
export function traceExecutions(tracer: Tracer, machine: string) {
  return (execution: LocalExecution, event: HistoryEvent): void => {
    const correlationId = tracer.correlationIdOf(execution.input);
    const { history } = execution;
    const position = event.id - 1;
    const state = event.stateName ?? '';
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionRedriven':
        tracer.executionStarted(correlationId, machine, execution.name, event.type === 'ExecutionRedriven');
        return;
      case 'TaskSucceeded':
      case 'TaskFailed':
      case 'TaskTimedOut': {
        const scheduled = lastOf(
          history,
          position,
          (candidate) => candidate.type === 'TaskScheduled' && candidate.stateName === state,
        );
        tracer.stateEnded(
          correlationId,
          state,
          event.type === 'TaskSucceeded'
            ? {}
            : { error: event.error ?? 'States.TaskFailed', cause: event.cause },
          elapsed(scheduled, event),
        );
        return;
      }
    }
    const ended = ENDED[event.type];
    if (ended) {
      const started = lastOf(
        history,
        position,
        (candidate) => candidate.type === 'ExecutionStarted' || candidate.type === 'ExecutionRedriven',
      );
      const lastState = lastOf(history, position, (candidate) =>
        candidate.type.endsWith('StateEntered'),
      )?.stateName;
      const detail = [lastState, event.error && event.error !== lastState ? event.error : undefined]
        .filter(Boolean)
        .join(' ');
      tracer.executionEnded(correlationId, machine, ended, detail, elapsed(started, event) ?? 0);
      return;
    }
    const exitedType = event.type.endsWith('StateExited') ? event.type.slice(0, -'StateExited'.length) : '';
    if (exitedType && exitedType !== 'Task' && !FINAL_STATES.has(exitedType)) {
      const entered = lastOf(
        history,
        position,
        (candidate) => candidate.type === `${exitedType}StateEntered` && candidate.stateName === state,
      );
      tracer.stateEnded(correlationId, state, {}, elapsed(entered, event));
    }
  };
}
