import { randomUUID } from 'node:crypto';

/**
 * Faults injected by the local cloud (never by handlers). At a Lambda target (a state that invokes a function,
 * or a function by construct id, name or logical id):
 * - error: the invocation fails with a non-retryable `InjectedError`, so the saga compensates
 * - transient: it fails with `TransientError`, which the saga retries
 * - timeout: the function runs (it may commit) but its answer never arrives; the state's TimeoutSeconds fires
 * - lost-response: the function runs, then its result is dropped with a transient `Lambda.ServiceException`
 * - duplicate-delivery: the function runs twice on the same input, both copies at once, as a redelivery racing
 *   the first delivery does; the caller sees the first copy's outcome. For queues and streams: every batch is
 *   delivered twice at once, and the first copy's outcome decides what is deleted or retried.
 * - hang: the function never runs and never answers, as when it is stuck before its first line of work; the
 *   runtime ends it at the function's own (time-scaled) timeout with `Sandbox.Timedout`, unless the calling
 *   state's TimeoutSeconds fires first
 *
 * At a callback state (`sqs:sendMessage.waitForTaskToken`), what goes wrong is the worker's side of the token:
 * - timeout: the request message is never delivered, so the state's heartbeat or timeout fires
 * - lost-response: the message is delivered and the worker commits, but its SendTaskSuccess (or Failure) is
 *   answered as usual and never reaches the execution; heartbeat or timeout fires
 * - error: the message is not delivered and the task fails as if the worker had sent SendTaskFailure with
 *   `InjectedError`
 * - duplicate-delivery: the message is sent twice with the same token; the second answer gets the error of an
 *   already completed token
 *
 * At an AWS-call target (`<service>:<Operation>:<construct path>`), a call of a handler to an emulator fails
 * as AWS fails it: throttle, conflict, unavailable.
 *
 * Only names in the registry's catalogue (addTargets) are accepted, each with the modes that mean something there:
 * a fault at a name that is never invoked would silently never fire.
 */
export const LAMBDA_FAULT_MODES = [
  'error',
  'transient',
  'timeout',
  'lost-response',
  'duplicate-delivery',
  'hang',
] as const;
export const AWS_CALL_FAULT_MODES = ['throttle', 'conflict', 'unavailable'] as const;
export const FAULT_MODES = [...LAMBDA_FAULT_MODES, ...AWS_CALL_FAULT_MODES] as const;
export type FaultMode = (typeof FAULT_MODES)[number];
export type LambdaFaultMode = (typeof LAMBDA_FAULT_MODES)[number];
export type AwsCallFaultMode = (typeof AWS_CALL_FAULT_MODES)[number];
/** What a `.waitForTaskToken` state that sends to SQS can suffer (see above). */
export const CALLBACK_FAULT_MODES = ['error', 'timeout', 'lost-response', 'duplicate-delivery'] as const;
export type CallbackFaultMode = (typeof CALLBACK_FAULT_MODES)[number];

/** A name faults may target and the modes that make sense there. */
export interface FaultTargetEntry {
  target: string;
  modes: readonly FaultMode[];
}

export interface Fault {
  id: string;
  /** A name in the registry's catalogue: a state, a function, a queue, an AWS call. */
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

  constructor(
    message: string,
    /** Every valid target, when the target was not one. */
    readonly validTargets?: string[],
    /** The modes valid for the target, when the mode was not one of them. */
    readonly validModes?: FaultMode[],
  ) {
    super(message);
  }
}

const MAX_FAULT_COUNT = 1000;

export class FaultRegistry {
  private faults: Fault[] = [];
  private readonly correlationField: string;
  // Undefined until the first addTargets: a bare registry (unit use) accepts any target.
  private catalogue?: Map<string, Set<FaultMode>>;

  constructor(options: FaultRegistryOptions = {}) {
    this.correlationField = options.correlationField ?? 'correlationId';
  }

  private view(fault: Fault): FaultView {
    const { correlationId, ...rest } = fault;
    return { ...rest, [this.correlationField]: correlationId };
  }

  /** Adds valid targets to the catalogue; a target added twice may take the modes of both entries. */
  addTargets(entries: readonly FaultTargetEntry[]): void {
    this.catalogue ??= new Map();
    for (const { target, modes } of entries) {
      const known = this.catalogue.get(target) ?? new Set<FaultMode>();
      for (const mode of modes) known.add(mode);
      this.catalogue.set(target, known);
    }
  }

  /** Every valid target name, sorted; empty without a catalogue. */
  targets(): string[] {
    return [...(this.catalogue?.keys() ?? [])].sort();
  }

  private modesOf(target: string): FaultMode[] | undefined {
    const modes = this.catalogue?.get(target);
    // In FAULT_MODES order, which groups them as the documentation does.
    return modes && FAULT_MODES.filter((mode) => modes.has(mode));
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
      throw new FaultValidationError('target must be a non-empty string', this.catalogue && this.targets());
    const validModes = this.catalogue ? this.modesOf(target) : [...FAULT_MODES];
    if (!validModes) {
      throw new FaultValidationError(
        `unknown target ${JSON.stringify(target)}: nothing by that name is invoked (see validTargets)`,
        this.targets(),
      );
    }
    if (typeof mode !== 'string' || !(validModes as readonly string[]).includes(mode)) {
      const known = (FAULT_MODES as readonly string[]).includes(String(mode));
      throw new FaultValidationError(
        known
          ? `mode ${mode} does not apply to ${target}: use one of ${validModes.join(', ')}`
          : `mode must be one of ${validModes.join(', ')}`,
        undefined,
        validModes,
      );
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
  take<M extends FaultMode = FaultMode>(
    targets: readonly string[],
    correlationId: string | undefined,
    modes: readonly M[] = FAULT_MODES as readonly FaultMode[] as readonly M[],
  ): M | undefined {
    const fault = this.faults.find(
      (candidate) =>
        candidate.remaining > 0 &&
        targets.includes(candidate.target) &&
        (modes as readonly FaultMode[]).includes(candidate.mode) &&
        (candidate.correlationId === undefined || candidate.correlationId === correlationId),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    return fault.mode as M;
  }
}
