import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { lambdaEntry } from '../platform/paths.js';
import { QueueWithDlq } from '../platform/queue-with-dlq.js';
import { ServiceFunction } from '../platform/service-function.js';
import { ServiceTable } from '../platform/service-table.js';

const CONSUMER_TIMEOUT = Duration.seconds(5);

/**
 * Tells customers what happened to their orders. Consumes `order-events` at least once and records each
 * notification exactly once in effect, through an inbox row keyed `orderId#eventType`.
 */
export class NotificationsService extends Construct {
  readonly table: ServiceTable;
  /** The queue order events are published to; this service owns it because it is its inbox. */
  readonly orderEvents: QueueWithDlq;
  readonly consumer: ServiceFunction;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new ServiceTable(this, 'Table');
    this.orderEvents = new QueueWithDlq(this, 'OrderEvents', {
      name: 'order-events',
      consumerTimeout: CONSUMER_TIMEOUT,
    });
    this.consumer = new ServiceFunction(this, 'NotificationsConsumer', {
      entry: lambdaEntry('notifications/handler.ts'),
      timeout: CONSUMER_TIMEOUT,
    }).useTable('TABLE_NAME', this.table, ['dynamodb:PutItem']);
    this.consumer.addEventSource(
      new SqsEventSource(this.orderEvents.queue, { batchSize: 10, reportBatchItemFailures: true }),
    );
  }
}
