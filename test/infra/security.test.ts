import { Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { OrderSagaStack } from '../../lib/order-saga-stack.js';
import { synthOrderSaga, TEST_ENV, testApp } from './synth.js';

function nagCheckedStack() {
  const app = testApp();
  const stack = new OrderSagaStack(app, 'OrderSagaNag', { env: TEST_ENV });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

describe('cdk-nag AwsSolutions', () => {
  it('passes the real stack with no unacknowledged finding', () => {
    const { app } = nagCheckedStack();
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth when a finding is not acknowledged (the gate is live)', () => {
    const { app, stack } = nagCheckedStack();
    new sqs.Queue(stack, 'UnencryptedQueueWithoutDlq');
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });

  it('gives every acknowledgement a real reason and scopes IAM ones to one finding', () => {
    const { stack } = nagCheckedStack();
    const acknowledgements = stack.node
      .findAll()
      .flatMap((construct) =>
        construct.node.metadata.filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY),
      )
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));

    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgements) {
      expect(id).toMatch(/^(Annotation::)?AwsSolutions-[A-Z0-9]+/);
      // IAM rules report one finding per policy entry: a bare rule id would silence every future one.
      if (/AwsSolutions-IAM[45]/.test(id)) expect(id).toMatch(/\[(Resource|Policy|Action)::.+\]$/);
      expect(reason.length, id).toBeGreaterThan(40);
    }
  });
});

describe('actions on "*"', () => {
  const { template: synthesized } = synthOrderSaga();
  type Statement = { Action: string | string[]; Resource: unknown };
  type Resource = {
    Type: string;
    Properties: {
      Roles?: { Ref: string }[];
      ManagedPolicyArns?: unknown[];
      PolicyDocument?: { Statement: Statement[] };
    };
  };
  const resources = synthesized.toJSON().Resources as Record<string, Resource>;
  const wildcardActionsOf = (statements: Statement[] = []) =>
    statements
      .filter((statement) => [statement.Resource].flat().includes('*'))
      .flatMap((s) => [s.Action].flat());

  /**
   * Each role's actions on every resource, by the construct path of the role: from the policies attached to it
   * and from the stack's managed policies it holds.
   */
  function wildcardActionsByRole(): Record<string, string[]> {
    const byRole: Record<string, Set<string>> = {};
    const add = (roleId: string, actions: string[]) => {
      if (actions.length === 0) return;
      const name = roleId.replace(/[0-9A-F]{8}$/, '');
      byRole[name] ??= new Set();
      for (const action of actions) byRole[name].add(action);
    };
    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type === 'AWS::IAM::Policy')
        for (const role of resource.Properties.Roles ?? [])
          add(role.Ref, wildcardActionsOf(resource.Properties.PolicyDocument?.Statement));
      if (resource.Type === 'AWS::IAM::Role')
        for (const arn of resource.Properties.ManagedPolicyArns ?? []) {
          const policy = resources[(arn as { Ref?: string }).Ref ?? ''];
          if (policy?.Type === 'AWS::IAM::ManagedPolicy')
            add(id, wildcardActionsOf(policy.Properties.PolicyDocument?.Statement));
        }
    }
    return Object.fromEntries(Object.entries(byRole).map(([role, actions]) => [role, [...actions].sort()]));
  }

  it("writes the functions' tracing actions once, in the stack's one tracing policy", () => {
    const holding = Object.entries(resources).filter(([, resource]) =>
      wildcardActionsOf(resource.Properties.PolicyDocument?.Statement).includes('xray:PutTraceSegments'),
    );
    // The state machines' own policies keep theirs: CDK writes them with the log delivery actions.
    const functionsPolicies = holding.filter(([id]) => !id.includes('StateMachine'));
    expect(
      functionsPolicies.map(([id, resource]) => [id.replace(/[0-9A-F]{8}$/, ''), resource.Type]),
    ).toEqual([['TracingPolicy', 'AWS::IAM::ManagedPolicy']]);
  });

  it('are exactly tracing, the relay listing streams, and the state machines delivering logs', () => {
    const tracing = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
    const machine = [
      'logs:CreateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:DescribeLogGroups',
      'logs:DescribeResourcePolicies',
      'logs:GetLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:UpdateLogDelivery',
      'xray:GetSamplingRules',
      'xray:GetSamplingTargets',
      ...tracing,
    ];
    const functions = [
      'NotificationsNotificationsConsumerRole',
      'OrdersConfirmOrderRole',
      'OrdersCancelOrderRole',
      'OrdersMarkCompensationFailedRole',
      'OrdersMarkNeedsAttentionRole',
      'InventoryReserveInventoryRole',
      'InventoryReleaseInventoryRole',
      'PaymentsChargePaymentRole',
      'PaymentsRefundPaymentRole',
      'ShippingShippingWorkerRole',
      'ShippingCancelShipmentRole',
      'ApiOrdersApiFunctionRole',
      'ApiReconcileFunctionRole',
      'SweeperSweeperFunctionRole',
      'OutboxRepublisherOutboxRepublisherFunctionRole',
    ];
    expect(wildcardActionsByRole()).toEqual({
      ...Object.fromEntries(functions.map((role) => [role, tracing])),
      OrdersOutboxRelayRole: ['dynamodb:ListStreams', ...tracing],
      OrderSagaStateMachineRole: machine,
      OrderSagaUnwindStateMachineRole: machine,
      OrderSagaCompletionStateMachineRole: machine,
    });
  });
});
