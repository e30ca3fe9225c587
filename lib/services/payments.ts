import type { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { breakGlassOf } from '../platform/break-glass.js';
import { DataKey } from '../platform/data-key.js';
import type { ServiceFunction } from '../platform/service-function.js';
import { ServiceTable } from '../platform/service-table.js';
import { sagaStepFunction } from './saga-step-function.js';

export interface PaymentsServiceProps {
  /** How long barrier rows live. */
  readonly barrierTtl: Duration;
}

/** Customer accounts in integer cents; charges and refunds each order at most once. */
export class PaymentsService extends Construct {
  readonly table: ServiceTable;
  readonly charge: ServiceFunction;
  readonly refund: ServiceFunction;

  constructor(scope: Construct, id: string, props: PaymentsServiceProps) {
    super(scope, id);
    const key = new DataKey(this, 'Key', {
      description: 'order-saga payments: customer accounts and charges',
      services: ['dynamodb'],
      breakGlassRoleArn: breakGlassOf(this)?.roleArn,
    });
    this.table = new ServiceTable(this, 'Table', { encryptionKey: key });
    const common = { table: this.table, barrierTtl: props.barrierTtl };
    // A charge debits the account and records the charge row; a refund credits and marks it.
    this.charge = sagaStepFunction(this, 'ChargePayment', {
      ...common,
      entry: 'payments/charge-handler.ts',
      barrierOp: 'action',
      businessActions: ['dynamodb:UpdateItem', 'dynamodb:PutItem'],
    });
    this.refund = sagaStepFunction(this, 'RefundPayment', {
      ...common,
      entry: 'payments/refund-handler.ts',
      barrierOp: 'compensation',
      businessActions: ['dynamodb:UpdateItem'],
    });
  }
}
