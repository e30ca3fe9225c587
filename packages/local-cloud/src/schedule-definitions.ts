import {
  type CfnTemplate,
  constructIdOf,
  isRecord,
  type ResolveContext,
  resolveProperties,
  resourcesOfType,
} from './template.js';

/** What a schedule expression means locally: a period to fire on, or (cron) only a manual run. */
export type ParsedScheduleExpression =
  | { kind: 'rate'; periodMs: number }
  | { kind: 'cron'; fields: string[] }
  | { kind: 'at'; at: Date };

export class ScheduleExpressionError extends Error {
  override name = 'ScheduleExpressionError';
}

const UNIT_MS: Record<string, number> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

/**
 * rate(), cron() and at() as EventBridge and EventBridge Scheduler write them. rate insists on the singular
 * for 1 and the plural otherwise, as AWS does, so that a template that deploys also runs here and vice versa.
 */
export function parseScheduleExpression(expression: string): ParsedScheduleExpression {
  const trimmed = expression.trim();
  const rate = /^rate\(\s*(\d+)\s+([a-z]+)\s*\)$/.exec(trimmed);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] ?? '';
    const unitMs = UNIT_MS[unit];
    if (unitMs === undefined) {
      throw new ScheduleExpressionError(`${expression}: unit must be minute(s), hour(s) or day(s)`);
    }
    if (value < 1) {
      throw new ScheduleExpressionError(`${expression}: the value must be a positive integer`);
    }
    if ((value === 1) !== !unit.endsWith('s')) {
      throw new ScheduleExpressionError(
        `${expression}: use the singular unit for 1 and the plural otherwise`,
      );
    }
    return { kind: 'rate', periodMs: value * unitMs };
  }
  const cron = /^cron\((.*)\)$/.exec(trimmed);
  if (cron) {
    const fields = (cron[1] ?? '').trim().split(/\s+/);
    if (fields.length !== 6) {
      throw new ScheduleExpressionError(
        `${expression}: cron needs 6 fields (minutes hours day-of-month month day-of-week year)`,
      );
    }
    if (fields[2] !== '?' && fields[4] !== '?') {
      throw new ScheduleExpressionError(`${expression}: day-of-month or day-of-week must be '?'`);
    }
    return { kind: 'cron', fields };
  }
  const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(trimmed);
  if (at) {
    return { kind: 'at', at: new Date(`${at[1]}Z`) };
  }
  throw new ScheduleExpressionError(`${expression}: expected rate(...), cron(...) or at(...)`);
}

export interface ScheduleTarget {
  id: string;
  functionArn: string;
  // How the payload is made from the scheduled event.
  input: { kind: 'constant'; value: unknown } | { kind: 'path'; path: string } | { kind: 'event' };
}

export interface ScheduleDefinition {
  // The physical name: Name, or the local generated one.
  name: string;
  logicalId: string;
  // What the trace calls it: the Name the template gives, else its construct id (or logical id).
  label: string;
  arn: string;
  type: 'AWS::Events::Rule' | 'AWS::Scheduler::Schedule';
  expression: string;
  schedule: ParsedScheduleExpression;
  enabled: boolean;
  targets: ScheduleTarget[];
  // Targets left out, with why (not a Lambda function, InputTransformer, ...).
  unsupportedTargets: string[];
}

const LAMBDA_ARN = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$/;

function inputText(value: unknown): unknown {
  if (typeof value !== 'string') {
    return value;
  }
  try {
    return JSON.parse(value);
  } catch {
    // Scheduler accepts plain text; Lambda then receives a JSON string.
    return value;
  }
}

function eventRuleTargets(
  logicalId: string,
  properties: Record<string, unknown>,
): Pick<ScheduleDefinition, 'targets' | 'unsupportedTargets'> {
  const targets: ScheduleTarget[] = [];
  const unsupportedTargets: string[] = [];
  const rawTargets = Array.isArray(properties.Targets) ? properties.Targets : [];
  for (const [index, raw] of rawTargets.entries()) {
    if (!isRecord(raw)) continue;
    const id = typeof raw.Id === 'string' ? raw.Id : `Target${index}`;
    const arn = typeof raw.Arn === 'string' ? raw.Arn : '';
    if (!LAMBDA_ARN.test(arn)) {
      unsupportedTargets.push(`${logicalId}/${id}: ${arn || 'no Arn'} is not a Lambda function`);
    } else if (raw.InputTransformer !== undefined) {
      unsupportedTargets.push(`${logicalId}/${id}: InputTransformer is not emulated`);
    } else if (raw.Input !== undefined) {
      targets.push({ id, functionArn: arn, input: { kind: 'constant', value: inputText(raw.Input) } });
    } else if (typeof raw.InputPath === 'string') {
      targets.push({ id, functionArn: arn, input: { kind: 'path', path: raw.InputPath } });
    } else {
      targets.push({ id, functionArn: arn, input: { kind: 'event' } });
    }
  }
  return { targets, unsupportedTargets };
}

function schedulerTargets(
  logicalId: string,
  properties: Record<string, unknown>,
): Pick<ScheduleDefinition, 'targets' | 'unsupportedTargets'> {
  const target = isRecord(properties.Target) ? properties.Target : {};
  const arn = typeof target.Arn === 'string' ? target.Arn : '';
  if (!LAMBDA_ARN.test(arn)) {
    return {
      targets: [],
      unsupportedTargets: [
        `${logicalId}: ${arn || 'no Arn'} is not a Lambda function (universal targets are not emulated)`,
      ],
    };
  }
  // Scheduler sends its Input verbatim; without one the function gets an empty object.
  const value = target.Input === undefined ? {} : inputText(target.Input);
  return {
    targets: [{ id: 'Target', functionArn: arn, input: { kind: 'constant', value } }],
    unsupportedTargets: [],
  };
}

/**
 * Every EventBridge rule with a ScheduleExpression and every EventBridge Scheduler schedule of the template.
 * Rules with an EventPattern are event-driven, not scheduled, and are left out. Throws on a malformed
 * expression, as CloudFormation would refuse the stack.
 */
export function schedulesFromTemplate(template: CfnTemplate, ctx: ResolveContext): ScheduleDefinition[] {
  const schedules: ScheduleDefinition[] = [];
  for (const [logicalId, resource] of resourcesOfType(
    template,
    'AWS::Events::Rule',
    'AWS::Scheduler::Schedule',
  )) {
    if (resource.Properties?.ScheduleExpression === undefined) continue;
    const physical = ctx.resources[logicalId];
    if (!physical) {
      throw new Error(`No physical name for schedule ${logicalId}`);
    }
    const properties = resolveProperties(template, logicalId, ctx);
    const expression = String(properties.ScheduleExpression);
    const type = resource.Type === 'AWS::Events::Rule' ? 'AWS::Events::Rule' : 'AWS::Scheduler::Schedule';
    let schedule: ParsedScheduleExpression;
    try {
      schedule = parseScheduleExpression(expression);
    } catch (error) {
      throw new ScheduleExpressionError(`${logicalId}: ${(error as Error).message}`);
    }
    if (type === 'AWS::Events::Rule' && schedule.kind === 'at') {
      throw new ScheduleExpressionError(`${logicalId}: at() is for EventBridge Scheduler, not rules`);
    }
    schedules.push({
      name: physical.ref,
      logicalId,
      label: typeof properties.Name === 'string' ? properties.Name : constructIdOf(template, logicalId),
      arn: physical.attributes.Arn ?? physical.ref,
      type,
      expression,
      schedule,
      // Both resource types default to ENABLED when State is left out.
      enabled: properties.State === undefined || properties.State === 'ENABLED',
      ...(type === 'AWS::Events::Rule'
        ? eventRuleTargets(logicalId, properties)
        : schedulerTargets(logicalId, properties)),
    });
  }
  return schedules;
}
