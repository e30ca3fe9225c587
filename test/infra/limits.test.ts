import { readFileSync } from 'node:fs';
import { Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { IN_FLIGHT_RETRY_AFTER_SECONDS } from '../../lambdas/orders/in-flight.js';
import {
  MAX_BODY_BYTES,
  MAX_ITEMS,
  MAX_QUANTITY,
  MAX_UNITS_PER_ORDER,
} from '../../lambdas/orders-api/schemas.js';
import { STAGES, stageConfig } from '../../lib/stages.js';
import { synthOrderSaga } from './synth.js';

type Resource = { Properties: Record<string, unknown> };

const CHECKOUT = { name: 'checkout', rateLimit: 20, burstLimit: 40, quotaPerDay: 50_000 };
const SERVICES = [CHECKOUT, { name: 'ops-tools', rateLimit: 2, burstLimit: 4, quotaPerDay: 1_000 }];

const dev = synthOrderSaga({}, { stage: 'dev', nag: true });
const prod = synthOrderSaga({}, { stage: 'prod', nag: true });
const withServices = synthOrderSaga({
  stage: { ...stageConfig('dev'), apiAccess: { ...stageConfig('dev').apiAccess, services: SERVICES } },
});

function resources(template: Template, type: string): Resource[] {
  return Object.values(template.findResources(type) as Record<string, Resource>);
}

/** Each method's route (`POST /orders`) and whether it requires an API key. */
function keyRequiredByRoute(template: Template): Record<string, boolean> {
  const all = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  const pathOf = (ref: unknown): string => {
    const id = (ref as { Ref?: string }).Ref;
    if (!id) return '';
    const properties = all[id]?.Properties ?? {};
    return `${pathOf(properties.ParentId)}/${String(properties.PathPart)}`;
  };
  return Object.fromEntries(
    Object.values(all)
      .filter((resource) => resource.Type === 'AWS::ApiGateway::Method')
      .map((method) => [
        `${String(method.Properties.HttpMethod)} ${pathOf(method.Properties.ResourceId)}`,
        method.Properties.ApiKeyRequired === true,
      ]),
  );
}

function acknowledged(stack: typeof dev.stack, rule: string): string[] {
  return stack.node
    .findAll()
    .flatMap((construct) =>
      construct.node.metadata.filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY),
    )
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
    .filter(([id]) => id.replace(/^Annotation::/, '') === rule)
    .map(([, reason]) => reason);
}

describe('API keys and usage plans per calling service', () => {
  it('gives each named service its own key and a plan with its rate, burst and daily quota on the stage', () => {
    const plans = resources(withServices.template, 'AWS::ApiGateway::UsagePlan');
    expect(plans.map((plan) => [plan.Properties.Throttle, plan.Properties.Quota])).toEqual([
      [
        { RateLimit: 20, BurstLimit: 40 },
        { Limit: 50_000, Period: 'DAY' },
      ],
      [
        { RateLimit: 2, BurstLimit: 4 },
        { Limit: 1_000, Period: 'DAY' },
      ],
    ]);
    for (const plan of plans)
      expect(plan.Properties.ApiStages).toEqual([
        expect.objectContaining({ ApiId: expect.anything(), Stage: expect.anything() }),
      ]);
    expect(resources(withServices.template, 'AWS::ApiGateway::ApiKey')).toHaveLength(2);
    // One key per plan, never a key shared by two services.
    const links = resources(withServices.template, 'AWS::ApiGateway::UsagePlanKey').map((link) => [
      JSON.stringify(link.Properties.KeyId),
      JSON.stringify(link.Properties.UsagePlanId),
    ]);
    expect(new Set(links.map(([key]) => key)).size).toBe(2);
    expect(new Set(links.map(([, plan]) => plan)).size).toBe(2);
  });

  it('requires a key on the service routes only, never on the customer routes', () => {
    expect(keyRequiredByRoute(withServices.template)).toEqual({
      'POST /orders': true,
      'GET /orders/{orderId}': true,
      'POST /orders/{orderId}/reconcile': true,
      'POST /customer/orders': false,
      'GET /customer/orders/{orderId}': false,
      'POST /customer/orders/{orderId}/reconcile': false,
    });
  });

  it('answers a missing or unknown key with 403 InvalidApiKey in the API error shape', () => {
    withServices.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'INVALID_API_KEY',
      StatusCode: '403',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"code":"InvalidApiKey"') },
    });
  });

  it('outputs each key id, never a value', () => {
    const outputs = withServices.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).filter((name) => name.startsWith('ApiKeyId'))).toEqual([
      'ApiKeyIdCheckout',
      'ApiKeyIdOpsTools',
    ]);
    expect(outputs.ApiKeyIdCheckout?.Value).toEqual({ Ref: expect.stringMatching(/CheckoutKey/) });
    for (const key of resources(withServices.template, 'AWS::ApiGateway::ApiKey'))
      expect(key.Properties.Value).toBeUndefined();
  });

  it('changes nothing where no service is named (dev): no key, no plan, no method requiring one', () => {
    expect(resources(dev.template, 'AWS::ApiGateway::ApiKey')).toEqual([]);
    expect(resources(dev.template, 'AWS::ApiGateway::UsagePlan')).toEqual([]);
    expect(Object.values(keyRequiredByRoute(dev.template))).not.toContain(true);
  });

  it('names prod checkout and the operators tooling, each on a plan below the stage throttle', () => {
    const plans = resources(prod.template, 'AWS::ApiGateway::UsagePlan');
    expect(plans).toHaveLength(2);
    for (const plan of plans)
      expect((plan.Properties.Throttle as { RateLimit: number }).RateLimit).toBeLessThan(
        STAGES.prod.apiThrottling.rateLimit,
      );
  });

  it('refuses service names that cannot become distinct keys and outputs', () => {
    const stage = (services: typeof SERVICES) => ({
      ...stageConfig('dev'),
      apiAccess: { ...stageConfig('dev').apiAccess, services },
    });
    expect(() => synthOrderSaga({ stage: stage([CHECKOUT, CHECKOUT]) })).toThrow(/named twice/);
    expect(() => synthOrderSaga({ stage: stage([{ ...CHECKOUT, name: 'a b' }]) })).toThrow(
      /1-32 of A-Za-z0-9-/,
    );
  });
});

describe('the contract', () => {
  const contract = parse(readFileSync('contract/openapi.yaml', 'utf8')) as {
    'x-limits': Record<string, unknown>;
  };

  it("states the limits the code and every stage's configuration enforce", () => {
    expect(contract['x-limits']).toEqual({
      ordersInFlightPerCustomer: STAGES.dev.ordersInFlightPerCustomer,
      inFlightRetryAfterSeconds: IN_FLIGHT_RETRY_AFTER_SECONDS,
      unitsPerLine: MAX_QUANTITY,
      unitsPerOrder: MAX_UNITS_PER_ORDER,
      linesPerOrder: MAX_ITEMS,
      apiKeyHeader: 'x-api-key',
    });
    expect(STAGES.prod.ordersInFlightPerCustomer).toBe(STAGES.dev.ordersInFlightPerCustomer);
  });
});

describe('the in-flight cap', () => {
  it("reaches the API function from the stage's configuration", () => {
    dev.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          MAX_ORDERS_IN_FLIGHT: String(STAGES.dev.ordersInFlightPerCustomer),
          STATE_MACHINE_ARN: Match.anyValue(),
        }),
      },
    });
  });
});

describe('AWS WAF', () => {
  it('guards the prod stage with a per-IP rate rule, a body-size rule and the common rule set', () => {
    const [acl] = resources(prod.template, 'AWS::WAFv2::WebACL');
    expect(acl?.Properties.Scope).toBe('REGIONAL');
    const rules = acl?.Properties.Rules as { Name: string; Statement: Record<string, unknown> }[];
    expect(rules.map((rule) => rule.Name)).toEqual(['RatePerIp', 'BodyTooLarge', 'AwsCommonRuleSet']);
    expect(rules[0]?.Statement.RateBasedStatement).toEqual({
      AggregateKeyType: 'IP',
      Limit: STAGES.prod.waf.requestsPerIpPer5Minutes,
    });
    expect(rules[1]?.Statement.SizeConstraintStatement).toMatchObject({
      FieldToMatch: { Body: { OversizeHandling: 'MATCH' } },
      ComparisonOperator: 'GT',
      Size: MAX_BODY_BYTES,
    });
    const [association] = resources(prod.template, 'AWS::WAFv2::WebACLAssociation');
    expect(JSON.stringify(association?.Properties.ResourceArn)).toContain('/stages/');
  });

  it('leaves dev without a web ACL, its APIG3 acknowledgement saying why; prod has none to acknowledge', () => {
    expect(resources(dev.template, 'AWS::WAFv2::WebACL')).toEqual([]);
    const [reason] = acknowledged(dev.stack, 'AwsSolutions-APIG3');
    expect(reason).toMatch(/without AWS WAF/);
    expect(acknowledged(prod.stack, 'AwsSolutions-APIG3')).toEqual([]);
  });
});
