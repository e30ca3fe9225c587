import type { Duration } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { ServiceFunction } from '../platform/service-function.js';
import { ServiceTable } from '../platform/service-table.js';
import { sagaStepFunction } from './step-functions.js';

/** Finds orders by status, oldest update first: how the sweeper finds sagas stuck in PENDING. */
export const ORDERS_BY_STATUS_INDEX = 'byStatus';

export interface OrdersServiceProps {
  /** How long barrier rows live. */
  readonly barrierTtl: Duration;
}

/** The order record and its lifecycle: PENDING, then CONFIRMED, CANCELLED or COMPENSATION_FAILED. */
export class OrdersService extends Construct {
  readonly table: ServiceTable;
  readonly confirm: ServiceFunction;
  readonly cancel: ServiceFunction;
  readonly markCompensationFailed: ServiceFunction;

  constructor(scope: Construct, id: string, props: OrdersServiceProps) {
    super(scope, id);
    this.table = new ServiceTable(this, 'Table');
    this.table.addGlobalSecondaryIndex({
      indexName: ORDERS_BY_STATUS_INDEX,
      partitionKey: { name: 'status', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'updatedAt', type: dynamodb.AttributeType.STRING },
      // The sweeper needs identity and age only; projecting keys keeps the index cheap to write.
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    const common = { table: this.table, barrierTtl: props.barrierTtl };
    this.confirm = sagaStepFunction(this, 'ConfirmOrder', { ...common, entry: 'orders/confirm-handler.ts' });
    this.cancel = sagaStepFunction(this, 'CancelOrder', { ...common, entry: 'orders/cancel-handler.ts' });
    this.markCompensationFailed = sagaStepFunction(this, 'MarkCompensationFailed', {
      ...common,
      entry: 'orders/mark-compensation-failed-handler.ts',
    });
  }
}
