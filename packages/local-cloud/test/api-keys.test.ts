import { describe, expect, it } from 'vitest';
import { LocalRestApi } from '../src/api-gateway.js';
import type { LambdaInvoker } from '../src/stepfunctions-engine.js';
import { type CfnTemplate, createResolveContext, physicalNames } from '../src/template.js';

const NOTES_FUNCTION =
  'arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:notes/invocations';

const method = (httpMethod: string, resource: string, apiKeyRequired: boolean) => ({
  Type: 'AWS::ApiGateway::Method',
  Properties: {
    HttpMethod: httpMethod,
    RestApiId: { Ref: 'Api' },
    ResourceId: { Ref: resource },
    AuthorizationType: 'NONE',
    ApiKeyRequired: apiKeyRequired,
    Integration: { Type: 'AWS_PROXY', Uri: NOTES_FUNCTION },
  },
});

// As CDK writes them: a key on the stage, a usage plan with throttle and quota, the link between them; one method
// requiring a key, one not; and the stack's THROTTLED answer with its Retry-After.
const template: CfnTemplate = {
  Resources: {
    Api: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'notes' } },
    ApiStage: { Type: 'AWS::ApiGateway::Stage', Properties: { RestApiId: { Ref: 'Api' }, StageName: 'v1' } },
    Notes: {
      Type: 'AWS::ApiGateway::Resource',
      Properties: { ParentId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] }, PathPart: 'notes' },
    },
    Public: {
      Type: 'AWS::ApiGateway::Resource',
      Properties: { ParentId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] }, PathPart: 'public' },
    },
    PostNotes: method('POST', 'Notes', true),
    GetPublic: method('GET', 'Public', false),
    CheckoutKey: {
      Type: 'AWS::ApiGateway::ApiKey',
      Properties: { Enabled: true, Description: 'checkout', StageKeys: [{ RestApiId: { Ref: 'Api' } }] },
    },
    StrayKey: { Type: 'AWS::ApiGateway::ApiKey', Properties: { Enabled: true } },
    CheckoutPlan: {
      Type: 'AWS::ApiGateway::UsagePlan',
      Properties: {
        ApiStages: [{ ApiId: { Ref: 'Api' }, Stage: { Ref: 'ApiStage' } }],
        Throttle: { RateLimit: 1, BurstLimit: 2 },
        Quota: { Limit: 5, Period: 'DAY' },
      },
    },
    CheckoutPlanKey: {
      Type: 'AWS::ApiGateway::UsagePlanKey',
      Properties: { KeyId: { Ref: 'CheckoutKey' }, KeyType: 'API_KEY', UsagePlanId: { Ref: 'CheckoutPlan' } },
    },
    Throttled: {
      Type: 'AWS::ApiGateway::GatewayResponse',
      Properties: {
        ResponseType: 'THROTTLED',
        StatusCode: '429',
        ResponseParameters: { 'gatewayresponse.header.Retry-After': "'1'" },
        ResponseTemplates: {
          'application/json': '{"error":{"code":"TooManyRequests","message":$context.error.messageString}}',
        },
      },
    },
  },
};

const names = physicalNames(template, { stackName: 'Notes' });
const ctx = createResolveContext(names, { stackName: 'Notes', template });

function localApi(now: () => number = Date.now) {
  const invoker: LambdaInvoker = {
    async invoke() {
      return { ok: true, payload: { statusCode: 201, body: '{"ok":true}' } };
    },
  };
  return new LocalRestApi(template, ctx, invoker, { now });
}

const call = (api: LocalRestApi, path: string, key?: string) =>
  api.handle({
    method: path === '/notes' ? 'POST' : 'GET',
    url: path,
    headers: key ? { 'X-Api-Key': key } : {},
    body: '',
  });

const keyValue = (api: LocalRestApi, logicalId: string) =>
  api.apiKeys.keys.find((key) => key.logicalId === logicalId)?.value ?? '';

describe('API keys on the local API', () => {
  it('makes one value per key, the same at every start, with the id Ref gives', () => {
    const [first, second] = [localApi(), localApi()];
    expect(first.apiKeys.keys.map(({ logicalId, description }) => ({ logicalId, description }))).toEqual([
      { logicalId: 'CheckoutKey', description: 'checkout' },
      { logicalId: 'StrayKey' },
    ]);
    expect(keyValue(first, 'CheckoutKey')).toMatch(/^[0-9a-f]{40}$/);
    expect(keyValue(second, 'CheckoutKey')).toBe(keyValue(first, 'CheckoutKey'));
    expect(keyValue(first, 'StrayKey')).not.toBe(keyValue(first, 'CheckoutKey'));
    expect(first.apiKeys.keys[0]?.id).toBe(names.CheckoutKey?.ref);
  });

  it('refuses a method that requires a key without one, or with a key of no plan on the stage, with 403 Forbidden', async () => {
    const api = localApi();
    for (const key of [undefined, 'not-a-key', keyValue(api, 'StrayKey')]) {
      const response = await call(api, '/notes', key);
      expect(response.status, String(key)).toBe(403);
      expect(response.headers['x-amzn-errortype']).toBe('ForbiddenException');
      expect(JSON.parse(response.body)).toEqual({ message: 'Forbidden' });
    }
  });

  it("passes a plan's key, header name in any case, and leaves methods that need none open", async () => {
    const api = localApi();
    expect((await call(api, '/notes', keyValue(api, 'CheckoutKey'))).status).toBe(201);
    expect((await call(api, '/public')).status).toBe(201);
  });

  it("throttles a key past its plan's burst with 429 and the gateway response's Retry-After, then refills at its rate", async () => {
    let now = Date.parse('2026-01-01T12:00:00Z');
    const api = localApi(() => now);
    const key = keyValue(api, 'CheckoutKey');

    const burst = [await call(api, '/notes', key), await call(api, '/notes', key)];
    const throttled = await call(api, '/notes', key);
    now += 1000;
    const refilled = await call(api, '/notes', key);

    expect(burst.map((response) => response.status)).toEqual([201, 201]);
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('1');
    expect(JSON.parse(throttled.body)).toEqual({
      error: { code: 'TooManyRequests', message: 'Too Many Requests' },
    });
    expect(refilled.status).toBe(201);
  });

  it("refuses a key past its plan's daily quota with 429 until the next UTC day", async () => {
    let now = Date.parse('2026-01-01T12:00:00Z');
    const api = localApi(() => now);
    const key = keyValue(api, 'CheckoutKey');
    const statuses: number[] = [];
    for (let request = 0; request < 6; request++) {
      now += 5000;
      statuses.push((await call(api, '/notes', key)).status);
    }
    now = Date.parse('2026-01-02T00:00:01Z');
    const nextDay = await call(api, '/notes', key);

    expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    expect(nextDay.status).toBe(201);
  });
});
