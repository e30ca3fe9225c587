import type { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { lambdaEntry } from '../platform/paths.js';
import {
  ACTION_BARRIER_ACTIONS,
  COMPENSATION_BARRIER_ACTIONS,
  ServiceFunction,
  type TableAction,
} from '../platform/service-function.js';

export interface SagaStepFunctionOptions {
  /** Handler file under lambdas/. */
  readonly entry: string;
  /** The service's own table: the only one the step may touch. */
  readonly table: dynamodb.ITable;
  /** Barrier rows' lifetime. */
  readonly barrierTtl: Duration;
  /**
   * Which side of the barrier the function writes: a forward action puts its row; a compensation also
   * checks the action's row inside its transaction, so it needs one DynamoDB action more.
   */
  readonly barrierOp: 'action' | 'compensation';
  /** The step's business writes and reads, beyond the barrier's. */
  readonly businessActions: readonly TableAction[];
  readonly environment?: Record<string, string>;
  /**
   * The function's timeout.
   * @default the ServiceFunction default
   */
  readonly timeout?: Duration;
}

/** A saga step's function: its service table bound under TABLE_NAME and the barrier TTL in its environment. */
export function sagaStepFunction(
  scope: Construct,
  id: string,
  options: SagaStepFunctionOptions,
): ServiceFunction {
  return new ServiceFunction(scope, id, {
    entry: lambdaEntry(options.entry),
    ...(options.timeout ? { timeout: options.timeout } : {}),
    environment: {
      BARRIER_TTL_SECONDS: String(options.barrierTtl.toSeconds()),
      ...options.environment,
    },
  }).useTable('TABLE_NAME', options.table, [
    ...new Set([
      ...(options.barrierOp === 'action' ? ACTION_BARRIER_ACTIONS : COMPENSATION_BARRIER_ACTIONS),
      ...options.businessActions,
    ]),
  ]);
}
