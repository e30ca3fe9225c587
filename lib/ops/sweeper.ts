import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ORDERS_BY_STATUS_INDEX } from '../../lambdas/orders/orders.js';
import { grantExecutionAccess } from '../platform/executions.js';
import { lambdaEntry } from '../platform/paths.js';
import { ServiceFunction } from '../platform/service-function.js';
import type { ServiceTable } from '../platform/service-table.js';

export interface SweeperProps {
  readonly ordersTable: ServiceTable;
  readonly stateMachine: sfn.StateMachine;
  /**
   * How often the sweep runs.
   * @default Duration.minutes(5)
   */
  readonly every?: Duration;
  /**
   * How long an order may stay PENDING after its last change before it is reconciled. Longer than the
   * gap between the order write and its StartExecution; a running saga is left alone either way.
   * @default Duration.minutes(5)
   */
  readonly stuckAfter?: Duration;
  /**
   * Orders reconciled per run at most, so one run stays well inside the function timeout.
   * @default 100
   */
  readonly batchLimit?: number;
}

/** Finds orders stuck in PENDING and reconciles each with its execution: starts, redrives or aligns. */
export class Sweeper extends Construct {
  readonly function: ServiceFunction;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: SweeperProps) {
    super(scope, id);
    this.function = new ServiceFunction(this, 'SweeperFunction', {
      entry: lambdaEntry('sweeper/handler.ts'),
      timeout: Duration.minutes(1),
      environment: {
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        STUCK_AFTER_SECONDS: String((props.stuckAfter ?? Duration.minutes(5)).toSeconds()),
        SWEEP_BATCH_LIMIT: String(props.batchLimit ?? 100),
      },
    }).useTable(
      'TABLE_NAME',
      props.ordersTable,
      ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem'],
      [ORDERS_BY_STATUS_INDEX],
    );
    props.stateMachine.grantStartExecution(this.function);
    grantExecutionAccess(this.function, props.stateMachine, [
      'states:DescribeExecution',
      'states:RedriveExecution',
    ]);

    this.schedule = new events.Rule(this, 'Schedule', {
      ruleName: `${Stack.of(this).stackName}-sweeper`,
      description: 'Reconciles orders stuck in PENDING with their saga executions',
      schedule: events.Schedule.rate(props.every ?? Duration.minutes(5)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 2 })],
    });
  }
}
