import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { type ActionPlan, type BarrierDeps, runAction } from '../shared/barrier.js';
import { OrderStateConflict } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import type { JsonObject } from '../shared/step-input.js';
import { orderKey, type StoredOrder } from './orders.js';
import { isFinal, isPersonWaiting, type TargetStatus } from './status.js';
import { statusChangeMetric } from './status-metrics.js';
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
  let changed = false;
  const { result, duplicate } = await runAction(deps, { sagaId: orderId, step: barrierStep }, async () => {
    const { Item } = await deps.db.send(
      new GetCommand({ TableName: deps.tableName, Key: orderKey(orderId), ConsistentRead: true }),
    );
    if (!Item) throw new OrderStateConflict(`Order ${orderId} does not exist`);
    const order = Item as StoredOrder;
    if (isFinal(order.status)) return alreadySettled(order, change);
    changed = true;
    return planStatusChange(deps.tableName, order, change, new Date().toISOString());
  });
  // Counted once the change is committed: a duplicate or a settled order changed nothing.
  if (changed && !duplicate) statusChangeMetric(change);
  return result;
}

/**
 * A final order is settled whatever a late step thinks: a step that would make it what it already is
 * (the stopped saga's CancelOrder and the operator's unwind both cancelling) succeeds, and an escalation
 * arriving after the end changes nothing. Only the barrier row is written, recording that.
 */
function alreadySettled(order: StoredOrder, change: StatusChange): ActionPlan<{ status: TargetStatus }> {
  if (order.status !== change.to && !isPersonWaiting(change.to)) {
    throw new OrderStateConflict(`Order ${order.orderId} is ${order.status}, cannot become ${change.to}`);
  }
  if (order.status !== change.to)
    logger.warn('escalation after the order was settled', { status: order.status, escalation: change.to });
  return {
    result: { status: order.status as TargetStatus },
    writes: [],
    explainConditionFailure: () => new OrderStateConflict(`Order ${order.orderId} is settled`),
  };
}
