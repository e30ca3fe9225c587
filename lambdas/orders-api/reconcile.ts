import type { OrderStatus } from '../orders/orders.js';
import type { OrdersTable, StoredOrder } from './orders-table.js';
import type { ExecutionView, SagaClient } from './saga-client.js';

export type Repair =
  | { action: 'start-execution' }
  | { action: 'redrive-execution' }
  | { action: 'set-status'; to: Exclude<OrderStatus, 'PENDING'> }
  | { action: 'none' };

export interface ReconcilePlan {
  consistent: boolean;
  finding: string;
  repair: Repair;
}

/** What the order record should say once its execution ended this way; undefined while the saga can still move. */
function expectedStatus(execution: ExecutionView): Exclude<OrderStatus, 'PENDING'> | undefined {
  if (execution.status === 'SUCCEEDED') return 'CONFIRMED';
  if (execution.status === 'FAILED' && execution.error === 'OrderCancelled') return 'CANCELLED';
  if (execution.status === 'FAILED' && execution.error === 'CompensationFailed') return 'COMPENSATION_FAILED';
  return undefined;
}

/**
 * Compares an order with its execution and decides the one repair that brings them together. Pure, so
 * every case is tested without AWS; running it twice on the repaired state finds nothing left to do.
 */
export function planReconcile(orderStatus: OrderStatus, execution: ExecutionView): ReconcilePlan {
  if (execution.status === 'NONE') {
    return orderStatus === 'PENDING'
      ? {
          consistent: false,
          finding: 'the order has no execution: its start was lost',
          repair: { action: 'start-execution' },
        }
      : {
          consistent: false,
          finding: `a ${orderStatus} order has no execution; a person must look`,
          repair: { action: 'none' },
        };
  }
  if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') {
    return { consistent: true, finding: 'the saga is still running', repair: { action: 'none' } };
  }
  const expected = expectedStatus(execution);
  if (expected) {
    if (expected === orderStatus)
      return {
        consistent: true,
        finding: `order and execution agree: ${orderStatus}`,
        repair: { action: 'none' },
      };
    if (orderStatus === 'PENDING' || expected === 'COMPENSATION_FAILED') {
      return {
        consistent: false,
        finding: `the execution ended ${execution.status}${execution.error ? ` (${execution.error})` : ''} but the order is ${orderStatus}`,
        repair: { action: 'set-status', to: expected },
      };
    }
    return {
      consistent: false,
      finding: `the execution says ${expected} but the order is ${orderStatus}; a person must look`,
      repair: { action: 'none' },
    };
  }
  // Failed before reaching an end state (execution timeout, a stop, an unhandled error): resume where it stopped.
  if (orderStatus === 'PENDING') {
    return {
      consistent: false,
      finding: `the execution ended ${execution.status}${execution.error ? ` (${execution.error})` : ''} before the saga finished`,
      repair: { action: 'redrive-execution' },
    };
  }
  return {
    consistent: true,
    finding: `the order is ${orderStatus}; its execution ended ${execution.status}`,
    repair: { action: 'none' },
  };
}

/** The order changed between reading it and repairing it; reconciling again later sees the new state. */
export class ReconcileConflict extends Error {
  override name = 'ReconcileConflict';
}

export interface ReconcileOutcome {
  orderId: string;
  found: { orderStatus: OrderStatus; executionStatus: ExecutionView['status']; executionError?: string };
  consistent: boolean;
  finding: string;
  action: string;
}

/** The stores reconcile reads and repairs; the API route and the sweeper pass the same ones. */
export interface ReconcileDeps {
  orders: Pick<OrdersTable, 'setStatus'>;
  saga: Pick<SagaClient, 'describe' | 'start' | 'redrive'>;
  now: () => Date;
}

/** Compares one order with its execution and applies the repair planReconcile chooses. */
export async function reconcileOrder(order: StoredOrder, deps: ReconcileDeps): Promise<ReconcileOutcome> {
  const execution = await deps.saga.describe(order.orderId);
  const plan = planReconcile(order.status, execution);

  let action: string = plan.repair.action;
  switch (plan.repair.action) {
    case 'start-execution':
      action = (await deps.saga.start(order)) === 'started' ? 'started-execution' : 'none';
      break;
    case 'redrive-execution':
      await deps.saga.redrive(order.orderId);
      action = 'redrove-execution';
      break;
    case 'set-status':
      if (
        !(await deps.orders.setStatus(order.orderId, order.status, plan.repair.to, deps.now().toISOString()))
      ) {
        throw new ReconcileConflict(`Order ${order.orderId} changed while reconciling; retry`);
      }
      action = `set-status-${plan.repair.to}`;
      break;
    default:
      break;
  }
  return {
    orderId: order.orderId,
    found: {
      orderStatus: order.status,
      executionStatus: execution.status,
      ...('error' in execution && execution.error ? { executionError: execution.error } : {}),
    },
    consistent: plan.consistent,
    finding: plan.finding,
    action,
  };
}
