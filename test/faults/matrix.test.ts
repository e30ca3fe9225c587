import { afterAll, describe, expect, it } from 'vitest';
import { eventually, reconcile } from '../local/harness.js';
import { type Cell, matrixCells, SDK_ATTEMPTS } from './cells.js';
import {
  allEdges,
  CALLBACK_RESOURCE,
  edgeOf,
  forwardSteps,
  otherTasks,
  type TaskFailure,
} from './definition.js';
import {
  assertCellInvariants,
  callsFor,
  type FaultSpec,
  failuresIn,
  faultTargets,
  invokeLate,
  resendMessage,
  runSaga,
  sagaDefinition,
  scheduledTask,
} from './driver.js';

/**
 * The fault matrix, generated from the synthesized definition the local cloud runs: every forward step and
 * compensation crossed with every fault kind, then the handlers outside the state machine (the outbox relay,
 * the notifications consumer, the shipping worker) under AWS-call faults on every call they make. Each cell
 * places its own order, with its own SKU and customer, so the cells run side by side; each asserts where the
 * saga ended and the invariants.
 */
const CONFLICTING_WRITE = /^dynamodb:(TransactWriteItems|PutItem|UpdateItem|DeleteItem):/;
const definition = await sagaDefinition();
const targets = await faultTargets();
const cells = matrixCells(definition, targets);
const stepsWritingFirst = new Set([...forwardSteps(definition), ...otherTasks(definition).escalations]);
const sagaTasks = new Set([...forwardSteps(definition), ...Object.values(otherTasks(definition)).flat()]);
const failures: TaskFailure[] = [];

/**
 * Probes: a happy order, one whose pivot fails (every compensation runs), and one reaching each escalation.
 * What their handlers call becomes rows: the handlers outside the state machine under throttling, and each
 * state's own writes under contention.
 */
const probes = await Promise.all(
  [[], ...probeFaults(cells)].map(async (faults) => {
    const run = await runSaga('probe', faults);
    await assertCellInvariants(run);
    return { faults, end: run.end, calls: await callsFor(run.orderId) };
  }),
);
const [happy] = probes;
if (!happy) throw new Error('no happy probe');
const handlerCalls = happy.calls.filter(
  (entry) => !sagaTasks.has(entry.caller) && entry.caller !== 'OrderSaga',
);
const contentionCells = dedupe(
  probes.flatMap((probe) =>
    probe.calls
      // A compensation's table was written first by its own forward step, which a fault would hit instead.
      .filter((entry) => stepsWritingFirst.has(entry.caller) && CONFLICTING_WRITE.test(entry.call))
      .map((entry) => ({
        state: entry.caller,
        call: entry.call,
        faults: [...probe.faults, { target: entry.call, mode: 'conflict', count: 2 }],
        expectedEnd: probe.end,
      })),
  ),
);

afterAll(() => {
  const edges = allEdges(definition);
  const exercised = new Set(failures.map((failure) => edgeOf(definition, failure)).filter(Boolean));
  const missed = edges.filter((edge) => !exercised.has(edge));
  console.log(
    `fault matrix: ${cells.length + contentionCells.length + handlerCalls.length} cells; Retry and Catch edges exercised: ${edges.length - missed.length} of ${edges.length}` +
      (missed.length > 0 ? `\n  not exercised:\n    ${missed.join('\n    ')}` : ''),
  );
});

async function assertLateActionChangesNothing(run: Awaited<ReturnType<typeof runSaga>>, state: string) {
  const scheduled = scheduledTask(run.history, state);
  if (definition.States[state]?.Resource === CALLBACK_RESOURCE) {
    const workerCalls = async () =>
      (await callsFor(run.orderId))
        .filter((entry) => entry.call.startsWith('states:SendTask'))
        .reduce((total, entry) => total + entry.count, 0);
    const before = await workerCalls();
    await resendMessage(scheduled.input);
    // The worker must really have handled the late request, and answered a token that is long closed.
    await eventually('the late request to be handled', async () =>
      (await workerCalls()) > before ? true : undefined,
    );
  } else {
    const outcome = await invokeLate(
      String(scheduled.resource ?? definition.States[state]?.Resource),
      scheduled.input,
    );
    expect(outcome.ok).toBe(false);
    expect(outcome.error?.errorType).toBe('OrderCancelled');
  }
}

describe.concurrent('fault matrix: every step and compensation under every fault', () => {
  for (const cell of cells) {
    const faults = cell.faults.map((fault) => `${fault.target} ${fault.mode} x${fault.count}`).join(', ');
    it(`${cell.state}: ${cell.kind} (${faults}) ends at ${cell.expectedEnd}`, async () => {
      const run = await runSaga(cell.state, cell.faults);
      failures.push(...failuresIn(run.history));
      expect(run.end).toBe(cell.expectedEnd);
      if (cell.lateAction) await assertLateActionChangesNothing(run, cell.state);
      if (cell.reconcileAfter) {
        const answer = await reconcile(run.orderId);
        expect(answer.status, answer.text).toBeLessThan(300);
      }
      await assertCellInvariants(run);
    }, 150_000);
  }
});

describe.concurrent("fault matrix: each state's own writes under contention", () => {
  for (const cell of contentionCells) {
    it(`${cell.state}: ${cell.call} conflicts twice, then succeeds; ends at ${cell.expectedEnd}`, async () => {
      const run = await runSaga(cell.state, cell.faults);
      failures.push(...failuresIn(run.history));
      expect(run.end).toBe(cell.expectedEnd);
      expect(failuresIn(run.history)).toContainEqual({
        state: cell.state,
        error: 'WriteConflict',
        retried: true,
      });
      await assertCellInvariants(run);
    }, 150_000);
  }
});

describe.concurrent('fault matrix: the handlers outside the state machine under AWS-call faults', () => {
  for (const { caller, call } of handlerCalls) {
    it(`${caller}: ${call} throttled past the SDK's ${SDK_ATTEMPTS} attempts; the order still converges`, async () => {
      const run = await runSaga(caller, [{ target: call, mode: 'throttle', count: SDK_ATTEMPTS }]);
      failures.push(...failuresIn(run.history));
      expect(run.end).toBe('OrderConfirmed');
      await assertCellInvariants(run);
    }, 150_000);
  }
});

/** The faults that bring a saga to the pivot's compensations and to each escalation, from the cells. */
function probeFaults(matrix: readonly Cell[]): FaultSpec[][] {
  const reaching = matrix.filter(
    (cell) => cell.kind === 'transient error then success' && !forwardSteps(definition).includes(cell.state),
  );
  return dedupe(reaching.map((cell) => cell.faults.filter((fault) => fault.target !== cell.state)));
}

function dedupe<T>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = JSON.stringify(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
