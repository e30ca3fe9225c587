import { randomUUID } from 'node:crypto';

/**
 * Faults injected by the local cloud (never by handlers):
 * - error: the invocation fails with a non-retryable `InjectedError`, so the saga compensates
 * - transient: it fails with `TransientError`, which the saga retries
 * - timeout: the function runs (it may commit) but its answer never arrives; the state's TimeoutSeconds fires
 * - lost-response: the function runs, then its result is dropped with a transient `Lambda.ServiceException`
 * - duplicate-delivery: the function runs twice on the same input (for queues: every message is delivered twice)
 * - hang: the function never runs and never answers, as when it is stuck before its first line of work; the
 *   runtime ends it at the function's own (time-scaled) timeout with `Sandbox.Timedout`, unless the calling
 *   state's TimeoutSeconds fires first
 */
export const FAULT_MODES = [
  'error',
  'transient',
  'timeout',
  'lost-response',
  'duplicate-delivery',
  'hang',
] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

export interface Fault {
  id: string;
  /** A state name, or a function's name or logical id. */
  target: string;
  mode: FaultMode;
  /** How many more invocations it hits. */
  remaining: number;
  /** Only invocations about this correlation id (see CorrelationIdOf); listed under the registry's field name. */
  correlationId?: string;
}

/** A fault as POST and GET /_local/faults show it: the correlation id under the registry's field name. */
export type FaultView = Omit<Fault, 'correlationId'> & Record<string, unknown>;

export interface FaultRegistryOptions {
  /**
   * The field of a POST /_local/faults body (and of the faults listed) that names the correlation id a fault
   * targets, in the app's own words. Default `correlationId`.
   */
  correlationField?: string;
}

export class FaultValidationError extends Error {
  override name = 'FaultValidationError';
}

const MAX_FAULT_COUNT = 1000;

export class FaultRegistry {
  private faults: Fault[] = [];
  private readonly correlationField: string;

  constructor(options: FaultRegistryOptions = {}) {
    this.correlationField = options.correlationField ?? 'correlationId';
  }

  private view(fault: Fault): FaultView {
    const { correlationId, ...rest } = fault;
    return { ...rest, [this.correlationField]: correlationId };
  }

  /** Validates a POST /_local/faults body and arms the fault it describes. */
  add(body: unknown): FaultView {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new FaultValidationError('body must be an object with target, mode and count');
    }
    const {
      target,
      mode,
      count,
      [this.correlationField]: correlationId,
      ...rest
    } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new FaultValidationError(`unknown field(s): ${unknown.join(', ')}`);
    if (typeof target !== 'string' || target.trim() === '')
      throw new FaultValidationError('target must be a non-empty string');
    if (typeof mode !== 'string' || !(FAULT_MODES as readonly string[]).includes(mode)) {
      throw new FaultValidationError(`mode must be one of ${FAULT_MODES.join(', ')}`);
    }
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1 || count > MAX_FAULT_COUNT) {
      throw new FaultValidationError(`count must be an integer from 1 to ${MAX_FAULT_COUNT}`);
    }
    if (correlationId !== undefined && (typeof correlationId !== 'string' || correlationId === '')) {
      throw new FaultValidationError(`${this.correlationField}, when given, must be a non-empty string`);
    }
    const fault: Fault = {
      id: randomUUID(),
      target,
      mode: mode as FaultMode,
      remaining: count,
      correlationId,
    };
    this.faults.push(fault);
    return this.view(fault);
  }

  clear(): void {
    this.faults = [];
  }

  list(): FaultView[] {
    return this.faults.map((fault) => this.view(fault));
  }

  /** Uses up one hit of the first armed fault that matches, if any. */
  take(
    targets: readonly string[],
    correlationId: string | undefined,
    modes: readonly FaultMode[] = FAULT_MODES,
  ): FaultMode | undefined {
    const fault = this.faults.find(
      (candidate) =>
        candidate.remaining > 0 &&
        targets.includes(candidate.target) &&
        modes.includes(candidate.mode) &&
        (candidate.correlationId === undefined || candidate.correlationId === correlationId),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    return fault.mode;
  }
}
