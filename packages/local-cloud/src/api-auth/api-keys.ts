import { createHash } from 'node:crypto';
import {
  type CfnTemplate,
  isRecord,
  type ResolveContext,
  resolveIntrinsics,
  resourcesOfType,
} from '../template.js';

/** A key of the template as the local API takes it: the value is made here, deterministic per stack and key. */
export interface LocalApiKey {
  logicalId: string;
  /** What `Ref` gives (the key's id), so a stack output naming the key finds it. */
  id: string;
  description?: string;
  value: string;
}

interface Plan {
  logicalId: string;
  /** `<apiId>/<stage>` the plan applies to. */
  stages: Set<string>;
  throttle?: { rateLimit: number; burstLimit: number };
  quota?: { limit: number; period: string };
}

/** Why API Gateway refused a request on its key, as its gateway response types name it. */
export type ApiKeyRefusal = {
  responseType: 'INVALID_API_KEY' | 'THROTTLED' | 'QUOTA_EXCEEDED';
  status: 403 | 429;
  message: string;
  /** x-amzn-ErrorType */
  errorType: string;
};

/**
 * The template's API keys and usage plans: a method requiring a key takes only an enabled key of a usage plan that
 * covers the method's API stage (403 Forbidden otherwise, as API Gateway answers), and holds the key to the plan's
 * throttle (a token bucket of `burstLimit` filled at `rateLimit` per second) and its quota (per UTC day, week or
 * month), both answered with 429 as API Gateway does. Values are derived from the stack and the key's logical id,
 * so they stay the same across starts; a template `Value` is used as it is.
 */
export class LocalApiKeys {
  readonly keys: LocalApiKey[] = [];
  private readonly plansByValue = new Map<string, Plan[]>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly usage = new Map<string, { window: string; count: number }>();

  constructor(
    template: CfnTemplate,
    ctx: ResolveContext,
    private readonly now: () => number = Date.now,
  ) {
    const refOf = (value: unknown) =>
      isRecord(value) && typeof value.Ref === 'string' ? value.Ref : undefined;
    const plans = new Map<string, Plan>();
    for (const [logicalId, resource] of resourcesOfType(template, 'AWS::ApiGateway::UsagePlan')) {
      const properties = resource.Properties ?? {};
      const stages = (Array.isArray(properties.ApiStages) ? properties.ApiStages : []).filter(isRecord);
      const number = (value: unknown) => Number(resolveIntrinsics(value, ctx));
      const throttle = isRecord(properties.Throttle) ? properties.Throttle : undefined;
      const quota = isRecord(properties.Quota) ? properties.Quota : undefined;
      plans.set(logicalId, {
        logicalId,
        stages: new Set(
          stages.map(
            (stage) => `${resolveIntrinsics(stage.ApiId, ctx)}/${resolveIntrinsics(stage.Stage, ctx)}`,
          ),
        ),
        throttle: throttle
          ? { rateLimit: number(throttle.RateLimit), burstLimit: number(throttle.BurstLimit) }
          : undefined,
        quota: quota ? { limit: number(quota.Limit), period: String(quota.Period) } : undefined,
      });
    }
    const keyValues = new Map<string, string>();
    for (const [logicalId, resource] of resourcesOfType(template, 'AWS::ApiGateway::ApiKey')) {
      const properties = resource.Properties ?? {};
      if (properties.Enabled === false) continue;
      const value =
        typeof properties.Value === 'string'
          ? properties.Value
          : createHash('sha256')
              .update(`local api key\0${ctx.stackName}\0${logicalId}`)
              .digest('hex')
              .slice(0, 40);
      keyValues.set(logicalId, value);
      this.keys.push({
        logicalId,
        id: String(resolveIntrinsics({ Ref: logicalId }, ctx)),
        ...(typeof properties.Description === 'string' ? { description: properties.Description } : {}),
        value,
      });
    }
    for (const [, link] of resourcesOfType(template, 'AWS::ApiGateway::UsagePlanKey')) {
      const value = keyValues.get(refOf(link.Properties?.KeyId) ?? '');
      const plan = plans.get(refOf(link.Properties?.UsagePlanId) ?? '');
      if (value && plan) this.plansByValue.set(value, [...(this.plansByValue.get(value) ?? []), plan]);
    }
  }

  /** Undefined when the key may call `<apiId>/<stage>` now; the refusal otherwise. Counts the request. */
  check(key: string | undefined, apiStage: string): ApiKeyRefusal | undefined {
    const plan = (key ? this.plansByValue.get(key) : undefined)?.find((each) => each.stages.has(apiStage));
    if (!key || !plan)
      return {
        responseType: 'INVALID_API_KEY',
        status: 403,
        message: 'Forbidden',
        errorType: 'ForbiddenException',
      };
    const id = `${key}\0${plan.logicalId}`;
    if (plan.throttle && !this.take(id, plan.throttle))
      return {
        responseType: 'THROTTLED',
        status: 429,
        message: 'Too Many Requests',
        errorType: 'TooManyRequestsException',
      };
    if (plan.quota && !this.count(id, plan.quota))
      return {
        responseType: 'QUOTA_EXCEEDED',
        status: 429,
        message: 'Limit Exceeded',
        errorType: 'LimitExceededException',
      };
    return undefined;
  }

  private take(id: string, { rateLimit, burstLimit }: { rateLimit: number; burstLimit: number }): boolean {
    const now = this.now();
    const bucket = this.buckets.get(id) ?? { tokens: burstLimit, at: now };
    bucket.tokens = Math.min(burstLimit, bucket.tokens + ((now - bucket.at) / 1000) * rateLimit);
    bucket.at = now;
    this.buckets.set(id, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private count(id: string, { limit, period }: { limit: number; period: string }): boolean {
    const day = new Date(this.now()).toISOString().slice(0, 10);
    const window = period === 'MONTH' ? day.slice(0, 7) : period === 'WEEK' ? weekOf(day) : day;
    const used = this.usage.get(id);
    const count = used?.window === window ? used.count : 0;
    if (count >= limit) return false;
    this.usage.set(id, { window, count: count + 1 });
    return true;
  }
}

/** The UTC date of the Monday starting `day`'s week. */
function weekOf(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - ((date.getUTCDay() + 6) % 7));
  return date.toISOString().slice(0, 10);
}
