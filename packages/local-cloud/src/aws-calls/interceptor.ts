import type { CorrelationIdOf } from '../correlation.js';
import type { AwsCallFaultMode } from '../faults.js';
import { FAULTABLE_OPERATIONS, type FaultAnswer, faultAnswer, faultModesOf } from './fault-answers.js';
import { AWS_CALL_SERVICES, type AwsCall, type AwsCallService } from './requests.js';

/** A table, queue or state machine of the template: its local name and its construct path. */
export interface InterceptedResource {
  service: AwsCallService;
  /** The table name, queue name or state machine name the emulators know it by. */
  name: string;
  /** Its construct path without the stack: `Inventory/Table`, `Shipping/Requests`. */
  path: string;
}

/** Who made a call: a function (by its construct id) or a state machine, and about what. */
export interface AwsCaller {
  label: string;
  correlationId?: string;
}

export interface AwsCallFaultTarget {
  target: string;
  modes: readonly AwsCallFaultMode[];
}

export interface AwsCallInterceptorOptions {
  resources: readonly InterceptedResource[];
  /** Known callers only: the local cloud's own clients (pollers, seeding, snapshots) pass untouched. */
  callerOf: (accessKeyId: string) => AwsCaller | undefined;
  /** Uses up one hit of an armed fault among `targets` (the fault registry's take). */
  takeFault: (
    targets: readonly string[],
    correlationId: string | undefined,
    modes: readonly AwsCallFaultMode[],
  ) => AwsCallFaultMode | undefined;
  correlationIdOf: CorrelationIdOf;
  onFault?: (caller: AwsCaller, target: string, mode: AwsCallFaultMode) => void;
}

export interface AwsCallCount {
  caller: string;
  /** `<service>:<Operation>:<construct path>`, or `…:*` for a call that names no resource of the template. */
  call: string;
  /** What the caller was handling (see CorrelationIdOf), when known. */
  correlationId?: string;
  count: number;
}

const WILDCARD = '*';

/**
 * The one layer every AWS call of the functions and the state machines passes on its way to an emulator
 * (DynamoDB Local, fauxqs, the Step Functions API). Each sandbox and each state machine signs with its own
 * dummy key, so the layer knows the caller: it counts the calls, and answers an armed fault the way the real
 * service would. Each call that reaches it uses one hit of a fault's count, SDK retries included, so a
 * throttle with fewer hits than the SDK's attempts is absorbed by the SDK, as on AWS.
 */
export class AwsCallInterceptor {
  private readonly pathOf = new Map<string, string>();
  private readonly counts = new Map<string, AwsCallCount>();

  constructor(private readonly options: AwsCallInterceptorOptions) {
    for (const resource of options.resources)
      this.pathOf.set(`${resource.service}:${resource.name}`, resource.path);
  }

  /** Every target an AWS-call fault may name, with the modes that fit it. */
  targets(): AwsCallFaultTarget[] {
    return AWS_CALL_SERVICES.flatMap((service) => {
      const paths = [
        ...this.options.resources
          .filter((resource) => resource.service === service)
          .map((resource) => resource.path),
        WILDCARD,
      ];
      return FAULTABLE_OPERATIONS[service].flatMap((operation) =>
        paths.map((path) => ({
          target: `${service}:${operation}:${path}`,
          modes: faultModesOf(service, operation),
        })),
      );
    });
  }

  /** The answer of an armed fault for this call, or undefined to let it through to the emulator. */
  intercept(call: AwsCall): FaultAnswer | undefined {
    const caller = call.accessKeyId ? this.options.callerOf(call.accessKeyId) : undefined;
    if (!caller) return undefined;
    const paths = [
      ...new Set(call.resources.flatMap((name) => this.pathOf.get(`${call.service}:${name}`) ?? [])),
    ];
    const correlationId = caller.correlationId ?? this.correlationOfBody(call);
    this.count(caller.label, correlationId, call, paths);
    for (const path of [...paths, WILDCARD]) {
      const target = `${call.service}:${call.operation}:${path}`;
      const mode = this.options.takeFault(
        [target],
        correlationId,
        faultModesOf(call.service, call.operation),
      );
      if (!mode) continue;
      this.options.onFault?.({ ...caller, correlationId }, target, mode);
      const table = path === WILDCARD ? undefined : this.nameOf(call.service, path);
      return faultAnswer(call, mode, table);
    }
    return undefined;
  }

  /** How many calls each caller made, by operation, resource and what it was handling. */
  callCounts(correlationId?: string): AwsCallCount[] {
    return [...this.counts.values()]
      .filter((entry) => correlationId === undefined || entry.correlationId === correlationId)
      .map((entry) => ({ ...entry }));
  }

  private count(caller: string, correlationId: string | undefined, call: AwsCall, paths: string[]): void {
    for (const path of paths.length > 0 ? paths : [WILDCARD]) {
      const name = `${call.service}:${call.operation}:${path}`;
      const key = `${caller}\u0000${name}\u0000${correlationId ?? ''}`;
      const entry = this.counts.get(key) ?? { caller, call: name, correlationId, count: 0 };
      entry.count += 1;
      this.counts.set(key, entry);
    }
  }

  private nameOf(service: AwsCallService, path: string): string | undefined {
    return this.options.resources.find((resource) => resource.service === service && resource.path === path)
      ?.name;
  }

  /** A state machine's message to a queue is about what its body is about (a callback step's request). */
  private correlationOfBody(call: AwsCall): string | undefined {
    const messageBody = call.body.MessageBody;
    return typeof messageBody === 'string'
      ? this.options.correlationIdOf({ Records: [{ body: messageBody }] })
      : undefined;
  }
}
