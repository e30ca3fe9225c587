import * as iam from 'aws-cdk-lib/aws-iam';
import type { ApiAccessConfig } from './access-config.js';

/** A route as a resource policy names it: API Gateway expands `execute-api:/` to this API's ARN. */
const route = (stage: string, method: string, path: string) => `execute-api:/${stage}/${method}${path}`;

/**
 * The API's resource policy. Customer routes are open to every principal here because the user pool's
 * authorizer decides who gets through (a Cognito-authorized method is refused without an explicit Allow).
 * The IAM routes get no Allow, so a caller still needs the grant of its own policies (ClientPolicy or
 * OperatorPolicy), and explicit Denys cut them down to the principals the stage names, per route: a grant in
 * any identity policy of the account (AdministratorAccess, a CI role) is not enough.
 */
export function apiResourcePolicy(
  config: ApiAccessConfig,
  stage: string,
  account: string,
  customerPrefix: string,
): iam.PolicyDocument {
  const named = config.clients !== undefined || config.operators !== undefined;
  if (named && (!config.clients?.length || !config.operators?.length)) {
    throw new Error(
      'apiAccess: name both clients and operators (at least one principal each), or neither to allow the account',
    );
  }
  const onlyThese = (principals: readonly string[]) =>
    named
      ? { StringNotLike: { 'aws:PrincipalArn': [...principals] } }
      : { StringNotEquals: { 'aws:PrincipalAccount': account } };
  const everyone = [new iam.AnyPrincipal()];
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: 'CustomersThroughTheUserPool',
        principals: everyone,
        actions: ['execute-api:Invoke'],
        resources: [
          route(stage, 'POST', `${customerPrefix}/orders`),
          route(stage, 'GET', `${customerPrefix}/orders/*`),
          route(stage, 'POST', `${customerPrefix}/orders/*/reconcile`),
        ],
      }),
      new iam.PolicyStatement({
        sid: 'PlaceAndReadOnlyClientsAndOperators',
        effect: iam.Effect.DENY,
        principals: everyone,
        actions: ['execute-api:Invoke'],
        resources: [route(stage, 'POST', '/orders'), route(stage, 'GET', '/orders/*')],
        conditions: onlyThese([...(config.clients ?? []), ...(config.operators ?? [])]),
      }),
      new iam.PolicyStatement({
        sid: 'ReconcileOnlyOperators',
        effect: iam.Effect.DENY,
        principals: everyone,
        actions: ['execute-api:Invoke'],
        resources: [route(stage, 'POST', '/orders/*/reconcile')],
        conditions: onlyThese(config.operators ?? []),
      }),
    ],
  });
}
