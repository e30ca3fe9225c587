import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { documentClient } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import { ApiError, apiHandler, json } from './http.js';
import { OrdersTable } from './orders-table.js';
import { planReconcile } from './reconcile.js';
import { SagaClient } from './saga-client.js';
import { ORDER_ID_PATTERN } from './schemas.js';

const orders = new OrdersTable(documentClient, requireEnv('TABLE_NAME'));
const saga = new SagaClient(new SFNClient({}), requireEnv('STATE_MACHINE_ARN'));

async function reconcile(event: APIGatewayProxyEvent) {
  const orderId = event.pathParameters?.orderId ?? '';
  const order = ORDER_ID_PATTERN.test(orderId) ? await orders.get(orderId) : undefined;
  if (!order) throw new ApiError(404, 'OrderNotFound', `No order ${orderId}`);
  const execution = await saga.describe(orderId);
  const plan = planReconcile(order.status, execution);

  let action: string = plan.repair.action;
  switch (plan.repair.action) {
    case 'start-execution':
      action = (await saga.start(order)) === 'started' ? 'started-execution' : 'none';
      break;
    case 'redrive-execution':
      await saga.redrive(orderId);
      action = 'redrove-execution';
      break;
    case 'set-status':
      if (!(await orders.setStatus(orderId, order.status, plan.repair.to, new Date().toISOString()))) {
        throw new ApiError(409, 'ReconcileConflict', 'The order changed while reconciling; retry');
      }
      action = `set-status-${plan.repair.to}`;
      break;
    default:
      break;
  }
  return json(200, {
    orderId,
    found: {
      orderStatus: order.status,
      executionStatus: execution.status,
      ...('error' in execution && execution.error ? { executionError: execution.error } : {}),
    },
    consistent: plan.consistent,
    finding: plan.finding,
    action,
  });
}

export const handler = apiHandler({ 'POST /orders/{orderId}/reconcile': reconcile });
