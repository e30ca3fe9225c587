import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { UNPUBLISHED_INDEX } from '../../lambdas/shared/outbox.js';
import { lambdaEntry } from '../platform/paths.js';
import { ServiceFunction } from '../platform/service-function.js';
import type { ServiceTable } from '../platform/service-table.js';

export interface OutboxRepublisherProps {
  /** The orders table: its outbox rows, and the unpublished index over them (`byUnpublished`). */
  readonly ordersTable: ServiceTable;
  /** The order-events queue the relay publishes to. */
  readonly orderEventsQueue: sqs.IQueue;
  /**
   * How often the republisher runs.
   * @default Duration.minutes(1)
   */
  readonly every?: Duration;
  /**
   * How long after its event occurred an outbox row still unpublished is republished: well past the
   * relay's normal latency (seconds), so the two rarely publish one event twice, and short enough that a
   * lost event arrives minutes late, not hours. Whole seconds.
   * @default Duration.minutes(3)
   */
  readonly republishAfter?: Duration;
  /**
   * Rows republished per run at most, across all shards, so one run stays well inside the function timeout.
   * @default 500
   */
  readonly batchLimit?: number;
}

/**
 * Publishes the outbox rows the relay could not (its retries ran out, the stream's 24 hours passed, it
 * crashed between send and mark), through the relay's own publish routine, on a schedule.
 */
export class OutboxRepublisher extends Construct {
  readonly function: ServiceFunction;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: OutboxRepublisherProps) {
    super(scope, id);
    const republishAfterSeconds = (props.republishAfter ?? Duration.minutes(3)).toSeconds();
    const batchLimit = props.batchLimit ?? 500;
    if (republishAfterSeconds <= 0) throw new Error('OutboxRepublisher: republishAfter must be positive');
    if (!Number.isSafeInteger(batchLimit) || batchLimit <= 0) {
      throw new Error(`OutboxRepublisher: batchLimit must be a positive integer, got ${batchLimit}`);
    }

    this.function = new ServiceFunction(this, 'OutboxRepublisherFunction', {
      entry: lambdaEntry('outbox-relay/republisher-handler.ts'),
      timeout: Duration.minutes(1),
      environment: {
        ORDER_EVENTS_QUEUE_URL: props.orderEventsQueue.queueUrl,
        REPUBLISH_AFTER_SECONDS: String(republishAfterSeconds),
        REPUBLISH_BATCH_LIMIT: String(batchLimit),
      },
    }).useTable(
      'TABLE_NAME',
      props.ordersTable,
      // Unpublished events are found on their index and marked published on the table.
      ['dynamodb:UpdateItem'],
      [UNPUBLISHED_INDEX],
    );
    this.function.sendsTo(props.orderEventsQueue);

    this.schedule = new events.Rule(this, 'Schedule', {
      ruleName: `${Stack.of(this).stackName}-outbox-republisher`,
      description: 'Publishes outbox events the relay could not publish',
      schedule: events.Schedule.rate(props.every ?? Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 2 })],
    });
  }
}
