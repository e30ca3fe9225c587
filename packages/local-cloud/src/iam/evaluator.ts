import { runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';

/** An identity policy as IAM stores it: a name and its JSON document, intrinsics already resolved. */
export interface IamPolicy {
  name: string;
  document: unknown;
}

export interface IsAllowedRequest {
  policies: readonly IamPolicy[];
  /** `service:Action`, e.g. `dynamodb:PutItem`. */
  action: string;
  /** The ARN the service authorizes on, or `*` for an action with no resource type (sqs:ListQueues). */
  resource: string;
  /** Condition keys of the request, e.g. `{ 'states:StateMachineQualifier': ['live'] }`. */
  context?: Readonly<Record<string, string | readonly string[]>>;
  /** Who asks; `arn:aws:sts::<account>:assumed-role/<role>/<session>`. Only conditions on the principal read it. */
  principal?: string;
  /** The account the resource lives in; read from the ARN when left out. */
  accountId?: string;
  /**
   * The resource's own policy (a queue's), resolved; same-account principals are then also bound by its Denies.
   * One per resource: answers are remembered by resource, not by this policy.
   */
  resourcePolicy?: unknown;
}

/** One statement that allowed (or explicitly denied) a request. */
export interface MatchedStatement {
  policy: string;
  /** The statement's position in its policy, from 0. */
  index: number;
  sid?: string;
  effect: 'Allow' | 'Deny';
}

export interface IsAllowedResult {
  allowed: boolean;
  decision: 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';
  /** The Allow statements that granted it, or the Deny statements that refused it. */
  matchedStatements: MatchedStatement[];
}

const DEFAULT_ACCOUNT = '000000000000';

/** `arn:partition:service:region:account:…`: the fifth field, or the default for `*` and global ARNs. */
function accountOf(resource: string): string {
  const account = resource.split(':')[4];
  return account && /^\d{12}$/.test(account) ? account : DEFAULT_ACCOUNT;
}

interface AnalyzedStatement {
  policyId: string;
  statement: { index(): number; sid(): string | undefined; isAllow(): boolean };
}

function matched(statements: readonly AnalyzedStatement[] | undefined): MatchedStatement[] {
  return (statements ?? []).map(({ policyId, statement }) => {
    const sid = statement.sid();
    return {
      policy: policyId,
      // iam-policy counts statements from 1, as IAM's console does.
      index: statement.index() - 1,
      ...(sid ? { sid } : {}),
      effect: statement.isAllow() ? 'Allow' : 'Deny',
    };
  });
}

// The local cloud asks the same question thousands of times per test (every PutItem of one function on one
// table), and a simulation validates every policy each time: remember the answers per policy set.
const answers = new WeakMap<readonly IamPolicy[], Map<string, Promise<IsAllowedResult>>>();

function simulationOf(request: IsAllowedRequest, policies: readonly IamPolicy[]): Simulation {
  const contextVariables: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(request.context ?? {}))
    contextVariables[key] = typeof value === 'string' ? value : [...value];
  const accountId = request.accountId ?? accountOf(request.resource);
  return {
    request: {
      principal: request.principal ?? `arn:aws:sts::${accountId}:assumed-role/local/local`,
      action: request.action,
      resource: { resource: request.resource, accountId },
      contextVariables,
    },
    identityPolicies: policies.map((policy) => ({ name: policy.name, policy: policy.document })),
    ...(request.resourcePolicy === undefined ? {} : { resourcePolicy: request.resourcePolicy }),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
}

const statementsOf = (document: unknown): unknown[] => {
  const statement = (document as { Statement?: unknown } | undefined)?.Statement;
  return Array.isArray(statement) ? statement : statement === undefined ? [] : [statement];
};

/**
 * For an action IAM's reference lists without a resource type that the service nonetheless authorizes on a
 * resource (Step Functions' SendTaskSuccess and kin, on the state machine), the validating simulation refuses
 * any resource but `*`; the unvalidated one evaluates it, and each statement alone tells which ones decided.
 */
function simulateOnResource(request: IsAllowedRequest): IsAllowedResult {
  const decide = (policies: readonly IamPolicy[]) =>
    runUnsafeSimulation(simulationOf(request, policies), { simulationMode: 'Strict' });
  const decision = decide(request.policies);
  const wanted = decision === 'ExplicitlyDenied' ? 'ExplicitlyDenied' : 'Allowed';
  const matchedStatements = request.policies.flatMap((policy) =>
    statementsOf(policy.document).flatMap((statement, index): MatchedStatement[] => {
      const alone = { name: policy.name, document: { Version: '2012-10-17', Statement: [statement] } };
      if (decision === 'ImplicitlyDenied' || decide([alone]) !== wanted) return [];
      const sid = (statement as { Sid?: unknown }).Sid;
      return [
        {
          policy: policy.name,
          index,
          ...(typeof sid === 'string' ? { sid } : {}),
          effect: wanted === 'Allowed' ? 'Allow' : 'Deny',
        },
      ];
    }),
  );
  return { allowed: decision === 'Allowed', decision, matchedStatements };
}

async function simulate(request: IsAllowedRequest): Promise<IsAllowedResult> {
  const result = await runSimulation(simulationOf(request, request.policies), { simulationMode: 'Strict' });
  if (
    result.resultType === 'error' &&
    result.errors.message === 'must.use.wildcard' &&
    request.resource !== '*'
  ) {
    return simulateOnResource(request);
  }
  if (result.resultType === 'error') {
    throw new Error(
      `IAM simulation of ${request.action} on ${request.resource} failed: ${result.errors.message}`,
    );
  }
  const single = result.resultType === 'single' ? result.result : result.results[0];
  const identity = single?.analysis.identityAnalysis;
  const decision = result.overallResult;
  return {
    allowed: decision === 'Allowed',
    decision,
    matchedStatements: matched(
      decision === 'ExplicitlyDenied' ? identity?.denyStatements : identity?.allowStatements,
    ),
  };
}

/**
 * Whether identity policies allow one request, decided by a real IAM policy evaluator
 * (@cloud-copilot/iam-simulate): action and resource wildcards, NotAction/NotResource, conditions,
 * explicit Deny over Allow, and the resource's own policy when given. There is no SCP or permission boundary
 * locally.
 */
export function isAllowed(request: IsAllowedRequest): Promise<IsAllowedResult> {
  let cache = answers.get(request.policies);
  if (!cache) {
    cache = new Map();
    answers.set(request.policies, cache);
  }
  const key = JSON.stringify([
    request.action,
    request.resource,
    request.context ?? {},
    request.principal ?? '',
  ]);
  let answer = cache.get(key);
  if (!answer) {
    answer = simulate(request);
    cache.set(key, answer);
    // A failed simulation is not an answer: the next ask tries again.
    answer.catch(() => cache?.delete(key));
  }
  return answer;
}
