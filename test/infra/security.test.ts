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
  /** Each role's actions on every resource, by the construct path of the role. */
  function wildcardActionsByRole(): Record<string, string[]> {
    const byRole: Record<string, Set<string>> = {};
    const resources = synthesized.toJSON().Resources as Record<
      string,
      {
        Type: string;
        Properties: {
          Roles?: { Ref: string }[];
          PolicyDocument?: { Statement: { Action: string | string[]; Resource: unknown }[] };
        };
      }
    >;
    for (const resource of Object.values(resources)) {
      if (resource.Type !== 'AWS::IAM::Policy') continue;
      for (const statement of resource.Properties.PolicyDocument?.Statement ?? []) {
        if (![statement.Resource].flat().includes('*')) continue;
        for (const role of resource.Properties.Roles ?? []) {
          const name = role.Ref.replace(/[0-9A-F]{8}$/, '');
          byRole[name] ??= new Set();
          for (const action of [statement.Action].flat()) byRole[name].add(action);
        }
      }
    }
    return Object.fromEntries(Object.entries(byRole).map(([role, actions]) => [role, [...actions].sort()]));
  }

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
