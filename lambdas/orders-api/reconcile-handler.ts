import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { documentClient } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import { ApiError, apiHandler, json } from './http.js';
import { OrdersTable } from './orders-table.js';
import { ReconcileConflict, reconcileOrder } from './reconcile.js';
import { SagaClient } from './saga-client.js';
import { ORDER_ID_PATTERN } from './schemas.js';

const orders = new OrdersTable(documentClient, requireEnv('TABLE_NAME'));
const saga = new SagaClient(new SFNClient({}), requireEnv('STATE_MACHINE_ARN'));

async function reconcile(event: APIGatewayProxyEvent) {
  const orderId = event.pathParameters?.orderId ?? '';
  const order = ORDER_ID_PATTERN.test(orderId) ? await orders.get(orderId) : undefined;
  if (!order) throw new ApiError(404, 'OrderNotFound', `No order ${orderId}`);
  try {
    return json(200, await reconcileOrder(order, { orders, saga, now: () => new Date() }));
  } catch (error) {
    if (error instanceof ReconcileConflict)
      throw new ApiError(409, 'ReconcileConflict', 'The order changed while reconciling; retry');
    throw error;
  }
}

export const handler = apiHandler({ 'POST /orders/{orderId}/reconcile': reconcile });
