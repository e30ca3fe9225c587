import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { type ApiAccessConfig, DEFAULT_API_ACCESS } from './api/access-config.js';

/** The CDK context key that selects a stage: `cdk synth -c stage=prod`. */
export const STAGE_CONTEXT_KEY = 'stage';

/** What differs between two deployments of the app; everything else is the same code and template. */
export interface StageConfig {
  readonly name: string;
  /**
   * The stack name, and so the prefix of every physical name (queues, rules, alarms, topic, dashboard,
   * exports) and the functions' Powertools service name: two stages can live in one account and region.
   */
  readonly stackName: string;
  /** How long every log group (functions, executions, API access) keeps its lines. */
  readonly logRetention: logs.RetentionDays;
  /** What deleting the stack does to its log groups. */
  readonly logRemovalPolicy: RemovalPolicy;
  /** What deleting the stack does to the service tables, and so to the orders, stock and payments. */
  readonly tableRemovalPolicy: RemovalPolicy;
  /** Whether DynamoDB refuses to delete a table at all until the protection is turned off. */
  readonly tableDeletionProtection: boolean;
  /**
   * What a deploy does to the Lambda and state machine versions it replaces: executions started on the previous
   * release still run them, and an alias may be pointed back at them to roll a release back.
   */
  readonly versionRemovalPolicy: RemovalPolicy;
  /** Where the alarm topic sends email; the CDK context value `alarmEmail` overrides it. */
  readonly alarmEmail?: string;
  /** The API stage's steady requests per second and the burst above it, before it answers 429. */
  readonly apiThrottling: { readonly rateLimit: number; readonly burstLimit: number };
  /** The longest a saga may run, retries included. */
  readonly sagaTimeout: Duration;
  /** Automatic redrives of a TIMED_OUT execution per order before it is handed to a person. */
  readonly redriveBudget: number;
  /**
   * Until when (ISO 8601) a POST also looks for an order under the id it had before ids were keyed, so a retry
   * of a request first sent before that deploy finds its order instead of placing a second one. One read per
   * POST until then; after it, the lookup stops.
   */
  readonly legacyOrderIdsUntil?: string;
  /** Who may call the API: customers with a token on /customer/orders..., services with IAM on /orders... */
  readonly apiAccess: ApiAccessConfig;
  /**
   * The person's way in when automation is not enough (reading a DLQ, redriving it, reading personal data
   * through the services): the only principal besides the owning roles that queue policies and key policies
   * name. `'stack'`: a role the stack creates, assumable by the account's principals with MFA only; `{ arn }`:
   * an existing role (an account baseline's); `'none'`: nobody, so a DLQ can only be redriven after a policy
   * change goes through a deploy.
   */
  readonly breakGlassRole: 'stack' | 'none' | { readonly arn: string };
  /**
   * Whether this stack sets API Gateway's account-wide CloudWatch Logs role (one per account and region, which
   * execution logging needs). Off: the account baseline (or another stage in the account) sets it, and a
   * deploy to an account without one fails at the API stage with "CloudWatch Logs role ARN must be set".
   */
  readonly apiGatewayCloudWatchRole: boolean;
  /**
   * Orders one customer may have PENDING at once; the next is refused with 429 `TooManyOrdersInFlight` and
   * nothing written. Each order holds stock before payment is tried: this bounds what a customer id can hold.
   */
  readonly ordersInFlightPerCustomer: number;
  /**
   * AWS WAF in front of the API stage: requests per client IP per 5 minutes before its rate rule blocks them
   * (AWS counts per 5-minute window); a body-size rule and AWS's common rule set come with it. Omitted: no web ACL.
   */
  readonly waf?: { readonly requestsPerIpPer5Minutes: number };
}

/**
 * Production's services: a checkout service placing and reading orders within the stage's throttle, and the
 * operators' tooling on a plan of its own, so a checkout that loops can spend its own plan but never the
 * capacity a person needs to repair orders.
 */
const PROD_SERVICES = [
  { name: 'checkout', rateLimit: 100, burstLimit: 200, quotaPerDay: 1_000_000 },
  { name: 'operations', rateLimit: 5, burstLimit: 10, quotaPerDay: 10_000 },
] as const;

export const STAGES = {
  // The local cloud, its tests and the README run this stage: its stack name keeps every physical name
  // they know (`OrderSaga-order-events`, `OrderSaga-sweeper`).
  dev: {
    name: 'dev',
    stackName: 'OrderSaga',
    logRetention: logs.RetentionDays.ONE_MONTH,
    logRemovalPolicy: RemovalPolicy.DESTROY,
    tableRemovalPolicy: RemovalPolicy.DESTROY,
    tableDeletionProtection: false,
    // A deploy must not strand the sagas a developer is running either: a replaced version stays until
    // `npm run prune:versions` finds no execution that can still reach it.
    versionRemovalPolicy: RemovalPolicy.RETAIN,
    apiThrottling: { rateLimit: 50, burstLimit: 100 },
    sagaTimeout: Duration.hours(1),
    redriveBudget: 2,
    // Keyed order ids were deployed on 2026-11-25: two months covers any client's retries of earlier POSTs.
    legacyOrderIdsUntil: '2027-01-31T00:00:00Z',
    // No services named: no API key is required, so the README's curl lines and the local tests work as they are.
    apiAccess: DEFAULT_API_ACCESS,
    breakGlassRole: 'stack',
    // A sandbox account has no baseline: the dev stack sets the account's logging role for the stages there.
    apiGatewayCloudWatchRole: true,
    ordersInFlightPerCustomer: 5,
    // No web ACL: WAF bills per ACL and rule each month, and a sandbox's traffic is its developers'.
  },
  prod: {
    name: 'prod',
    stackName: 'OrderSaga-prod',
    // Long enough to reconstruct an order's history after a dispute or an audit question.
    logRetention: logs.RetentionDays.ONE_YEAR,
    logRemovalPolicy: RemovalPolicy.RETAIN,
    // Orders, stock and payments are the business's records: removing the stack must not remove them.
    tableRemovalPolicy: RemovalPolicy.RETAIN,
    tableDeletionProtection: true,
    versionRemovalPolicy: RemovalPolicy.RETAIN,
    apiThrottling: { rateLimit: 200, burstLimit: 400 },
    sagaTimeout: Duration.hours(1),
    redriveBudget: 2,
    // Keyed order ids were deployed on 2026-11-25: two months covers any client's retries of earlier POSTs.
    legacyOrderIdsUntil: '2027-01-31T00:00:00Z',
    apiAccess: { ...DEFAULT_API_ACCESS, services: PROD_SERVICES },
    breakGlassRole: 'stack',
    // The setting is account-wide: two stacks each setting it overwrite each other, and the managed policy it
    // needs also reads every log group in the account. Production accounts get it from their baseline.
    apiGatewayCloudWatchRole: false,
    ordersInFlightPerCustomer: 5,
    // 1,000 per 5 minutes is about 3 requests a second from one address, sustained: far above a shopper's, far
    // below what holding stock at scale needs. Callers behind one NAT share it; raise it for such a service.
    waf: { requestsPerIpPer5Minutes: 1000 },
  },
} as const satisfies Record<string, StageConfig>;

export type StageName = keyof typeof STAGES;

export const DEFAULT_STAGE: StageName = 'dev';

/** The default stage's stack name: what the local cloud synthesizes and what its metrics carry as `service`. */
export const DEFAULT_STACK_NAME = STAGES[DEFAULT_STAGE].stackName;

export function isStageName(name: string): name is StageName {
  return Object.hasOwn(STAGES, name);
}

/** The stage's configuration; an unknown name fails with the valid ones, so a typo never deploys a new stack. */
export function stageConfig(name: string = DEFAULT_STAGE): StageConfig {
  if (!isStageName(name))
    throw new Error(
      `Unknown stage "${name}": valid stages are ${Object.keys(STAGES).join(', ')} (select one with -c ${STAGE_CONTEXT_KEY}=<name>)`,
    );
  return STAGES[name];
}

const stageByStack = new WeakMap<Stack, StageConfig>();

/** Makes `stage` the one every construct of `stack` reads with stageOf. */
export function bindStage(stack: Stack, stage: StageConfig): void {
  stageByStack.set(stack, stage);
}

/**
 * The stage of the stack `scope` is in; a stack no stage was bound to (a construct tested alone) is the
 * default stage's.
 */
export function stageOf(scope: IConstruct): StageConfig {
  return stageByStack.get(Stack.of(scope)) ?? STAGES[DEFAULT_STAGE];
}
