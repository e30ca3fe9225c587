import { readFileSync } from 'node:fs';
import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ATTENTION_REASONS, ORDER_STATUSES } from '../../lambdas/orders/status.js';
import { createOrderRequestSchema, reconcileRequestSchema } from '../../lambdas/orders-api/schemas.js';
import { SAGA_END_STATES, SAGA_STEPS } from '../../lambdas/shared/saga-states.js';
import { STEP_BUSINESS_ERRORS } from '../../lib/order-saga-stack.js';
import { catchTarget, synthOrderSaga } from './synth.js';

interface Operation {
  parameters?: { name?: string; in?: string; required?: boolean; $ref?: string }[];
  responses: Record<string, unknown>;
}
interface SagaStepContract {
  state: string;
  timeoutSeconds: number;
  heartbeatSeconds?: number;
  retry: {
    maxAttempts: number;
    intervalSeconds: number;
    backoffRate: number;
    maxDelaySeconds: number;
    jitter: string;
  };
  businessErrors: string[];
  compensation?: string;
  pivot?: boolean;
  reportsContention?: boolean;
}

const contract = parse(readFileSync('contract/openapi.yaml', 'utf8')) as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
  'x-saga': {
    executionTimeoutSeconds: number;
    pivot: string;
    transientErrors: string[];
    contentionRetry: {
      errors: string[];
      maxAttempts: number;
      intervalSeconds: number;
      backoffRate: number;
      maxDelaySeconds: number;
      jitter: string;
    };
    compensationRetry: {
      errors: string[];
      maxAttempts: number;
      intervalSeconds: number;
      backoffRate: number;
      maxDelaySeconds: number;
    };
    steps: SagaStepContract[];
    finalCompensation: string;
    escalation: string;
    cancelled: string;
    escalated: string;
    afterPivotEscalation: string;
    afterPivotEscalated: string;
    succeeded: string;
    automaticRedrives: number;
  };
};
const { stack, template, definition, unwind, completion } = synthOrderSaga();

const retrierOf = (policy: (typeof contract)['x-saga']['contentionRetry']) => ({
  ErrorEquals: policy.errors,
  MaxAttempts: policy.maxAttempts,
  IntervalSeconds: policy.intervalSeconds,
  BackoffRate: policy.backoffRate,
  MaxDelaySeconds: policy.maxDelaySeconds,
  JitterStrategy: policy.jitter,
});

type Resource = { Properties: Record<string, unknown> };
const resources = template.toJSON().Resources as Record<string, Resource>;

/** The deployed routes, rebuilt from the template's API Gateway resources and methods. */
function deployedRoutes(): { path: string; method: string; properties: Record<string, unknown> }[] {
  const pathOf = (reference: unknown): string => {
    const ref = (reference as { Ref?: string }).Ref;
    if (!ref) return '';
    const properties = resources[ref]?.Properties ?? {};
    return `${pathOf(properties.ParentId)}/${String(properties.PathPart)}`;
  };
  return Object.values(template.findResources('AWS::ApiGateway::Method') as Record<string, Resource>).map(
    (method) => ({
      path: pathOf(method.Properties.ResourceId),
      method: String(method.Properties.HttpMethod).toLowerCase(),
      properties: method.Properties,
    }),
  );
}

function withoutDescriptions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== 'description')
        .map(([key, item]) => [key, withoutDescriptions(item)]),
    );
  }
  return value;
}

describe('contract/openapi.yaml', () => {
  it('is OpenAPI 3.0, which API Gateway imports', () => {
    expect(contract.openapi).toMatch(/^3\.0\./);
  });

  it('describes exactly the deployed routes and methods', () => {
    const documented = Object.entries(contract.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method} ${path}`),
    );
    const deployed = deployedRoutes().map((route) => `${route.method} ${route.path}`);
    expect(documented.sort()).toEqual(deployed.sort());
  });

  it('states the same request schema the handler validates with', () => {
    expect(withoutDescriptions(contract.components.schemas.CreateOrderRequest)).toEqual(
      createOrderRequestSchema,
    );
  });

  it('states the same reconcile body the handler validates with', () => {
    expect(withoutDescriptions(contract.components.schemas.ReconcileRequest)).toEqual(reconcileRequestSchema);
  });

  it('lists every order status and every reason an order waits for a person', () => {
    const schemas = contract.components.schemas as Record<
      string,
      { enum?: string[]; properties?: Record<string, { enum?: string[] }> }
    >;
    expect([...(schemas.OrderStatus?.enum ?? [])].sort()).toEqual([...ORDER_STATUSES].sort());
    expect(schemas.Failure?.properties?.reason?.enum).toEqual([...ATTENTION_REASONS]);
  });

  it('documents what reconcile answers: 202 when an action starts, 400, 404 and 409', () => {
    const responses = Object.keys(contract.paths['/orders/{orderId}/reconcile']?.post?.responses ?? {});
    expect(responses).toEqual(expect.arrayContaining(['200', '202', '400', '404', '409']));
  });

  it('deploys the same schema as the API Gateway model that validates POST /orders', () => {
    const post = deployedRoutes().find((route) => route.method === 'post' && route.path === '/orders');
    const models = (post?.properties.RequestModels ?? {}) as Record<string, { Ref: string }>;
    const modelId = models['application/json']?.Ref ?? '';
    expect(resources[modelId]?.Properties.Schema).toEqual({
      $schema: 'http://json-schema.org/draft-04/schema#',
      ...createOrderRequestSchema,
    });
  });

  it('requires the Idempotency-Key header in both the contract and the deployed method', () => {
    const parameters = contract.paths['/orders']?.post?.parameters ?? [];
    expect(parameters).toContainEqual(
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }),
    );
    const post = deployedRoutes().find((route) => route.method === 'post' && route.path === '/orders');
    expect(post?.properties.RequestParameters).toEqual({ 'method.request.header.Idempotency-Key': true });
  });

  it('documents the error answers every route can give', () => {
    for (const [path, operations] of Object.entries(contract.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(
          expect.arrayContaining(['403', '429', '500']),
        );
      }
    }
    expect(Object.keys(contract.paths['/orders']?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '202', '400', '413', '415', '422']),
    );
  });

  it('states each step as the state machine runs it', () => {
    const saga = contract['x-saga'];
    expect(saga.executionTimeoutSeconds).toBe(definition.TimeoutSeconds);
    expect(saga.steps.map((step) => step.state)).toEqual(Object.keys(STEP_BUSINESS_ERRORS));
    expect(saga.steps.map((step) => step.state)).toEqual(
      [
        SAGA_STEPS.reserveInventory,
        SAGA_STEPS.chargePayment,
        SAGA_STEPS.createShipment,
        SAGA_STEPS.confirmOrder,
      ].map((step) => step.state),
    );
    for (const step of saga.steps) {
      const state = definition.States[step.state];
      const retriers = state?.Retry ?? [];
      const contention = retriers.find((candidate) => candidate.ErrorEquals.includes('WriteConflict'));
      const retrier = retriers.find((candidate) => !candidate.ErrorEquals.includes('WriteConflict'));
      expect(contention, step.state).toEqual(
        step.reportsContention === false ? undefined : retrierOf(saga.contentionRetry),
      );
      expect(state?.TimeoutSeconds, step.state).toBe(step.timeoutSeconds);
      expect(state?.HeartbeatSeconds, step.state).toBe(step.heartbeatSeconds);
      expect(retrier, step.state).toMatchObject({
        MaxAttempts: step.retry.maxAttempts,
        IntervalSeconds: step.retry.intervalSeconds,
        BackoffRate: step.retry.backoffRate,
        MaxDelaySeconds: step.retry.maxDelaySeconds,
        JitterStrategy: step.retry.jitter,
      });
      expect(step.businessErrors, step.state).toEqual(
        STEP_BUSINESS_ERRORS[step.state as keyof typeof STEP_BUSINESS_ERRORS],
      );
      expect(catchTarget(definition, step.state), step.state).toBe(
        step.compensation ?? saga.afterPivotEscalation,
      );
    }
    expect(saga.steps.find((step) => step.pivot)?.state).toBe(saga.pivot);
  });

  it('states the automatic redrive budget reconcile and the sweeper apply', () => {
    const logicalId = stack.getLogicalId(stack.api.reconcileFunction.node.defaultChild as CfnElement);
    const environment = resources[logicalId]?.Properties.Environment as
      | { Variables: Record<string, string> }
      | undefined;
    expect(Number(environment?.Variables.AUTO_REDRIVE_BUDGET)).toBe(contract['x-saga'].automaticRedrives);
  });

  it('states the retry policies and end states the state machine has', () => {
    const saga = contract['x-saga'];
    expect(definition.States.ReserveInventory?.Retry?.[1]?.ErrorEquals).toEqual(saga.transientErrors);
    for (const name of [saga.escalation, saga.afterPivotEscalation]) {
      expect(definition.States[name]?.Retry?.[0], name).toEqual(retrierOf(saga.contentionRetry));
    }
    expect(definition.States.ReleaseInventory?.Retry?.[0]).toMatchObject({
      ErrorEquals: saga.compensationRetry.errors,
      MaxAttempts: saga.compensationRetry.maxAttempts,
      IntervalSeconds: saga.compensationRetry.intervalSeconds,
      BackoffRate: saga.compensationRetry.backoffRate,
      MaxDelaySeconds: saga.compensationRetry.maxDelaySeconds,
    });
    for (const name of [
      saga.finalCompensation,
      saga.escalation,
      saga.cancelled,
      saga.escalated,
      saga.afterPivotEscalation,
      saga.afterPivotEscalated,
      saga.succeeded,
    ]) {
      expect(definition.States[name], name).toBeDefined();
    }
    // Reconcile reads how an execution ended from these names: the contract, the stack and reconcile agree.
    expect([saga.succeeded, saga.cancelled, saga.escalated, saga.afterPivotEscalated].sort()).toEqual(
      Object.values(SAGA_END_STATES).sort(),
    );
    expect(Object.keys(unwind.States)).toEqual(expect.arrayContaining([saga.cancelled, saga.escalated]));
    expect(Object.keys(completion.States)).toEqual(
      expect.arrayContaining([saga.succeeded, saga.afterPivotEscalated]),
    );
  });
});

describe('the deployed API', () => {
  it('authorizes the service routes with IAM (SigV4) and the customer routes with the user pool, as the contract says', () => {
    const methods = deployedRoutes();
    expect(methods).toHaveLength(6);
    const operations = contract.paths as Record<string, Record<string, { security?: object[] }>>;
    for (const route of methods) {
      const customer = route.path.startsWith('/customer/');
      expect(route.properties.AuthorizationType, `${route.method} ${route.path}`).toBe(
        customer ? 'COGNITO_USER_POOLS' : 'AWS_IAM',
      );
      expect(operations[route.path]?.[route.method]?.security, route.path).toEqual(
        customer ? [{ customerToken: [] }] : undefined,
      );
    }
  });

  it('throttles the stage, logs access and errors, and traces', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
        }),
      ],
    });
  });

  it('answers API Gateway errors in the API error shape', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_BODY',
      StatusCode: '400',
      ResponseTemplates: {
        'application/json': Match.stringLikeRegexp('^\\{"error":\\{"code":"ValidationFailed","message":'),
      },
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      StatusCode: '429',
    });
  });

  it('lets the orders function start executions of the saga only, and read the history of every machine', () => {
    const fnRole = stack.resolve(stack.api.ordersFunction.role?.roleName);
    const policies = Object.values(
      template.findResources('AWS::IAM::Policy') as Record<string, Resource>,
    ).filter((policy) => JSON.stringify(policy.Properties.Roles).includes(JSON.stringify(fnRole)));
    const statements = policies.flatMap(
      (policy) =>
        (policy.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] })
          .Statement,
    );
    const start = statements.find((statement) => statement.Action === 'states:StartExecution');
    expect(start?.Resource).toEqual(stack.resolve(stack.saga.stateMachine.stateMachineArn));
    // One statement or three, as the policy minimizer merges them: the executions of the three machines.
    const histories = statements
      .filter((statement) => statement.Action === 'states:GetExecutionHistory')
      .flatMap((statement) => [statement.Resource].flat());
    expect(histories).toHaveLength(3);
    for (const history of histories) expect(JSON.stringify(history)).toContain(':execution:');
  });
});

describe('gateway answers', () => {
  it('keep the status API Gateway chose for signature, token and authorization failures', () => {
    const responses = Object.values(
      template.findResources('AWS::ApiGateway::GatewayResponse') as Record<string, Resource>,
    );
    const default4xx = responses.find((response) => response.Properties.ResponseType === 'DEFAULT_4XX');
    expect(default4xx?.Properties).not.toHaveProperty('StatusCode');
    const accessDenied = responses.find((response) => response.Properties.ResponseType === 'ACCESS_DENIED');
    expect(accessDenied?.Properties.StatusCode).toBe('403');
  });
});
