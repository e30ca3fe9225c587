import { describe, expect, it } from 'vitest';
import { createIamAuthorizer } from '../src/api-auth/iam-authorizer.js';
import { LocalRestApi } from '../src/api-gateway.js';
import type { LambdaInvoker } from '../src/stepfunctions-engine.js';
import { type CfnTemplate, createResolveContext, physicalNames } from '../src/template.js';
import { ADMIN, jobsApiResources, signedHeaders, USER } from './jobs-api.js';

// A REST API shaped like a CDK one: IAM on every method, and two exported policies that split its routes.
const routeArn = (route: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:aws:execute-api:us-east-1:',
      { Ref: 'AWS::AccountId' },
      ':',
      { Ref: 'Api' },
      '/',
      { Ref: 'ApiStage' },
      route,
    ],
  ],
});
const policy = (routes: string[]) => ({
  Type: 'AWS::IAM::ManagedPolicy',
  Properties: {
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: routes.map(routeArn) }],
    },
  },
});
const template: CfnTemplate = {
  Resources: {
    ...jobsApiResources(),
    UserPolicy: policy(['/POST/jobs', '/GET/jobs/*']),
    AdminPolicy: policy(['/POST/jobs', '/GET/jobs/*', '/POST/jobs/*/cancel']),
    // What the stack answers its own errors with, as a CDK RestApi declares it.
    Denied: {
      Type: 'AWS::ApiGateway::GatewayResponse',
      Properties: {
        ResponseType: 'ACCESS_DENIED',
        StatusCode: '403',
        ResponseTemplates: {
          'application/json': '{"error":{"code":"AccessDenied","message":$context.error.messageString}}',
        },
      },
    },
  },
  Outputs: {
    UserPolicyArn: { Value: { Ref: 'UserPolicy' } },
    AdminPolicyArn: { Value: { Ref: 'AdminPolicy' } },
  },
};

const user = USER;
const admin = ADMIN;

function localApi() {
  const invoked: string[] = [];
  const invoker: LambdaInvoker = {
    async invoke(_name, payload) {
      const event = payload as {
        httpMethod: string;
        path: string;
        requestContext: { identity: { userArn?: string } };
      };
      invoked.push(`${event.httpMethod} ${event.path} by ${event.requestContext.identity.userArn}`);
      return { ok: true, payload: { statusCode: 200, body: '{"ok":true}' } };
    },
  };
  const names = physicalNames(template, { stackName: 'Jobs' });
  const ctx = createResolveContext(names, { stackName: 'Jobs', template });
  const authorizer = createIamAuthorizer(template, ctx, [
    { ...user, policyOutputs: ['UserPolicyArn'] },
    { ...admin, policyOutputs: ['AdminPolicyArn'] },
  ]);
  return { api: new LocalRestApi(template, ctx, invoker, { authorizer }), invoked };
}

interface Call {
  method: string;
  path: string;
  body?: string;
  keys?: { accessKeyId: string; secretAccessKey: string };
  signingDate?: Date;
  /** Changes the request after signing, as a proxy or an attacker would. */
  tamper?: (request: { headers: Record<string, string>; body: string; path: string }) => void;
}

async function send(api: LocalRestApi, call: Call) {
  const body = call.body ?? '';
  let headers: Record<string, string> = { host: '127.0.0.1:3000', 'content-type': 'application/json' };
  if (call.keys)
    headers = await signedHeaders(
      call.keys,
      { method: call.method, path: call.path, headers, body },
      call.signingDate,
    );
  const request = { headers, body, path: call.path };
  call.tamper?.(request);
  const response = await api.handle({
    method: call.method,
    url: request.path,
    headers: request.headers,
    body: request.body,
  });
  return {
    status: response.status,
    errorType: response.headers['x-amzn-errortype'],
    body: JSON.parse(response.body),
  };
}

describe('the local REST API with IAM authorization', () => {
  it('lets a signed caller through on the routes its policy grants', async () => {
    const { api, invoked } = localApi();
    expect((await send(api, { method: 'POST', path: '/jobs', body: '{"a":1}', keys: user })).status).toBe(
      200,
    );
    expect((await send(api, { method: 'GET', path: '/jobs/j-1', keys: user })).status).toBe(200);
    expect((await send(api, { method: 'POST', path: '/jobs/j-1/cancel', keys: admin })).status).toBe(200);
    // The function learns who called, as API Gateway tells it for IAM-authorized methods.
    expect(invoked).toEqual([
      'POST /jobs by arn:aws:iam::000000000000:user/user',
      'GET /jobs/j-1 by arn:aws:iam::000000000000:user/user',
      'POST /jobs/j-1/cancel by arn:aws:iam::000000000000:user/admin',
    ]);
  });

  it('refuses a route the caller has no grant for, with the template gateway response and the ARN it evaluated', async () => {
    const { api, invoked } = localApi();
    const answer = await send(api, { method: 'POST', path: '/jobs/j-1/cancel', keys: user });
    expect(answer).toMatchObject({
      status: 403,
      errorType: 'AccessDeniedException',
      body: { error: { code: 'AccessDenied' } },
    });
    expect(answer.body.error.message).toMatch(
      /^User: arn:aws:iam::000000000000:user\/user is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:000000000000:[a-z0-9]{10}\/v1\/POST\/jobs\/j-1\/cancel$/,
    );
    expect(invoked).toEqual([]);
  });

  it('answers each authentication failure as API Gateway does, and invokes nothing', async () => {
    const { api, invoked } = localApi();
    const unknownKey = { accessKeyId: 'AKIANOBODY0000000001', secretAccessKey: 'x' };
    const cases: [Call, string, RegExp][] = [
      [
        { method: 'GET', path: '/jobs/j-1' },
        'MissingAuthenticationTokenException',
        /^Missing Authentication Token$/,
      ],
      [
        { method: 'GET', path: '/jobs/j-1', keys: unknownKey },
        'UnrecognizedClientException',
        /security token included in the request is invalid/,
      ],
      [
        { method: 'GET', path: '/jobs/j-1', keys: { ...user, secretAccessKey: 'wrong' } },
        'InvalidSignatureException',
        /signature we calculated does not match/,
      ],
      [
        { method: 'GET', path: '/jobs/j-1', keys: user, signingDate: new Date(Date.now() - 6 * 60_000) },
        'InvalidSignatureException',
        /^Signature expired/,
      ],
      [
        { method: 'GET', path: '/jobs/j-1', keys: user, signingDate: new Date(Date.now() + 6 * 60_000) },
        'InvalidSignatureException',
        /^Signature not yet current/,
      ],
      [
        {
          method: 'POST',
          path: '/jobs',
          body: '{"a":1}',
          keys: user,
          tamper: (r) => {
            r.body = '{"a":2}';
          },
        },
        'InvalidSignatureException',
        /x-amz-content-sha256/,
      ],
      [
        {
          method: 'POST',
          path: '/jobs',
          body: '{"a":1}',
          keys: user,
          tamper: (r) => {
            r.body = '{"a":2}';
            delete r.headers['x-amz-content-sha256'];
          },
        },
        'InvalidSignatureException',
        /does not match/,
      ],
      [
        {
          method: 'GET',
          path: '/jobs/j-1',
          keys: admin,
          tamper: (r) => {
            r.path = '/jobs/j-2';
          },
        },
        'InvalidSignatureException',
        /does not match/,
      ],
      [
        {
          method: 'GET',
          path: '/jobs/j-1',
          keys: user,
          tamper: (r) => {
            r.headers.authorization =
              'AWS4-HMAC-SHA256 Credential=AKIAUSER000000000001/20260101/us-east-1/execute-api/aws4_request';
          },
        },
        'IncompleteSignatureException',
        /requires 'SignedHeaders'/,
      ],
    ];
    for (const [call, errorType, message] of cases) {
      const answer = await send(api, call);
      expect({ status: answer.status, errorType: answer.errorType }, JSON.stringify(call)).toEqual({
        status: 403,
        errorType,
      });
      // No gateway response of the template covers these types: API Gateway's own body.
      expect(answer.body.message, errorType).toMatch(message);
    }
    expect(invoked).toEqual([]);
  });

  it('leaves the API open without an authorizer, so a plain request works', async () => {
    const names = physicalNames(template, { stackName: 'Jobs' });
    const ctx = createResolveContext(names, { stackName: 'Jobs', template });
    const invoker: LambdaInvoker = {
      invoke: async () => ({ ok: true, payload: { statusCode: 200, body: '{}' } }),
    };
    const api = new LocalRestApi(template, ctx, invoker);
    expect((await api.handle({ method: 'GET', url: '/jobs/j-1', headers: {}, body: '' })).status).toBe(200);
  });
});
