import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { ORDERS_BY_STATUS_INDEX } from '../../lambdas/orders/orders.js';
import { UNPUBLISHED_INDEX } from '../../lambdas/shared/outbox.js';
import { lambdaEntry } from '../platform/paths.js';
import { ServiceFunction } from '../platform/service-function.js';
import type { ServiceTable } from '../platform/service-table.js';
import { bindReconcile, type ReconcileSettings } from '../services/reconcile-access.js';

export interface SweeperProps {
  readonly ordersTable: ServiceTable;
  /** The saga and the rules reconcile applies; `stuckAfter` is how long an order stays PENDING before it is swept. */
  readonly reconcile: ReconcileSettings;
  /**
   * How often the sweep runs.
   * @default Duration.minutes(5)
   */
  readonly every?: Duration;
  /**
   * Orders reconciled per run at most, so one run stays well inside the function timeout.
   * @default 100
   */
  readonly batchLimit?: number;
}

/**
 * Finds orders stuck in PENDING and reconciles each with its execution: starts a lost saga, redrives a
 * timed-out one within the budget, aligns, or hands the order to a person. Each run continues where the
 * last one stopped, so a crowd of sagas still running cannot hide the stuck orders behind them.
 */
export class Sweeper extends Construct {
  readonly function: ServiceFunction;
  readonly schedule: events.Rule;
  /** How often the sweep runs. */
  readonly every: Duration;

  constructor(scope: Construct, id: string, props: SweeperProps) {
    super(scope, id);
    this.every = props.every ?? Duration.minutes(5);
    this.function = new ServiceFunction(this, 'SweeperFunction', {
      entry: lambdaEntry('sweeper/handler.ts'),
      timeout: Duration.minutes(1),
      environment: { SWEEP_BATCH_LIMIT: String(props.batchLimit ?? 100) },
    }).useTable(
      'TABLE_NAME',
      props.ordersTable,
      // UpdateItem and PutItem: status changes with their outbox rows, recorded executions, the sweep cursor.
      ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem'],
      // The stuck orders by status; OldestUnpublishedEventAge reads the first row of each outbox shard.
      [ORDERS_BY_STATUS_INDEX, UNPUBLISHED_INDEX],
    );
    bindReconcile(this.function, props.reconcile, false);

    this.schedule = new events.Rule(this, 'Schedule', {
      ruleName: `${Stack.of(this).stackName}-sweeper`,
      description: 'Reconciles orders stuck in PENDING with their saga executions',
      schedule: events.Schedule.rate(this.every),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 2 })],
    });
  }
}
