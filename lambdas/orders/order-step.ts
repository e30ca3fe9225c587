import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { type BarrierDeps, runAction } from '../shared/barrier.js';
import { OrderStateConflict } from '../shared/errors.js';
import type { JsonObject } from '../shared/step-input.js';
import { orderKey, type StoredOrder } from './orders.js';
import type { TargetStatus } from './status.js';
import { planStatusChange, type StatusChange } from './transitions.js';

/**
 * The barrier step of a status change made by one execution. An order may reach a person-waiting status
 * more than once (each operator action runs its own execution), so the row is per execution: a retried
 * or redriven call is a duplicate, a later execution's call is not. Executions started before payloads
 * carried their name keep the order-wide row.
 */
export function barrierStepOf(step: string, payload: JsonObject): string {
  const executionName = payload.executionName;
  return typeof executionName === 'string' && executionName !== '' ? `${step}@${executionName}` : step;
}

/** Moves the order once per execution: reads it, plans the change against what it read, commits through the barrier. */
export async function moveOrder(
  deps: BarrierDeps,
  orderId: string,
  barrierStep: string,
  change: StatusChange,
): Promise<{ status: TargetStatus }> {
  const { result } = await runAction(deps, { sagaId: orderId, step: barrierStep }, async () => {
    const { Item } = await deps.db.send(
      new GetCommand({ TableName: deps.tableName, Key: orderKey(orderId), ConsistentRead: true }),
    );
    if (!Item) throw new OrderStateConflict(`Order ${orderId} does not exist`);
    return planStatusChange(deps.tableName, Item as StoredOrder, change, new Date().toISOString());
  });
  return result;
}
