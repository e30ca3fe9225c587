import { type IamPolicy, isAllowed } from '../iam/evaluator.js';
import {
  type CfnTemplate,
  isRecord,
  type ResolveContext,
  resolveIntrinsics,
  resourcesOfType,
} from '../template.js';
import { type AuthRefusal, authenticate, type LocalIdentity, type SignedRequest } from './sigv4.js';

/** A caller of the local API: test keys, and the stack outputs naming the managed policies it holds. */
export interface ApiIdentity {
  name: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Names of stack outputs whose value is a managed policy's ARN (`{ "Ref": <AWS::IAM::ManagedPolicy> }`). */
  policyOutputs: string[];
}

/** Who API Gateway says called, in the proxy event's requestContext.identity. */
export interface ApiCaller {
  accessKey: string;
  accountId: string;
  userArn: string;
}

/** Decides an IAM-authorized method's request: the caller it lets through, or how it refuses. */
export interface ApiAuthorizer {
  check(request: SignedRequest, methodArn: string): Promise<{ caller: ApiCaller } | AuthRefusal>;
}

/**
 * The policy document behind an output, resolved to local names: the same document a deploy would attach, so
 * what it grants locally is what it grants on AWS.
 */
export function exportedPolicy(template: CfnTemplate, ctx: ResolveContext, outputName: string): IamPolicy {
  const value = template.Outputs?.[outputName]?.Value;
  const logicalId = isRecord(value) && typeof value.Ref === 'string' ? value.Ref : undefined;
  const resource = logicalId ? template.Resources[logicalId] : undefined;
  if (!logicalId || resource?.Type !== 'AWS::IAM::ManagedPolicy') {
    throw new Error(
      `Stack output ${outputName} does not name a managed policy ({ "Ref": <AWS::IAM::ManagedPolicy> })`,
    );
  }
  const document = resolveIntrinsics(resource.Properties?.PolicyDocument, ctx);
  if (!isRecord(document)) throw new Error(`Managed policy ${logicalId} has no PolicyDocument`);
  return { name: logicalId, document };
}

export function principalArnOf(ctx: ResolveContext, identityName: string): string {
  return `arn:${ctx.partition}:iam::${ctx.accountId}:user/${identityName}`;
}

const EVERYONE = ['*', JSON.stringify({ AWS: '*' })];

/**
 * The Deny statements of each REST API's resource policy that apply to every principal, by API id, with
 * `execute-api:/` expanded to the API's ARN as API Gateway does. Written as an identity policy they deny the same
 * requests: a Deny applies wherever it is written. The Allows are left out: for a caller of the API's own account
 * its identity policies already decide.
 */
export function resourcePolicyDenials(template: CfnTemplate, ctx: ResolveContext): Map<string, IamPolicy> {
  const byApi = new Map<string, IamPolicy>();
  for (const [logicalId, api] of resourcesOfType(template, 'AWS::ApiGateway::RestApi')) {
    const document = resolveIntrinsics(api.Properties?.Policy, ctx);
    const statements = isRecord(document) ? [document.Statement].flat() : [];
    const apiId = String(resolveIntrinsics({ Ref: logicalId }, ctx));
    const apiArn = `arn:${ctx.partition}:execute-api:${ctx.region}:${ctx.accountId}:${apiId}/`;
    const denials = statements.filter(isRecord).flatMap((statement) => {
      if (statement.Effect !== 'Deny' || !EVERYONE.includes(JSON.stringify(statement.Principal))) return [];
      const { Principal: _everyone, ...rest } = statement;
      const resources = [rest.Resource]
        .flat()
        .map((resource) => String(resource).replace(/^execute-api:\//, apiArn));
      return [{ ...rest, Resource: resources }];
    });
    if (denials.length > 0)
      byApi.set(apiId, {
        name: `${logicalId}.Policy`,
        document: { Version: '2012-10-17', Statement: denials },
      });
  }
  return byApi;
}

/**
 * SigV4 with the identities' keys, then execute-api:Invoke on the method ARN evaluated against their policies,
 * as API Gateway does for AuthorizationType AWS_IAM.
 */
export function createIamAuthorizer(
  template: CfnTemplate,
  ctx: ResolveContext,
  apiIdentities: readonly ApiIdentity[],
): ApiAuthorizer {
  const identities = apiIdentities.map((identity) => ({
    identity: {
      name: identity.name,
      accessKeyId: identity.accessKeyId,
      secretAccessKey: identity.secretAccessKey,
      principalArn: principalArnOf(ctx, identity.name),
    } satisfies LocalIdentity,
    policies: identity.policyOutputs.map((output) => exportedPolicy(template, ctx, output)),
  }));
  const denials = resourcePolicyDenials(template, ctx);
  return {
    async check(request, methodArn) {
      const authentication = await authenticate(
        request,
        identities.map(({ identity }) => identity),
      );
      if (!authentication.ok) return authentication;
      const caller = authentication.identity;
      const policies = identities.find(({ identity }) => identity === caller)?.policies ?? [];
      const { allowed } = await isAllowed({
        policies,
        action: 'execute-api:Invoke',
        resource: methodArn,
        principal: caller.principalArn,
        accountId: ctx.accountId,
      });
      const denial = denials.get(methodArn.split(':')[5]?.split('/')[0] ?? '');
      const denied =
        allowed &&
        denial !== undefined &&
        (
          await isAllowed({
            policies: [denial],
            action: 'execute-api:Invoke',
            resource: methodArn,
            principal: caller.principalArn,
            accountId: ctx.accountId,
            context: { 'aws:PrincipalArn': caller.principalArn, 'aws:PrincipalAccount': ctx.accountId },
          })
        ).decision === 'ExplicitlyDenied';
      if (allowed && !denied) {
        return {
          caller: { accessKey: caller.accessKeyId, accountId: ctx.accountId, userArn: caller.principalArn },
        };
      }
      return {
        responseType: 'ACCESS_DENIED',
        errorType: 'AccessDeniedException',
        message: `User: ${caller.principalArn} is not authorized to perform: execute-api:Invoke on resource: ${methodArn}${denied ? ' with an explicit deny' : ''}`,
      };
    },
  };
}
