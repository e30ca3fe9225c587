import { type FaultRegistry, LAMBDA_FAULT_MODES, type LambdaFaultMode } from './faults.js';
import {
  LAMBDA_TIMEOUT_ERROR_TYPE,
  type LambdaFunctionConfig,
  type LambdaInvocationResult,
  type LambdaRunner,
  scaledFunctionTimeoutMs,
  unqualifiedFunctionArn,
} from './lambda-runner.js';
import { sleep } from './sleep.js';
import type { LambdaInvokeOutcome, LambdaInvoker, TaskInvocation } from './stepfunctions-engine.js';
import type { Tracer } from './trace.js';

function failure(errorType: string, errorMessage: string): LambdaInvokeOutcome {
  return { ok: false, error: { errorType, errorMessage, trace: [] } };
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Waits `ms`, or less if `signal` aborts first; the timer goes either way, so nothing outlives the caller. */
function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return sleep(ms);
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Every Lambda invocation of the local cloud goes through here: Step Functions tasks, API routes and
 * event sources alike. It applies armed faults, by state or function name, and traces the calls nobody else
 * traces: those of event sources and schedules, by the function's construct id. A Step Functions task is
 * traced by its state (traceExecutions), an API call by its route (untraced()).
 */
export class FaultInjectingInvoker implements LambdaInvoker {
  constructor(
    private readonly runner: LambdaRunner,
    private readonly faults: FaultRegistry,
    private readonly tracer: Tracer,
    private readonly timeScale = 1,
    /** Construct ids by function name ('ShippingWorker'): stable across deploys, unlike hashed logical ids. */
    private readonly constructIds: ReadonlyMap<string, string> = new Map(),
  ) {}

  private configOf(functionNameOrArn: string): LambdaFunctionConfig | undefined {
    const unqualified = unqualifiedFunctionArn(functionNameOrArn);
    return this.runner
      .functions()
      .find((config) => config.functionArn === unqualified || config.functionName === unqualified);
  }

  /** Names a fault may target for this invocation: the state, the function name, the logical id. */
  targetsOf(functionNameOrArn: string, stateName?: string): string[] {
    const config = this.configOf(functionNameOrArn);
    const constructId = config ? this.constructIds.get(config.functionName) : undefined;
    return [stateName, constructId, config?.functionName, config?.logicalId, functionNameOrArn].filter(
      (name): name is string => typeof name === 'string',
    );
  }

  /** The short name the trace uses for a function: its construct id when the template has it. */
  labelOf(functionNameOrArn: string): string {
    const config = this.configOf(functionNameOrArn);
    return (
      (config && this.constructIds.get(config.functionName)) ?? config?.functionName ?? functionNameOrArn
    );
  }

  invoke(functionNameOrArn: string, payload: unknown, task?: TaskInvocation): Promise<LambdaInvokeOutcome> {
    return this.run(functionNameOrArn, payload, task, task === undefined);
  }

  /** The same invoker (faults included) for a caller that traces its calls itself, such as the REST API. */
  untraced(): LambdaInvoker {
    return {
      invoke: (functionNameOrArn, payload, task) => this.run(functionNameOrArn, payload, task, false),
    };
  }

  private async run(
    functionNameOrArn: string,
    payload: unknown,
    task: TaskInvocation | undefined,
    traced: boolean,
  ): Promise<LambdaInvokeOutcome> {
    const targets = this.targetsOf(functionNameOrArn, task?.stateName);
    const label = task?.stateName ?? this.labelOf(functionNameOrArn);
    const correlationId = this.tracer.correlationIdOf(payload);
    const mode = this.faults.take(targets, correlationId, LAMBDA_FAULT_MODES);
    if (mode) this.tracer.fault(correlationId, label, mode);
    const started = Date.now();
    const outcome = await this.invokeWith(mode, functionNameOrArn, payload, task);
    if (traced) this.tracer.invocation(correlationId, label, outcome, Date.now() - started);
    return outcome;
  }

  private async invokeWith(
    mode: LambdaFaultMode | undefined,
    functionNameOrArn: string,
    payload: unknown,
    task: TaskInvocation | undefined,
  ): Promise<LambdaInvokeOutcome> {
    const run = (): Promise<LambdaInvocationResult> => this.runner.invoke(functionNameOrArn, payload);
    const functionTimeoutMs = () =>
      scaledFunctionTimeoutMs(this.configOf(functionNameOrArn)?.timeoutSeconds ?? 3, this.timeScale);
    switch (mode) {
      case 'error':
        return failure('InjectedError', `Fault injected into ${this.labelOf(functionNameOrArn)}`);
      case 'transient':
        return failure('TransientError', `Transient fault injected into ${this.labelOf(functionNameOrArn)}`);
      case 'timeout': {
        await run();
        // The answer is lost: a state's own timeout moves the saga on; any other caller sees the function time out.
        if (task) await waitForAbort(task.signal);
        else await sleep(functionTimeoutMs());
        return failure(LAMBDA_TIMEOUT_ERROR_TYPE, 'Task timed out (injected)');
      }
      case 'hang': {
        // Unlike `timeout`, the function's own timeout ends it even under a Step Functions task; a state
        // TimeoutSeconds that fires first aborts the signal and the wait with it.
        const timeoutMs = functionTimeoutMs();
        await sleepUnlessAborted(timeoutMs, task?.signal);
        return failure(
          LAMBDA_TIMEOUT_ERROR_TYPE,
          `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds (injected hang)`,
        );
      }
      case 'lost-response':
        await run();
        return failure('Lambda.ServiceException', 'The function ran but its response was lost (injected)');
      case 'duplicate-delivery': {
        // At the same time, as a redelivery that races the first delivery: only then do handlers that are
        // idempotent one after the other but not under overlap (check, then write) show their bug.
        const [first] = await Promise.all([run(), run()]);
        return first;
      }
      default:
        return run();
    }
  }
}
