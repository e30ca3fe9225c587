import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { ApiAccessConfig } from '../../lib/api/access-config.js';
import { stageConfig } from '../../lib/stages.js';
import { synthOrderSaga } from './synth.js';

type Resource = { Properties: Record<string, unknown> };
interface Statement {
  Sid: string;
  Effect: string;
  Principal: unknown;
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

function withAccess(apiAccess: ApiAccessConfig) {
  return synthOrderSaga({ stage: { ...stageConfig('dev'), apiAccess } }).template;
}

function policyStatements(template: Template): Statement[] {
  const [api] = Object.values(template.findResources('AWS::ApiGateway::RestApi') as Record<string, Resource>);
  return (api?.Properties.Policy as { Statement: Statement[] } | undefined)?.Statement ?? [];
}

const statement = (template: Template, sid: string) => policyStatements(template).find((s) => s.Sid === sid);

function customerClaimOf(template: Template): string[] {
  const functions = Object.values(
    template.findResources('AWS::Lambda::Function') as Record<string, Resource>,
  );
  return functions
    .map((fn) => (fn.Properties.Environment as { Variables?: Record<string, string> } | undefined)?.Variables)
    .flatMap((variables) => (variables?.CUSTOMER_CLAIM ? [variables.CUSTOMER_CLAIM] : []));
}

describe('the default stage access', () => {
  const { template } = synthOrderSaga({}, { stage: 'dev' });

  it('creates a user pool a password alone cannot get a token from', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'ON',
      UserPoolTier: 'PLUS',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      Policies: {
        PasswordPolicy: Match.objectLike({
          MinimumLength: 12,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        }),
      },
    });
  });

  it('lets users write no attribute that could name a customer: only their name and phone number', () => {
    const [client] = Object.values(template.findResources('AWS::Cognito::UserPoolClient')) as {
      Properties: { WriteAttributes?: string[] };
    }[];
    expect([...(client?.Properties.WriteAttributes ?? ['everything'])].sort()).toEqual([
      'name',
      'phone_number',
    ]);
  });

  it("authorizes the customer routes with that pool's ID tokens from the Authorization header", () => {
    const [authorizerId] = Object.keys(template.findResources('AWS::ApiGateway::Authorizer'));
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'COGNITO_USER_POOLS',
      IdentitySource: 'method.request.header.Authorization',
      ProviderARNs: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('UserPool'), 'Arn'] }],
    });
    const methods = Object.values(
      template.findResources('AWS::ApiGateway::Method') as Record<string, Resource>,
    );
    const cognito = methods.filter((method) => method.Properties.AuthorizationType === 'COGNITO_USER_POOLS');
    expect(cognito).toHaveLength(3);
    for (const method of cognito) expect(method.Properties.AuthorizerId).toEqual({ Ref: authorizerId });
  });

  it('takes the customer from the sub claim in both API functions', () => {
    expect(customerClaimOf(template)).toEqual(['sub', 'sub']);
  });

  it('opens only the customer routes to every principal: the user pool decides who passes', () => {
    const allows = policyStatements(template).filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]?.Principal).toEqual({ AWS: '*' });
    expect([allows[0]?.Resource].flat().sort()).toEqual([
      'execute-api:/v1/GET/customer/orders/*',
      'execute-api:/v1/POST/customer/orders',
      'execute-api:/v1/POST/customer/orders/*/reconcile',
    ]);
    expect(allows[0]?.Condition).toBeUndefined();
  });

  it("denies the service routes to principals outside the stack's account, each route on its own", () => {
    const outsideTheAccount = { StringNotEquals: { 'aws:PrincipalAccount': '111111111111' } };
    expect(statement(template, 'PlaceAndReadOnlyClientsAndOperators')).toMatchObject({
      Effect: 'Deny',
      Resource: expect.arrayContaining(['execute-api:/v1/POST/orders', 'execute-api:/v1/GET/orders/*']),
      Condition: outsideTheAccount,
    });
    expect(statement(template, 'ReconcileOnlyOperators')).toMatchObject({
      Effect: 'Deny',
      Resource: 'execute-api:/v1/POST/orders/*/reconcile',
      Condition: outsideTheAccount,
    });
  });
});

describe('a stage that names its principals, its pool and its claim', () => {
  const clients = ['arn:aws:iam::111111111111:role/checkout'];
  const operators = ['arn:aws:iam::111111111111:role/ops-*'];
  const template = withAccess({
    userPool: { userPoolId: 'us-east-1_Existing1' },
    customerClaim: 'custom:customer_id',
    clients,
    operators,
  });

  it('lets clients and operators place and read, and only operators reconcile', () => {
    expect(statement(template, 'PlaceAndReadOnlyClientsAndOperators')?.Condition).toEqual({
      StringNotLike: { 'aws:PrincipalArn': [...clients, ...operators] },
    });
    expect(statement(template, 'ReconcileOnlyOperators')?.Condition).toEqual({
      StringNotLike: { 'aws:PrincipalArn': operators },
    });
  });

  it('authorizes with the existing pool and creates none', () => {
    expect(Object.keys(template.findResources('AWS::Cognito::UserPool'))).toHaveLength(0);
    const [authorizer] = Object.values(
      template.findResources('AWS::ApiGateway::Authorizer') as Record<string, Resource>,
    );
    expect(JSON.stringify(authorizer?.Properties.ProviderARNs)).toContain('userpool/us-east-1_Existing1');
  });

  it('takes the customer from the configured claim', () => {
    expect(customerClaimOf(template)).toEqual(['custom:customer_id', 'custom:customer_id']);
  });
});

it('refuses a stage that names clients but no operators, rather than lock operators out', () => {
  expect(() =>
    withAccess({ userPool: 'create', customerClaim: 'sub', clients: ['arn:aws:iam::1:role/a'] }),
  ).toThrow(/name both clients and operators/);
});

// CDK hashes the policy into the deployment's id; this keeps it so, since only a new deployment applies a policy.
it('deploys the stage again when the resource policy changes', () => {
  const deploymentOf = (template: Template) =>
    Object.keys(template.findResources('AWS::ApiGateway::Deployment'));
  const before = deploymentOf(withAccess({ userPool: 'create', customerClaim: 'sub' }));
  const after = deploymentOf(
    withAccess({
      userPool: 'create',
      customerClaim: 'sub',
      clients: ['arn:aws:iam::111111111111:role/checkout'],
      operators: ['arn:aws:iam::111111111111:role/ops'],
    }),
  );
  expect(before).toHaveLength(1);
  expect(after).not.toEqual(before);
});
