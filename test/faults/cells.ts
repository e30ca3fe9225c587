import {
  CALLBACK_RESOURCE,
  expectedEnd,
  forwardSteps,
  maxAttemptsOf,
  otherTasks,
  retrierFor,
  type SagaDefinition,
} from './definition.js';
import type { FaultSpec } from './driver.js';

/** One cell of the matrix: the faults armed for one order, and where its saga must end. */
export interface Cell {
  state: string;
  kind: string;
  faults: FaultSpec[];
  expectedEnd: string;
  /** A late redelivery of the state's action after the saga ended, which must change nothing. */
  lateAction?: boolean;
  /** The saga ends without recording its end on the order: reconcile (the sweeper's rules) must settle it. */
  reconcileAfter?: boolean;
}

/** How the SDK inside a handler or the engine retries before an error reaches the state: its default attempts. */
export const SDK_ATTEMPTS = 3;

/** A fault mode at a state, the error the state then sees, and how many times. */
interface Injection {
  kind: string;
  fault: (state: string) => FaultSpec;
  error: string;
  failures: number;
}

const lambdaInjections = (definition: SagaDefinition, state: string): Injection[] => {
  const transientRetry = retrierFor(definition.States[state] ?? { Type: 'Task' }, 'TransientError');
  const budget = transientRetry ? maxAttemptsOf(transientRetry.retrier) : 0;
  const at =
    (mode: string, count = 1) =>
    (target: string) => ({ target, mode, count });
  return [
    { kind: 'business error', fault: at('error'), error: 'InjectedError', failures: 1 },
    { kind: 'transient error then success', fault: at('transient'), error: 'TransientError', failures: 1 },
    {
      kind: 'transient errors past the retry budget',
      fault: at('transient', budget + 1),
      error: 'TransientError',
      failures: budget + 1,
    },
    { kind: 'timeout with unknown outcome', fault: at('timeout'), error: 'States.Timeout', failures: 1 },
    {
      kind: 'lost response after commit',
      fault: at('lost-response'),
      error: 'Lambda.ServiceException',
      failures: 1,
    },
    { kind: 'duplicate delivery', fault: at('duplicate-delivery'), error: '', failures: 0 },
    { kind: 'hang', fault: at('hang'), error: 'Sandbox.Timedout', failures: 1 },
  ];
};

/**
 * At a callback state a transient failure is its SendMessage failing: SDK_ATTEMPTS answers of the queue's 500
 * exhaust the engine's SDK once and fail the state with SQS's service exception.
 */
const callbackInjections = (definition: SagaDefinition, state: string, sendTarget: string): Injection[] => {
  const sqsError = 'SQS.AmazonSQSException';
  const retry = retrierFor(definition.States[state] ?? { Type: 'Task' }, sqsError);
  const budget = retry ? maxAttemptsOf(retry.retrier) : 0;
  const at =
    (mode: string, count = 1) =>
    (target: string) => ({ target, mode, count });
  return [
    { kind: 'business error', fault: at('error'), error: 'InjectedError', failures: 1 },
    {
      kind: 'transient error then success',
      fault: () => ({ target: sendTarget, mode: 'unavailable', count: SDK_ATTEMPTS }),
      error: sqsError,
      failures: 1,
    },
    {
      kind: 'transient errors past the retry budget',
      fault: () => ({ target: sendTarget, mode: 'unavailable', count: SDK_ATTEMPTS * (budget + 1) }),
      error: sqsError,
      failures: budget + 1,
    },
    {
      kind: 'timeout with unknown outcome',
      fault: at('timeout'),
      error: 'States.HeartbeatTimeout',
      failures: 1,
    },
    {
      kind: 'lost response after commit',
      fault: at('lost-response'),
      error: 'States.HeartbeatTimeout',
      failures: 1,
    },
    { kind: 'duplicate delivery', fault: at('duplicate-delivery'), error: '', failures: 0 },
  ];
};

const endOf = (definition: SagaDefinition, state: string, injection: Injection) =>
  expectedEnd(definition, state, injection.error, injection.failures);

/** The SendMessage target of a callback state's queue, found among the catalogue's targets by its name. */
export function sendTargetOf(queueUrl: string, targets: readonly string[]): string {
  const squash = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');
  const queueName = squash(queueUrl.split('/').at(-1) ?? '');
  const target = targets.find(
    (candidate) =>
      candidate.startsWith('sqs:SendMessage:') &&
      candidate !== 'sqs:SendMessage:*' &&
      queueName.endsWith(squash(candidate.slice('sqs:SendMessage:'.length))),
  );
  if (!target) throw new Error(`No SendMessage target for ${queueUrl}`);
  return target;
}

/**
 * Every forward step and every compensation crossed with every fault kind that applies to it, plus each
 * escalation with a transient error; expected ends come from the definition. A compensation is reached by
 * failing the pivot (the last step that can still be undone), so every compensation runs.
 */
export function matrixCells(definition: SagaDefinition, targets: readonly string[]): Cell[] {
  const forward = forwardSteps(definition);
  const { compensations, escalations } = otherTasks(definition);
  const injectionsAt = (state: string): Injection[] => {
    const definitionOfState = definition.States[state];
    if (definitionOfState?.Resource === CALLBACK_RESOURCE) {
      const queueUrl = String(definitionOfState.Parameters?.QueueUrl ?? '');
      return callbackInjections(definition, state, sendTargetOf(queueUrl, targets));
    }
    return lambdaInjections(definition, state);
  };
  const cells: Cell[] = [];

  for (const state of forward) {
    for (const injection of injectionsAt(state)) {
      cells.push({
        state,
        kind: injection.kind,
        faults: [injection.fault(state)],
        expectedEnd: endOf(definition, state, injection),
      });
    }
    const hasCompensation = compensations.some((compensation) =>
      (definition.States[state]?.Catch ?? []).some((catcher) => catcher.Next === compensation),
    );
    if (hasCompensation) {
      cells.push({
        state,
        kind: 'compensation before action, then the action arrives late',
        faults: [{ target: state, mode: 'error', count: 1 }],
        expectedEnd: expectedEnd(definition, state, 'InjectedError', 1),
        lateAction: true,
      });
    }
  }

  // The pivot is the last forward step whose failure is compensated: failing it runs every compensation.
  const pivot = [...forward]
    .reverse()
    .find((state) =>
      (definition.States[state]?.Catch ?? []).some((catcher) => compensations.includes(catcher.Next)),
    );
  if (!pivot) throw new Error('No compensated step to fail');
  const toCompensate: FaultSpec = { target: pivot, mode: 'error', count: 1 };
  for (const compensation of compensations) {
    for (const injection of lambdaInjections(definition, compensation)) {
      cells.push({
        state: compensation,
        kind: injection.kind,
        faults: [toCompensate, injection.fault(compensation)],
        expectedEnd: endOf(definition, compensation, injection),
      });
    }
  }

  // An escalation is reached by running out the budget of a state that catches into it.
  for (const escalation of escalations) {
    const feeder = Object.entries(definition.States).find(
      ([, state]) =>
        state.Type === 'Task' && (state.Catch ?? []).some((catcher) => catcher.Next === escalation),
    );
    if (!feeder) continue;
    const [feederName, feederState] = feeder;
    const feederBudget = maxAttemptsOf(
      retrierFor(feederState, 'TransientError')?.retrier ?? { ErrorEquals: [] },
    );
    const reach: FaultSpec[] = forward.includes(feederName)
      ? [{ target: feederName, mode: 'transient', count: feederBudget + 1 }]
      : [toCompensate, { target: feederName, mode: 'transient', count: feederBudget + 1 }];
    const escalationBudget = maxAttemptsOf(
      retrierFor(definition.States[escalation] ?? { Type: 'Task' }, 'TransientError')?.retrier ?? {
        ErrorEquals: [],
      },
    );
    cells.push(
      {
        state: escalation,
        kind: 'transient error then success',
        faults: [...reach, { target: escalation, mode: 'transient', count: 1 }],
        expectedEnd: expectedEnd(definition, escalation, 'TransientError', 1),
      },
      {
        state: escalation,
        kind: 'transient errors past the retry budget, then reconcile',
        faults: [...reach, { target: escalation, mode: 'transient', count: escalationBudget + 1 }],
        expectedEnd: expectedEnd(definition, escalation, 'TransientError', escalationBudget + 1),
        reconcileAfter: true,
      },
    );
  }
  return cells;
}
