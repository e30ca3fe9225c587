import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { createIamAuthorizer } from '../src/api-auth/iam-authorizer.js';
import { LocalRestApi } from '../src/api-gateway.js';
import type { LambdaInvoker } from '../src/stepfunctions-engine.js';
import { type CfnTemplate, createResolveContext, physicalNames } from '../src/template.js';

const method = (httpMethod: string, resource: string) => ({
  Type: 'AWS::ApiGateway::Method',
  Properties: {
    HttpMethod: httpMethod,
    RestApiId: { Ref: 'Api' },
    ResourceId: { Ref: resource },
    AuthorizationType: 'AWS_IAM',
    Integration: {
      Type: 'AWS_PROXY',
      Uri: 'arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:jobs/invocations',
    },
  },
});

/** A REST API whose identity policy grants every route to both callers, and whose resource policy cuts that down. */
function templateWith(policy: unknown): CfnTemplate {
  return {
    Resources: {
      Api: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'jobs', Policy: policy } },
      ApiStage: {
        Type: 'AWS::ApiGateway::Stage',
        Properties: { RestApiId: { Ref: 'Api' }, StageName: 'v1' },
      },
      Jobs: {
        Type: 'AWS::ApiGateway::Resource',
        Properties: { ParentId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] }, PathPart: 'jobs' },
      },
      Job: {
        Type: 'AWS::ApiGateway::Resource',
        Properties: { ParentId: { Ref: 'Jobs' }, PathPart: '{jobId}' },
      },
      Cancel: {
        Type: 'AWS::ApiGateway::Resource',
        Properties: { ParentId: { Ref: 'Job' }, PathPart: 'cancel' },
      },
      PostJob: method('POST', 'Jobs'),
      CancelJob: method('POST', 'Cancel'),
      Everything: {
        Type: 'AWS::IAM::ManagedPolicy',
        Properties: {
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: '*' }],
          },
        },
      },
    },
    Outputs: { EverythingArn: { Value: { Ref: 'Everything' } } },
  };
}

const deny = (resource: string, condition: object) => ({
  Effect: 'Deny',
  Principal: { AWS: '*' },
  Action: 'execute-api:Invoke',
  Resource: resource,
  Condition: condition,
});

const user = { name: 'user', accessKeyId: 'AKIAUSER000000000001', secretAccessKey: 'user-secret' };
const admin = { name: 'admin', accessKeyId: 'AKIAADMIN00000000001', secretAccessKey: 'admin-secret' };

async function statusOf(template: CfnTemplate, keys: typeof user, path: string) {
  const names = physicalNames(template, { stackName: 'Jobs' });
  const ctx = createResolveContext(names, { stackName: 'Jobs', template });
  const authorizer = createIamAuthorizer(
    template,
    ctx,
    [user, admin].map((identity) => ({ ...identity, policyOutputs: ['EverythingArn'] })),
  );
  const invoker: LambdaInvoker = {
    invoke: async () => ({ ok: true, payload: { statusCode: 200, body: '{}' } }),
  };
  const api = new LocalRestApi(template, ctx, invoker, { authorizer });
  const signer = new SignatureV4({
    credentials: keys,
    region: 'us-east-1',
    service: 'execute-api',
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 3000,
    path,
    query: {},
    headers: { host: '127.0.0.1:3000' },
  });
  const headers = Object.fromEntries(
    Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), String(value)]),
  );
  const response = await api.handle({ method: 'POST', url: path, headers, body: '' });
  return { status: response.status, body: response.body };
}

describe("the REST API's resource policy on IAM-authorized methods", () => {
  const template = templateWith({
    Version: '2012-10-17',
    Statement: [
      deny('execute-api:/v1/POST/jobs/*/cancel', {
        StringNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::000000000000:user/admin' },
      }),
      deny('execute-api:/v1/POST/jobs', {
        StringNotEquals: { 'aws:PrincipalAccount': '000000000000' },
      }),
    ],
  });

  it('refuses a caller its Deny names, whatever its own policies grant', async () => {
    const answer = await statusOf(template, user, '/jobs/j-1/cancel');

    expect(answer.status).toBe(403);
    expect(answer.body).toContain('with an explicit deny');
  });

  it('lets through callers its conditions exempt', async () => {
    expect((await statusOf(template, admin, '/jobs/j-1/cancel')).status).toBe(200);
    expect((await statusOf(template, user, '/jobs')).status).toBe(200);
  });

  it('denies every caller of another account on a route it keeps to the account', async () => {
    const foreign = templateWith({
      Version: '2012-10-17',
      Statement: [
        deny('execute-api:/v1/POST/jobs', { StringNotEquals: { 'aws:PrincipalAccount': '111111111111' } }),
      ],
    });

    expect((await statusOf(foreign, admin, '/jobs')).status).toBe(403);
  });
});
