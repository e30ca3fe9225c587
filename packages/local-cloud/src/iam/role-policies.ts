import {
  type CfnTemplate,
  constructIdOf,
  isRecord,
  type ResolveContext,
  resolveIntrinsics,
  resourcesOfType,
} from '../template.js';
import type { IamPolicy } from './evaluator.js';

/** A role of the template with the identity policies attached to it, resolved to local names and ARNs. */
export interface RolePolicies {
  logicalId: string;
  /** Its construct path's id (`ChargePaymentRole`), as the usage report names it. */
  label: string;
  name: string;
  arn: string;
  policies: IamPolicy[];
}

/** `{ Ref: X }` names a resource of the template; anything else (an imported name, an ARN string) does not. */
function refOf(value: unknown): string | undefined {
  return isRecord(value) && typeof value.Ref === 'string' ? value.Ref : undefined;
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * Every role of the template and what it may do: its inline Policies, each AWS::IAM::Policy and
 * AWS::IAM::ManagedPolicy that names it in Roles, and each managed policy of the template in its
 * ManagedPolicyArns. AWS managed policies (AWSLambdaBasicExecutionRole and the like) are left out: locally
 * they would only cover CloudWatch Logs and X-Ray, which are not emulated.
 */
export function rolePoliciesOf(template: CfnTemplate, ctx: ResolveContext): Map<string, RolePolicies> {
  const roles = new Map<string, RolePolicies>();
  const roleByName = new Map<string, string>();
  const resolve = (value: unknown, where: string): unknown => {
    try {
      return resolveIntrinsics(value, ctx);
    } catch (error) {
      throw new Error(`IAM: cannot resolve ${where}: ${error instanceof Error ? error.message : error}`);
    }
  };
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::IAM::Role')) {
    const physical = ctx.resources[logicalId];
    const name = physical?.ref ?? logicalId;
    roleByName.set(name, logicalId);
    const inline = asList(resource.Properties?.Policies).flatMap((policy, index): IamPolicy[] =>
      isRecord(policy)
        ? [
            {
              name: typeof policy.PolicyName === 'string' ? policy.PolicyName : `${logicalId}Inline${index}`,
              document: resolve(policy.PolicyDocument, `${logicalId}.Policies[${index}]`),
            },
          ]
        : [],
    );
    roles.set(logicalId, {
      logicalId,
      label: constructIdOf(template, logicalId),
      name,
      arn: physical?.attributes.Arn ?? `arn:aws:iam::${ctx.accountId}:role/${name}`,
      policies: inline,
    });
  }
  /** The roles a policy's Roles property names: by Ref, or by a name that resolves to a role of the template. */
  const rolesNamedIn = (value: unknown, where: string): RolePolicies[] =>
    asList(value).flatMap((entry) => {
      const ref = refOf(entry);
      const logicalId = ref && roles.has(ref) ? ref : roleByName.get(String(resolve(entry, where)));
      const role = logicalId ? roles.get(logicalId) : undefined;
      return role ? [role] : [];
    });

  const managed = new Map<string, IamPolicy>();
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::IAM::ManagedPolicy')) {
    const policy = {
      name:
        typeof resource.Properties?.ManagedPolicyName === 'string'
          ? resource.Properties.ManagedPolicyName
          : logicalId,
      document: resolve(resource.Properties?.PolicyDocument, `${logicalId}.PolicyDocument`),
    };
    managed.set(logicalId, policy);
    managed.set(String(resolve({ Ref: logicalId }, logicalId)), policy);
    for (const role of rolesNamedIn(resource.Properties?.Roles, `${logicalId}.Roles`))
      role.policies.push(policy);
  }
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::IAM::Role')) {
    const role = roles.get(logicalId);
    for (const entry of asList(resource.Properties?.ManagedPolicyArns)) {
      const ref = refOf(entry);
      const policy =
        (ref && managed.get(ref)) || managed.get(String(resolve(entry, `${logicalId}.ManagedPolicyArns`)));
      if (policy && role && !role.policies.includes(policy)) role.policies.push(policy);
    }
  }
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::IAM::Policy')) {
    const policy = {
      name: typeof resource.Properties?.PolicyName === 'string' ? resource.Properties.PolicyName : logicalId,
      document: resolve(resource.Properties?.PolicyDocument, `${logicalId}.PolicyDocument`),
    };
    for (const role of rolesNamedIn(resource.Properties?.Roles, `${logicalId}.Roles`))
      role.policies.push(policy);
  }
  return roles;
}

/**
 * Each queue's resource policy (AWS::SQS::QueuePolicy), resolved, by the queue's ARN: the same document SQS
 * evaluates with the caller's identity policies.
 */
export function queuePoliciesOf(template: CfnTemplate, ctx: ResolveContext): Map<string, unknown> {
  const byArn = new Map<string, unknown>();
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::SQS::QueuePolicy')) {
    const document = resolveIntrinsics(resource.Properties?.PolicyDocument, ctx);
    for (const queue of asList(resource.Properties?.Queues)) {
      const ref = refOf(queue);
      const queueArn = ref ? ctx.resources[ref]?.attributes.Arn : undefined;
      if (queueArn) byArn.set(queueArn, document);
      else throw new Error(`IAM: ${logicalId} names a queue outside the template`);
    }
  }
  return byArn;
}

/** The role logical id a `Role`/`RoleArn` property names: `Fn::GetAtt [Role, Arn]`, or an ARN of a template role. */
function roleIdOf(
  value: unknown,
  roles: ReadonlyMap<string, RolePolicies>,
  ctx: ResolveContext,
): string | undefined {
  if (isRecord(value) && Array.isArray(value['Fn::GetAtt']) && roles.has(String(value['Fn::GetAtt'][0])))
    return String(value['Fn::GetAtt'][0]);
  const arn = String(resolveIntrinsics(value, ctx));
  return [...roles.values()].find((role) => role.arn === arn)?.logicalId;
}

/**
 * Who acts as which role: each function by its name, each state machine by its construct id (the label its
 * own clients are registered under). A function or machine whose role is not in the template has none here.
 */
export function rolesOfPrincipals(
  template: CfnTemplate,
  ctx: ResolveContext,
  roles: ReadonlyMap<string, RolePolicies>,
): { functions: Map<string, RolePolicies>; stateMachines: Map<string, RolePolicies> } {
  const functions = new Map<string, RolePolicies>();
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const roleId = roleIdOf(resource.Properties?.Role, roles, ctx);
    const name = ctx.resources[logicalId]?.ref;
    const role = roleId ? roles.get(roleId) : undefined;
    if (name && role) functions.set(name, role);
  }
  const stateMachines = new Map<string, RolePolicies>();
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::StepFunctions::StateMachine')) {
    const roleId = roleIdOf(resource.Properties?.RoleArn, roles, ctx);
    const role = roleId ? roles.get(roleId) : undefined;
    if (role) stateMachines.set(constructIdOf(template, logicalId), role);
  }
  return { functions, stateMachines };
}
