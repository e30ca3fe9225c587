import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { CfnResource } from '../src/template.js';

/** A method as a CDK RestApi writes it: IAM-authorized, proxied to one function. */
export const method = (httpMethod: string, resource: string): CfnResource => ({
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

/** The jobs API the auth tests share: POST /jobs, GET /jobs/{jobId}, POST /jobs/{jobId}/cancel on stage v1. */
export function jobsApiResources(apiProperties: Record<string, unknown> = {}): Record<string, CfnResource> {
  return {
    Api: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'jobs', ...apiProperties } },
    ApiStage: { Type: 'AWS::ApiGateway::Stage', Properties: { RestApiId: { Ref: 'Api' }, StageName: 'v1' } },
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
    GetJob: method('GET', 'Job'),
    CancelJob: method('POST', 'Cancel'),
  };
}

export const USER = { name: 'user', accessKeyId: 'AKIAUSER000000000001', secretAccessKey: 'user-secret' };
export const ADMIN = { name: 'admin', accessKeyId: 'AKIAADMIN00000000001', secretAccessKey: 'admin-secret' };

/** A request to the local API on 127.0.0.1:3000 signed with SigV4 for execute-api, headers in lower case. */
export async function signedHeaders(
  keys: { accessKeyId: string; secretAccessKey: string },
  request: { method: string; path: string; headers: Record<string, string>; body?: string },
  signingDate?: Date,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: keys,
    region: 'us-east-1',
    service: 'execute-api',
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 3000,
      path: request.path,
      query: {},
      headers: request.headers,
      body: request.body || undefined,
    },
    { signingDate },
  );
  return Object.fromEntries(
    Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), String(value)]),
  );
}
