import { createHash, randomUUID } from 'node:crypto';
import type { FaultAnswer } from '../aws-calls/fault-answers.js';
import type { AwsCall } from '../aws-calls/requests.js';
import { type LambdaInvoker, TaskFailure } from '../stepfunctions/tasks.js';
import {
  type CfnTemplate,
  constructIdOf,
  isRecord,
  type ResolveContext,
  resourcesOfType,
} from '../template.js';
import { isAllowed, type MatchedStatement } from './evaluator.js';
import {
  type ArnScope,
  type AuthorizationRequest,
  authorizationRequestsOf,
  functionInvokeArn,
} from './request-arns.js';
import { queuePoliciesOf, type RolePolicies, rolePoliciesOf, rolesOfPrincipals } from './role-policies.js';

/** Who makes a call: a function (by name) or a state machine (by construct id). */
export type IamPrincipal = { kind: 'function'; name: string } | { kind: 'stateMachine'; label: string };

export interface IamDenial {
  /** The function's or state machine's construct id. */
  principal: string;
  role: string;
  action: string;
  resource: string;
  explicit: boolean;
  message: string;
  at: string;
}

/** One action of one Allow statement of a role, and how many allowed calls it granted. */
export interface IamGrant {
  action: string;
  resources: string[];
  policy: string;
  statement: number;
  uses: number;
}

export interface IamRoleReport {
  role: string;
  principals: string[];
  grants: IamGrant[];
}

export interface IamReport {
  roles: IamRoleReport[];
  denials: IamDenial[];
}

/** The services the local cloud emulates: grants on anything else (logs, X-Ray) are not checked or reported. */
const EMULATED_SERVICES = new Set(['dynamodb', 'sqs', 'states', 'lambda']);

const asList = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === undefined ? [] : [value];

/** IAM's action wildcards (`*`, `?`), case-insensitive as IAM compares actions. */
function actionMatches(pattern: string, action: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'i').test(action);
}

function grantsOf(role: RolePolicies): IamGrant[] {
  return role.policies.flatMap((policy) => {
    const document = isRecord(policy.document) ? policy.document : {};
    return asList(document.Statement).flatMap((statement, index) => {
      if (!isRecord(statement) || statement.Effect !== 'Allow') return [];
      const resources = asList(statement.Resource).map(String);
      return asList(statement.Action)
        .map(String)
        .filter((action) => EMULATED_SERVICES.has(action.split(':')[0]?.toLowerCase() ?? ''))
        .map((action) => ({ action, resources, policy: policy.name, statement: index, uses: 0 }));
    });
  });
}

/** What AWS says when no policy allows a call, or one denies it; SQS writes the action in lower case. */
function deniedMessage(
  user: string,
  action: string,
  resource: string,
  explicit: boolean,
  byResourcePolicy = false,
): string {
  const reason = explicit
    ? `with an explicit deny in ${byResourcePolicy ? 'a resource-based' : 'an identity-based'} policy`
    : `because no identity-based policy allows the ${action} action`;
  return `User: ${user} is not authorized to perform: ${action} on resource: ${resource} ${reason}`;
}

function json(
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): FaultAnswer {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), ...headers },
    body: JSON.stringify(body),
  };
}

/** The answer each service sends for a denied call, shaped as the SDK parses it into AccessDenied(Exception). */
function deniedAnswer(call: AwsCall, message: string): FaultAnswer {
  switch (call.service) {
    case 'dynamodb':
      return json(400, { __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException', message });
    case 'sqs':
      // SQS's JSON protocol keeps its query-era code: the SDK reads AccessDenied from x-amzn-query-error.
      return json(
        403,
        { __type: 'com.amazon.coral.service#AccessDeniedException', message },
        { 'x-amzn-query-error': 'AccessDenied;Sender' },
      );
    case 'states':
    case 'secretsmanager':
      return json(400, { __type: 'AccessDeniedException', message });
  }
}

/** A mapping may name its function by ARN, version or alias: `arn:…:function:name[:qualifier]`, `name:qualifier`. */
function functionNameOf(nameOrArn: string): string {
  const match = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(nameOrArn);
  return match?.[1] ?? nameOrArn.split(':')[0] ?? nameOrArn;
}

export interface IamEnforcementOptions {
  onDenial?: (denial: IamDenial) => void;
  /** The execution a task token belongs to: SendTaskSuccess and its kin are authorized on its state machine. */
  executionOfTaskToken?: (token: string) => string | undefined;
  /** The ARN of a secret named by its name. */
  secretArnOf?: (name: string) => string | undefined;
}

/** Thrown to a poller acting as a function's role, which traces it and backs off as on any poll error. */
export class AccessDeniedError extends Error {
  override name = 'AccessDeniedException';
}

interface Verdict {
  denied?: { request: AuthorizationRequest; explicit: boolean; byResourcePolicy: boolean };
}

/**
 * IAM on the local cloud: each call of a function or state machine is evaluated against its role's policies
 * from the template, and the statements that allowed it are counted, so that a report can tell which grants
 * were never needed. Principals whose role is not in the template are not checked.
 */
export class IamEnforcement {
  private readonly scope: ArnScope;
  private readonly functions: Map<string, RolePolicies>;
  private readonly stateMachines: Map<string, RolePolicies>;
  private readonly grants = new Map<string, IamGrant[]>();
  private readonly principalsOf = new Map<string, string[]>();
  private readonly labelOfFunction = new Map<string, string>();
  private readonly denials: IamDenial[] = [];
  /** Queue policies by queue ARN: a queue that trusts only some roles denies the others what IAM allows them. */
  private readonly resourcePolicies: Map<string, unknown>;

  private readonly onDenial: (denial: IamDenial) => void;

  constructor(template: CfnTemplate, ctx: ResolveContext, options: IamEnforcementOptions = {}) {
    this.onDenial = options.onDenial ?? (() => undefined);
    this.scope = {
      region: ctx.region,
      accountId: ctx.accountId,
      executionOfTaskToken: options.executionOfTaskToken,
      secretArnOf: options.secretArnOf,
    };
    const roles = rolePoliciesOf(template, ctx);
    this.resourcePolicies = queuePoliciesOf(template, ctx);
    for (const role of roles.values())
      role.policies = role.policies.map((policy) => ({
        ...policy,
        document: JSON.parse(this.normalized(JSON.stringify(policy.document))),
      }));
    ({ functions: this.functions, stateMachines: this.stateMachines } = rolesOfPrincipals(
      template,
      ctx,
      roles,
    ));
    for (const [logicalId] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      const name = ctx.resources[logicalId]?.ref;
      if (name) this.labelOfFunction.set(name, constructIdOf(template, logicalId));
    }
    const principals = [
      ...[...this.functions].map(([name, role]) => [this.labelOfFunction.get(name) ?? name, role] as const),
      ...this.stateMachines,
    ];
    for (const [label, role] of principals) {
      this.principalsOf.set(role.logicalId, [...(this.principalsOf.get(role.logicalId) ?? []), label]);
      if (!this.grants.has(role.logicalId)) this.grants.set(role.logicalId, grantsOf(role));
    }
  }

  /** The AccessDenied answer for a call its caller's role does not allow, or undefined to let it through. */
  async answerFor(call: AwsCall, principal: IamPrincipal): Promise<FaultAnswer | undefined> {
    const denial = await this.check(principal, authorizationRequestsOf(call, this.scope));
    if (!denial) return undefined;
    return deniedAnswer(
      call,
      call.service === 'sqs'
        ? denial.message.replaceAll(denial.action, denial.action.toLowerCase())
        : denial.message,
    );
  }

  /**
   * A state machine's Lambda invoker that first authorizes lambda:InvokeFunction against the machine's role; a
   * denied invoke fails the Task as Step Functions reports it, with Lambda's 403 as the cause.
   */
  invokerFor(stateMachine: string, invoker: LambdaInvoker): LambdaInvoker {
    return {
      invoke: async (functionNameOrArn, payload, task) => {
        const resource = functionInvokeArn(functionNameOrArn, this.scope);
        const denial = await this.check({ kind: 'stateMachine', label: stateMachine }, [
          { action: 'lambda:InvokeFunction', resource },
        ]);
        if (denial) {
          throw new TaskFailure(
            'Lambda.AWSLambdaException',
            `${denial.message} (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; ` +
              `Request ID: ${randomUUID()}; Proxy: null)`,
          );
        }
        return invoker.invoke(functionNameOrArn, payload, task);
      },
    };
  }

  /** An event-source poller acts as its function's role, as Lambda does: throws AccessDeniedError if denied. */
  async authorizePoller(functionName: string, action: string, resource: string): Promise<void> {
    const denial = await this.check({ kind: 'function', name: functionName }, [{ action, resource }]);
    if (denial) throw new AccessDeniedError(denial.message);
  }

  /** Every role with its grants on the emulated services and how often each was used, and every denial. */
  report(): IamReport {
    return {
      roles: [...this.grants].map(([logicalId, grants]) => ({
        role: logicalId,
        principals: this.principalsOf.get(logicalId) ?? [],
        grants: grants.map((grant) => ({ ...grant, resources: [...grant.resources] })),
      })),
      denials: this.denials.map((denial) => ({ ...denial })),
    };
  }

  private roleOf(principal: IamPrincipal): RolePolicies | undefined {
    return principal.kind === 'function'
      ? this.functions.get(functionNameOf(principal.name))
      : this.stateMachines.get(principal.label);
  }

  /** The assumed-role ARN AWS names in a denial: Lambda's session is the function, Step Functions' a random id. */
  private userOf(principal: IamPrincipal, role: RolePolicies): string {
    const session =
      principal.kind === 'function'
        ? functionNameOf(principal.name)
        : createHash('sha256').update(principal.label).digest('base64url').slice(0, 32);
    return `arn:aws:sts::${this.scope.accountId}:assumed-role/${role.name}/${session}`;
  }

  /**
   * DynamoDB Local writes its own region (`ddblocal`) into the table and stream ARNs it assigns, which GetAtt
   * resolves to, while ARNs a stack formats itself carry the stack's region: read both as the stack's region.
   */
  private normalized(text: string): string {
    return text.replaceAll(':dynamodb:ddblocal:', `:dynamodb:${this.scope.region}:`);
  }

  private async check(
    principal: IamPrincipal,
    asked: AuthorizationRequest[],
  ): Promise<IamDenial | undefined> {
    const role = this.roleOf(principal);
    if (!role) return undefined;
    const requests = asked.map((request) => ({ ...request, resource: this.normalized(request.resource) }));
    const verdict: Verdict = {};
    const allowedBy: { action: string; statements: MatchedStatement[] }[] = [];
    for (const request of requests) {
      const resourcePolicy = this.resourcePolicies.get(request.resource);
      const answer = await isAllowed({
        policies: role.policies,
        ...request,
        principal: this.userOf(principal, role),
        // What a resource policy's conditions read: who asks (the role, not the session), over TLS as on AWS.
        ...(resourcePolicy === undefined
          ? {}
          : {
              resourcePolicy,
              context: { ...request.context, 'aws:PrincipalArn': role.arn, 'aws:SecureTransport': 'true' },
            }),
      });
      if (!answer.allowed) {
        const explicit = answer.decision === 'ExplicitlyDenied';
        verdict.denied = {
          request,
          explicit,
          byResourcePolicy: explicit && answer.matchedStatements.length === 0,
        };
        break;
      }
      allowedBy.push({ action: request.action, statements: answer.matchedStatements });
    }
    if (!verdict.denied) {
      this.countUses(role, allowedBy);
      return undefined;
    }
    const { request, explicit, byResourcePolicy } = verdict.denied;
    const label =
      principal.kind === 'function'
        ? (this.labelOfFunction.get(functionNameOf(principal.name)) ?? principal.name)
        : principal.label;
    const denial: IamDenial = {
      principal: label,
      role: role.name,
      action: request.action,
      resource: request.resource,
      explicit,
      message: deniedMessage(
        this.userOf(principal, role),
        request.action,
        request.resource,
        explicit,
        byResourcePolicy,
      ),
      at: new Date().toISOString(),
    };
    this.denials.push(denial);
    this.onDenial(denial);
    return denial;
  }

  private countUses(
    role: RolePolicies,
    allowedBy: { action: string; statements: MatchedStatement[] }[],
  ): void {
    const grants = this.grants.get(role.logicalId) ?? [];
    for (const { action, statements } of allowedBy) {
      for (const statement of statements) {
        for (const grant of grants) {
          if (
            grant.policy === statement.policy &&
            grant.statement === statement.index &&
            actionMatches(grant.action, action)
          )
            grant.uses += 1;
        }
      }
    }
  }
}

/** Grants of the report that no call used, as `<principals>: <action> on <resources>`. */
export function unusedGrants(report: IamReport): string[] {
  return report.roles.flatMap((role) =>
    role.grants
      .filter((grant) => grant.uses === 0)
      .map((grant) => `${role.principals.join(',')}: ${grant.action} on ${grant.resources.join(', ')}`),
  );
}
