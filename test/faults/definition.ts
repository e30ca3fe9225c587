/**
 * Reading a synthesized saga definition the way Step Functions runs it: which states are forward steps,
 * compensations and escalations, which retrier or catcher an error meets, and where a failure ends. The fault
 * matrix derives its cells and expected outcomes from this, so a new step gets its rows without anyone writing
 * them, and the edge coverage is counted against the same reading.
 */

export interface Retrier {
  ErrorEquals: string[];
  MaxAttempts?: number;
}
export interface Catcher {
  ErrorEquals: string[];
  Next: string;
}
export interface StateDefinition {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  Next?: string;
  End?: boolean;
  Error?: string;
  Retry?: Retrier[];
  Catch?: Catcher[];
  TimeoutSeconds?: number;
  HeartbeatSeconds?: number;
}
export interface SagaDefinition {
  StartAt: string;
  States: Record<string, StateDefinition>;
}

export const CALLBACK_RESOURCE = 'arn:aws:states:::sqs:sendMessage.waitForTaskToken';

/**
 * Step Functions' own matching: exact name, States.ALL, States.Timeout for a heartbeat timeout too, or
 * States.TaskFailed for any task error but a timeout.
 */
export function errorMatches(errorEquals: readonly string[], error: string): boolean {
  return (
    errorEquals.includes(error) ||
    errorEquals.includes('States.ALL') ||
    (error === 'States.HeartbeatTimeout' && errorEquals.includes('States.Timeout')) ||
    (errorEquals.includes('States.TaskFailed') &&
      error !== 'States.Timeout' &&
      error !== 'States.HeartbeatTimeout')
  );
}

const DEFAULT_MAX_ATTEMPTS = 3;

export function retrierFor(
  state: StateDefinition,
  error: string,
): { index: number; retrier: Retrier } | undefined {
  const index = (state.Retry ?? []).findIndex((retrier) => errorMatches(retrier.ErrorEquals, error));
  const retrier = state.Retry?.[index];
  return retrier ? { index, retrier } : undefined;
}

export function catcherFor(
  state: StateDefinition,
  error: string,
): { index: number; catcher: Catcher } | undefined {
  const index = (state.Catch ?? []).findIndex((catcher) => errorMatches(catcher.ErrorEquals, error));
  const catcher = state.Catch?.[index];
  return catcher ? { index, catcher } : undefined;
}

export const maxAttemptsOf = (retrier: Retrier) => retrier.MaxAttempts ?? DEFAULT_MAX_ATTEMPTS;

function stateOf(definition: SagaDefinition, name: string): StateDefinition {
  const state = definition.States[name];
  if (!state) throw new Error(`No state ${name}`);
  return state;
}

/** The forward path: from StartAt along Next through Task states, up to the Succeed state. */
export function forwardSteps(definition: SagaDefinition): string[] {
  const steps: string[] = [];
  let current: string | undefined = definition.StartAt;
  while (current && stateOf(definition, current).Type === 'Task') {
    steps.push(current);
    current = stateOf(definition, current).Next;
  }
  return steps;
}

/** An escalation ends in the Fail state it also catches into: nothing after it but a person. */
function isEscalation(definition: SagaDefinition, name: string): boolean {
  const state = stateOf(definition, name);
  const next = state.Next ? definition.States[state.Next] : undefined;
  return next?.Type === 'Fail' && (state.Catch ?? []).every((catcher) => catcher.Next === state.Next);
}

/** Every Task that is not a forward step: compensations (the final one included) and escalations. */
export function otherTasks(definition: SagaDefinition): { compensations: string[]; escalations: string[] } {
  const forward = new Set(forwardSteps(definition));
  const tasks = Object.entries(definition.States)
    .filter(([name, state]) => state.Type === 'Task' && !forward.has(name))
    .map(([name]) => name);
  return {
    compensations: tasks.filter((name) => !isEscalation(definition, name)),
    escalations: tasks.filter((name) => isEscalation(definition, name)),
  };
}

/** Where a run that continues normally from `name` ends: a Fail state's error, or the Succeed state's name. */
export function endFrom(definition: SagaDefinition, name: string): string {
  let current = name;
  for (let hops = 0; hops <= Object.keys(definition.States).length; hops++) {
    const state = stateOf(definition, current);
    if (state.Type === 'Fail') return state.Error ?? current;
    if (state.Type === 'Succeed' || state.End || !state.Next) return current;
    current = state.Next;
  }
  throw new Error(`No end from ${name}`);
}

/**
 * Where an execution ends when `state` fails `failures` times in a row with `error` and then succeeds (or keeps
 * failing, for Infinity), everything else going well.
 */
export function expectedEnd(
  definition: SagaDefinition,
  stateName: string,
  error: string,
  failures: number,
): string {
  const state = stateOf(definition, stateName);
  if (failures === 0) return endFrom(definition, stateName);
  const retry = retrierFor(state, error);
  if (retry && failures <= maxAttemptsOf(retry.retrier)) return endFrom(definition, stateName);
  const caught = catcherFor(state, error);
  if (!caught) return `uncaught ${error}`;
  return endFrom(definition, caught.catcher.Next);
}

/** Every Retry and Catch edge of the definition, as `State Retry[i]` / `State Catch[i]`. */
export function allEdges(definition: SagaDefinition): string[] {
  return Object.entries(definition.States).flatMap(([name, state]) => [
    ...(state.Retry ?? []).map(
      (_retrier, index) => `${name} Retry[${index}] ${state.Retry?.[index]?.ErrorEquals.join('|')}`,
    ),
    ...(state.Catch ?? []).map(
      (_catcher, index) => `${name} Catch[${index}] -> ${state.Catch?.[index]?.Next}`,
    ),
  ]);
}

/** A task's failure as its execution history records it. */
export interface TaskFailure {
  state: string;
  error: string;
  /** The state entered next after this failure settled: the same state for a retry, the catcher's Next otherwise. */
  retried: boolean;
}

/** The Retry or Catch edge a failure took. */
export function edgeOf(definition: SagaDefinition, failure: TaskFailure): string | undefined {
  const state = definition.States[failure.state];
  if (!state) return undefined;
  if (failure.retried) {
    const retry = retrierFor(state, failure.error);
    return retry
      ? `${failure.state} Retry[${retry.index}] ${retry.retrier.ErrorEquals.join('|')}`
      : undefined;
  }
  const caught = catcherFor(state, failure.error);
  return caught ? `${failure.state} Catch[${caught.index}] -> ${caught.catcher.Next}` : undefined;
}
