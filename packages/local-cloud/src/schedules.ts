import { randomUUID } from 'node:crypto';
import {
  type ScheduleDefinition,
  type ScheduleTarget,
  schedulesFromTemplate,
} from './schedule-definitions.js';
import type { LambdaInvokeOutcome, LambdaInvoker } from './stepfunctions-engine.js';
import { type CfnTemplate, isRecord, type ResolveContext } from './template.js';

export {
  type ParsedScheduleExpression,
  parseScheduleExpression,
  type ScheduleDefinition,
  ScheduleExpressionError,
  type ScheduleTarget,
  schedulesFromTemplate,
} from './schedule-definitions.js';

/** Raised by runNow for a name that matches no schedule; the HTTP layer answers 404. */
export class UnknownScheduleError extends Error {
  override name = 'UnknownSchedule';
}

export interface ScheduledEvent {
  version: '0';
  id: string;
  'detail-type': 'Scheduled Event';
  source: 'aws.events';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, never>;
}

/** The event EventBridge sends for a scheduled rule; time is whole seconds, as on AWS. */
export function scheduledEvent(ruleArn: string, ctx: ResolveContext, now = new Date()): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ctx.accountId,
    time: `${now.toISOString().slice(0, 19)}Z`,
    region: ctx.region,
    resources: [ruleArn],
    detail: {},
  };
}

// InputPath locally: $ or a dotted path ($.detail.x), enough for the scheduled event's flat shape.
function selectPath(value: unknown, path: string): unknown {
  if (!/^\$(\.[A-Za-z0-9_-]+)*$/.test(path)) {
    throw new Error(`InputPath ${path}: only $ and $.a.b paths are emulated`);
  }
  let current = value;
  for (const key of path.split('.').slice(1)) {
    current = isRecord(current) ? current[key] : undefined;
  }
  return current;
}

export function targetPayload(target: ScheduleTarget, event: ScheduledEvent): unknown {
  switch (target.input.kind) {
    case 'constant':
      return target.input.value;
    case 'path':
      return selectPath(event, target.input.path);
    default:
      return event;
  }
}

export interface ScheduleTargetOutcome {
  targetId: string;
  functionArn: string;
  durationMs: number;
  outcome: LambdaInvokeOutcome;
}

export interface ScheduleRunOutcome {
  name: string;
  logicalId: string;
  trigger: 'timer' | 'manual';
  targets: ScheduleTargetOutcome[];
}

export interface ScheduleInfo {
  name: string;
  logicalId: string;
  arn: string;
  expression: string;
  enabled: boolean;
  // Local firing period after timeScale; undefined when the schedule only runs on demand.
  localPeriodMs?: number;
  fired: number;
  unsupportedTargets: string[];
}

export interface LocalSchedules {
  names(): string[];
  list(): ScheduleInfo[];
  /** Fires a schedule now, whatever its timer, and resolves once every target has answered. */
  runNow(nameOrLogicalId: string): Promise<ScheduleRunOutcome>;
  stop(): void;
}

export interface StartSchedulesOptions {
  template: CfnTemplate;
  ctx: ResolveContext;
  invoker: LambdaInvoker;
  // Multiplies every period: 0.01 fires rate(5 minutes) every 3 s.
  timeScale: number;
  // One line per notable event: fired, skipped, target failed, schedules not timed.
  onTrace?: (line: string) => void;
  // Floor for a scaled period, so that a tiny timeScale cannot turn a schedule into a busy loop.
  minPeriodMs?: number;
}

/**
 * Fires the template's schedules on scaled timers through the given invoker (so faults and tracing apply).
 * cron() schedules are not timed locally: a scaled cron has no sensible meaning; run them with runNow.
 * A fire is skipped while the previous fire of the same schedule is still running, so slow handlers
 * cannot pile up invocations at small time scales.
 */
export function startSchedules(options: StartSchedulesOptions): LocalSchedules {
  const trace = options.onTrace ?? (() => undefined);
  const minPeriodMs = options.minPeriodMs ?? 100;
  const schedules = schedulesFromTemplate(options.template, options.ctx);
  const timers: NodeJS.Timeout[] = [];
  // Counts, not flags: a manual run may overlap a timer fire of the same schedule.
  const inFlight = new Map<string, number>();
  const fired = new Map<string, number>();

  const localPeriodOf = (definition: ScheduleDefinition): number | undefined =>
    definition.enabled && definition.schedule.kind === 'rate'
      ? Math.max(minPeriodMs, definition.schedule.periodMs * options.timeScale)
      : undefined;

  const run = async (
    definition: ScheduleDefinition,
    trigger: 'timer' | 'manual',
  ): Promise<ScheduleRunOutcome> => {
    fired.set(definition.name, (fired.get(definition.name) ?? 0) + 1);
    inFlight.set(definition.name, (inFlight.get(definition.name) ?? 0) + 1);
    try {
      const event = scheduledEvent(definition.arn, options.ctx);
      const targets = await Promise.all(
        definition.targets.map(async (target): Promise<ScheduleTargetOutcome> => {
          const started = performance.now();
          let outcome: LambdaInvokeOutcome;
          try {
            outcome = await options.invoker.invoke(target.functionArn, targetPayload(target, event));
          } catch (error) {
            // An unknown function or a bad InputPath: report it like a failed invocation, keep the timer.
            outcome = {
              ok: false,
              error: { errorType: 'LocalScheduleError', errorMessage: (error as Error).message },
            };
          }
          if (!outcome.ok) {
            trace(
              `schedule ${definition.label} -> ${target.id} failed: ${outcome.error.errorType}: ${outcome.error.errorMessage}`,
            );
          }
          return {
            targetId: target.id,
            functionArn: target.functionArn,
            durationMs: performance.now() - started,
            outcome,
          };
        }),
      );
      return { name: definition.name, logicalId: definition.logicalId, trigger, targets };
    } finally {
      inFlight.set(definition.name, (inFlight.get(definition.name) ?? 1) - 1);
    }
  };

  for (const definition of schedules) {
    for (const reason of definition.unsupportedTargets) trace(`schedule target skipped: ${reason}`);
    const periodMs = localPeriodOf(definition);
    if (periodMs === undefined) {
      if (definition.enabled) {
        trace(`schedule ${definition.label} (${definition.expression}) is not timed locally: use runNow`);
      }
      continue;
    }
    // Like a new rate rule on AWS, the first fire comes one period after start.
    const timer = setInterval(() => {
      if ((inFlight.get(definition.name) ?? 0) > 0) {
        trace(`schedule ${definition.label} skipped: the previous fire is still running`);
        return;
      }
      trace(`schedule ${definition.label} fired`);
      void run(definition, 'timer');
    }, periodMs);
    // The local cloud's servers keep the process alive; a timer alone must not.
    timer.unref();
    timers.push(timer);
  }

  const find = (nameOrLogicalId: string): ScheduleDefinition => {
    const definition = schedules.find(
      (candidate) =>
        candidate.name === nameOrLogicalId ||
        candidate.logicalId === nameOrLogicalId ||
        candidate.arn === nameOrLogicalId,
    );
    if (!definition) {
      throw new UnknownScheduleError(
        `No schedule named ${nameOrLogicalId}; known: ${schedules.map((schedule) => schedule.name).join(', ') || 'none'}`,
      );
    }
    return definition;
  };

  return {
    names: () => schedules.map((definition) => definition.name),
    list: () =>
      schedules.map((definition) => ({
        name: definition.name,
        logicalId: definition.logicalId,
        arn: definition.arn,
        expression: definition.expression,
        enabled: definition.enabled,
        localPeriodMs: localPeriodOf(definition),
        fired: fired.get(definition.name) ?? 0,
        unsupportedTargets: definition.unsupportedTargets,
      })),
    runNow: async (nameOrLogicalId) => run(find(nameOrLogicalId), 'manual'),
    stop: () => {
      for (const timer of timers.splice(0)) clearInterval(timer);
    },
  };
}
