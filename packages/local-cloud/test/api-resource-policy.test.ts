import { describe, expect, it } from 'vitest';
import { createIamAuthorizer } from '../src/api-auth/iam-authorizer.js';
import { LocalRestApi } from '../src/api-gateway.js';
import type { LambdaInvoker } from '../src/stepfunctions-engine.js';
import { type CfnTemplate, createResolveContext, physicalNames } from '../src/template.js';
import { ADMIN, jobsApiResources, signedHeaders, USER } from './jobs-api.js';

/** A REST API whose identity policy grants every route to both callers, and whose resource policy cuts that down. */
function templateWith(policy: unknown): CfnTemplate {
  return {
    Resources: {
      ...jobsApiResources({ Policy: policy }),
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

const user = USER;
const admin = ADMIN;

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
  const headers = await signedHeaders(keys, { method: 'POST', path, headers: { host: '127.0.0.1:3000' } });
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
