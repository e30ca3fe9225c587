import { type Duration, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ORDERS_BY_STATUS_INDEX } from '../../lambdas/orders/orders.js';
import { OUTBOX_KIND, UNPUBLISHED_INDEX, UNPUBLISHED_SHARD_ATTRIBUTE } from '../../lambdas/shared/outbox.js';
import { breakGlassOf } from '../platform/break-glass.js';
import { DataKey } from '../platform/data-key.js';
import { lambdaEntry } from '../platform/paths.js';
import { DeadLetterQueue } from '../platform/queue-with-dlq.js';
import { ServiceFunction } from '../platform/service-function.js';
import { ServiceTable } from '../platform/service-table.js';
import { sagaStepFunction } from './saga-step-function.js';

export interface OrdersServiceProps {
  /** How long barrier rows live. */
  readonly barrierTtl: Duration;
  /** Where the outbox relay publishes order events. */
  readonly orderEventsQueue: sqs.IQueue;
}

/**
 * The order record and its lifecycle: PENDING, then CONFIRMED or CANCELLED, or a person's hands
 * (NEEDS_ATTENTION, COMPENSATION_FAILED). Every change writes its event to an outbox row in the same
 * transaction; the table's stream feeds the relay, and rows still unpublished are found by a sparse index.
 */
export class OrdersService extends Construct {
  readonly table: ServiceTable;
  /** The key of the orders table (and its stream). */
  readonly key: DataKey;
  readonly confirm: ServiceFunction;
  readonly cancel: ServiceFunction;
  readonly markCompensationFailed: ServiceFunction;
  readonly markNeedsAttention: ServiceFunction;
  readonly relay: ServiceFunction;
  readonly relayFailures: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: OrdersServiceProps) {
    super(scope, id);
    // Orders carry the customer, the items and the shipping address, and so do their stream and outbox rows.
    this.key = new DataKey(this, 'Key', {
      description: 'order-saga orders: customers, items, shipping addresses',
      services: ['dynamodb'],
      breakGlassRoleArn: breakGlassOf(this)?.roleArn,
    });
    this.table = new ServiceTable(this, 'Table', {
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      encryptionKey: this.key,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: ORDERS_BY_STATUS_INDEX,
      partitionKey: { name: 'status', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'updatedAt', type: dynamodb.AttributeType.STRING },
      // The sweeper needs identity and age only; projecting keys keeps the index cheap to write.
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    // Only outbox rows not yet published carry the shard attribute, so the index holds just those.
    this.table.addGlobalSecondaryIndex({
      indexName: UNPUBLISHED_INDEX,
      partitionKey: { name: UNPUBLISHED_SHARD_ATTRIBUTE, type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'occurredAt', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    const common = { table: this.table, barrierTtl: props.barrierTtl };
    // Each reads the order (GetItem), moves its status (UpdateItem) and announces it in the outbox (PutItem).
    const transition = {
      ...common,
      barrierOp: 'action',
      businessActions: ['dynamodb:UpdateItem', 'dynamodb:PutItem'],
    } as const;
    this.confirm = sagaStepFunction(this, 'ConfirmOrder', {
      ...transition,
      entry: 'orders/confirm-handler.ts',
    });
    this.cancel = sagaStepFunction(this, 'CancelOrder', { ...transition, entry: 'orders/cancel-handler.ts' });
    this.markCompensationFailed = sagaStepFunction(this, 'MarkCompensationFailed', {
      ...transition,
      entry: 'orders/mark-compensation-failed-handler.ts',
    });
    this.markNeedsAttention = sagaStepFunction(this, 'MarkNeedsAttention', {
      ...transition,
      entry: 'orders/mark-needs-attention-handler.ts',
    });

    this.relayFailures = new DeadLetterQueue(this, 'RelayFailures', { name: 'outbox-relay' });
    Validations.of(this.relayFailures.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself a dead-letter destination: the outbox relay's on-failure destination for poison stream records.",
    });
    this.relay = new ServiceFunction(this, 'OutboxRelay', {
      entry: lambdaEntry('outbox-relay/handler.ts'),
      environment: { ORDER_EVENTS_QUEUE_URL: props.orderEventsQueue.queueUrl },
    }).useTable('TABLE_NAME', this.table, ['dynamodb:UpdateItem']);
    this.relay.sendsTo(props.orderEventsQueue);
    // Lambda sends a poison batch's description as the relay itself.
    this.relayFailures.trustOnly([this.relay.executionRole]);
    this.relay.addEventSource(
      new DynamoEventSource(this.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        bisectBatchOnError: true,
        retryAttempts: 5,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.relayFailures.queue),
        // Only new outbox rows: order updates, barrier rows and TTL deletions never wake the relay.
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: { kind: { S: lambda.FilterRule.isEqual(OUTBOX_KIND) } } },
          }),
        ],
      }),
    );
    Validations.of(this.relay.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'dynamodb:ListStreams, which the stream event source needs, has no resource-level permission; every other action of the relay names its table, stream or queue.',
    });
  }
}
