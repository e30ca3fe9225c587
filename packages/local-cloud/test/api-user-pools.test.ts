import { describe, expect, it } from 'vitest';
import { LocalTokenIssuer } from '../src/api-auth/jwt.js';
import { localUserPoolTokens } from '../src/api-auth/user-pools.js';
import { LocalRestApi } from '../src/api-gateway.js';
import type { LambdaInvoker } from '../src/stepfunctions-engine.js';
import { type CfnTemplate, createResolveContext, physicalNames } from '../src/template.js';

// A REST API shaped like a CDK one: a user pool with an app client, and a method its authorizer guards.
const template: CfnTemplate = {
  Resources: {
    Api: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'notes' } },
    ApiStage: { Type: 'AWS::ApiGateway::Stage', Properties: { RestApiId: { Ref: 'Api' }, StageName: 'v1' } },
    Pool: { Type: 'AWS::Cognito::UserPool', Properties: {} },
    PoolClient: { Type: 'AWS::Cognito::UserPoolClient', Properties: { UserPoolId: { Ref: 'Pool' } } },
    PoolAuthorizer: {
      Type: 'AWS::ApiGateway::Authorizer',
      Properties: {
        Type: 'COGNITO_USER_POOLS',
        RestApiId: { Ref: 'Api' },
        IdentitySource: 'method.request.header.Authorization',
        ProviderARNs: [{ 'Fn::GetAtt': ['Pool', 'Arn'] }],
      },
    },
    Notes: {
      Type: 'AWS::ApiGateway::Resource',
      Properties: { ParentId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] }, PathPart: 'notes' },
    },
    GetNotes: {
      Type: 'AWS::ApiGateway::Method',
      Properties: {
        HttpMethod: 'GET',
        RestApiId: { Ref: 'Api' },
        ResourceId: { Ref: 'Notes' },
        AuthorizationType: 'COGNITO_USER_POOLS',
        AuthorizerId: { Ref: 'PoolAuthorizer' },
        Integration: {
          Type: 'AWS_PROXY',
          Uri: 'arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:notes/invocations',
        },
      },
    },
    // What the stack answers API Gateway's own 4XX errors with, keeping API Gateway's status.
    Default4xx: {
      Type: 'AWS::ApiGateway::GatewayResponse',
      Properties: {
        ResponseType: 'DEFAULT_4XX',
        ResponseTemplates: {
          'application/json': '{"error":{"code":"ClientError","message":$context.error.messageString}}',
        },
      },
    },
  },
};

const names = physicalNames(template, { stackName: 'Notes' });
const ctx = createResolveContext(names, { stackName: 'Notes', template });

function localApi(tokenIssuer?: LocalTokenIssuer) {
  const claimsSeen: unknown[] = [];
  const invoker: LambdaInvoker = {
    async invoke(_name, payload) {
      claimsSeen.push(
        (payload as { requestContext: { authorizer?: { claims?: unknown } } }).requestContext.authorizer
          ?.claims,
      );
      return { ok: true, payload: { statusCode: 200, body: '{"ok":true}' } };
    },
  };
  return { api: new LocalRestApi(template, ctx, invoker, { tokenIssuer }), claimsSeen };
}

const get = (api: LocalRestApi, token?: string) =>
  api.handle({ method: 'GET', url: '/notes', headers: token ? { authorization: token } : {}, body: '' });

describe('a method authorized by a Cognito user pool, with a local issuer', () => {
  const issuer = new LocalTokenIssuer();
  const tokens = localUserPoolTokens(template, ctx, issuer);
  if (!tokens) throw new Error('the template has a user pool authorizer');

  it("names the pool's issuer as Cognito does", () => {
    expect(tokens.issuer).toBe(`https://cognito-idp.us-east-1.amazonaws.com/${names.Pool?.ref}`);
    expect(names.Pool?.ref).toMatch(/^us-east-1_[0-9a-f]{9}$/);
  });

  it('passes a valid ID token and hands the function its claims as strings', async () => {
    const { api, claimsSeen } = localApi(issuer);
    const response = await get(api, tokens.issue({ sub: 'c-1' }));

    expect(response.status).toBe(200);
    expect(claimsSeen[0]).toMatchObject({
      sub: 'c-1',
      iss: tokens.issuer,
      aud: names.PoolClient?.ref,
      token_use: 'id',
      exp: expect.stringMatching(/^\d+$/),
    });
  });

  it.each([
    ['no token', () => undefined, 'Unauthorized'],
    ['an expired token', () => tokens.issue({ sub: 'c-1' }, -1), 'The incoming token has expired'],
    [
      'another issuer',
      () =>
        issuer.issue({ sub: 'c-1' }, 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other', 'app'),
      'Unauthorized',
    ],
    [
      'a signature of another key',
      () => new LocalTokenIssuer().issue({ sub: 'c-1' }, tokens.issuer, 'app'),
      'Unauthorized',
    ],
    [
      'a payload changed after signing',
      () => {
        const [header, , signature] = tokens.issue({ sub: 'c-1' }).split('.');
        const forged = Buffer.from(
          JSON.stringify({ sub: 'c-2', iss: tokens.issuer, token_use: 'id', exp: 9e9 }),
        ).toString('base64url');
        return `${header}.${forged}.${signature}`;
      },
      'Unauthorized',
    ],
    ['an access token', () => tokens.issue({ sub: 'c-1', token_use: 'access' }), 'Unauthorized'],
    ['text that is no token', () => 'not-a-jwt', 'Unauthorized'],
  ])(
    'refuses %s with 401 as API Gateway does, without invoking the function',
    async (_case, token, message) => {
      const { api, claimsSeen } = localApi(issuer);
      const response = await get(api, token());

      expect(response.status).toBe(401);
      expect(response.headers['x-amzn-errortype']).toBe('UnauthorizedException');
      expect(JSON.parse(response.body)).toEqual({ error: { code: 'ClientError', message } });
      expect(claimsSeen).toEqual([]);
    },
  );
});

describe('without a local issuer', () => {
  it('leaves the method open, so a plain curl works', async () => {
    const { api, claimsSeen } = localApi();
    const response = await get(api);

    expect(response.status).toBe(200);
    expect(claimsSeen).toEqual([undefined]);
  });
});
