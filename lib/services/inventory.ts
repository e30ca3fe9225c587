import type { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { ServiceFunction } from '../platform/service-function.js';
import { ServiceTable } from '../platform/service-table.js';
import { sagaStepFunction } from './saga-step-function.js';

export interface InventoryServiceProps {
  /** How long barrier rows live. */
  readonly barrierTtl: Duration;
}

/** Stock per SKU with prices; reserves and releases stock for sagas, never below zero. */
export class InventoryService extends Construct {
  readonly table: ServiceTable;
  readonly reserve: ServiceFunction;
  readonly release: ServiceFunction;

  constructor(scope: Construct, id: string, props: InventoryServiceProps) {
    super(scope, id);
    this.table = new ServiceTable(this, 'Table');
    const common = { table: this.table, barrierTtl: props.barrierTtl };
    this.reserve = sagaStepFunction(this, 'ReserveInventory', {
      ...common,
      entry: 'inventory/reserve-handler.ts',
      barrierOp: 'action',
      // Prices and stock are read in one batch; the reservation is a conditional decrement.
      businessActions: ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
    });
    this.release = sagaStepFunction(this, 'ReleaseInventory', {
      ...common,
      entry: 'inventory/release-handler.ts',
      barrierOp: 'compensation',
      businessActions: ['dynamodb:UpdateItem'],
    });
  }
}
