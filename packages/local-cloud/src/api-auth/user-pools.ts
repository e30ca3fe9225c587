import { type CfnTemplate, type ResolveContext, resolveIntrinsics, resourcesOfType } from '../template.js';
import type { Claims, LocalTokenIssuer } from './jwt.js';

/** `arn:aws:cognito-idp:<region>:<account>:userpool/<id>` to the issuer its ID tokens name. */
function issuerOfPool(poolArn: unknown): string | undefined {
  const match = String(poolArn).match(/^arn:[^:]+:cognito-idp:([^:]+):[^:]*:userpool\/(.+)$/);
  return match ? `https://cognito-idp.${match[1]}.amazonaws.com/${match[2]}` : undefined;
}

/** A COGNITO_USER_POOLS authorizer as the local API checks it: the header that carries the token, the pools' issuers. */
export function userPoolsOf(authorizer: Record<string, unknown>, ctx: ResolveContext) {
  const providers = resolveIntrinsics(authorizer.ProviderARNs ?? [], ctx);
  const source = String(authorizer.IdentitySource ?? 'method.request.header.Authorization');
  return {
    header: source.replace(/^method\.request\.header\./, ''),
    issuers: (Array.isArray(providers) ? providers : []).flatMap((arn) => issuerOfPool(arn) ?? []),
  };
}

/** Signs ID tokens as the template's user pool would, for the local API's Cognito-authorized methods. */
export interface LocalUserPoolTokens {
  /** The issuer the tokens name: the first Cognito authorizer's first pool. */
  issuer: string;
  /** An ID token for `claims` (`sub` and whatever the app reads), valid `lifetimeSeconds` (default an hour). */
  issue(claims: Claims, lifetimeSeconds?: number): string;
}

/** The tokens of the template's user pool, or undefined when no method is authorized by one. */
export function localUserPoolTokens(
  template: CfnTemplate,
  ctx: ResolveContext,
  issuer: LocalTokenIssuer,
): LocalUserPoolTokens | undefined {
  const [pool] = resourcesOfType(template, 'AWS::ApiGateway::Authorizer')
    .filter(([, authorizer]) => authorizer.Properties?.Type === 'COGNITO_USER_POOLS')
    .flatMap(([, authorizer]) => userPoolsOf(authorizer.Properties ?? {}, ctx).issuers);
  if (!pool) return undefined;
  // The audience is an app client of the pool, as in a real ID token; the authorizer does not check it.
  const [client] = resourcesOfType(template, 'AWS::Cognito::UserPoolClient');
  const audience = client ? String(resolveIntrinsics({ Ref: client[0] }, ctx)) : 'local-app-client';
  return {
    issuer: pool,
    issue: (claims, lifetimeSeconds) => issuer.issue(claims, pool, audience, lifetimeSeconds),
  };
}
