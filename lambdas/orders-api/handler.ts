import { randomUUID } from 'node:crypto';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { documentClient } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import { log } from '../shared/logger.js';
import { stepsFromHistory } from './history.js';
import { ApiError, apiHandler, bodyText, header, json, traceIdOf } from './http.js';
import { deriveOrderId, requestHash } from './identity.js';
import { OrdersTable, type StoredOrder } from './orders-table.js';
import { SagaClient } from './saga-client.js';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN, ORDER_ID_PATTERN } from './schemas.js';
import { parseCreateOrder } from './validation.js';

const orders = new OrdersTable(documentClient, requireEnv('TABLE_NAME'));
const saga = new SagaClient(new SFNClient({}), requireEnv('STATE_MACHINE_ARN'));

const selfLink = (orderId: string) => `/orders/${orderId}`;

function accepted(order: Pick<StoredOrder, 'orderId' | 'status'>) {
  const status = order.status === 'PENDING' ? 202 : 200;
  return json(
    status,
    { orderId: order.orderId, status: order.status, links: { self: selfLink(order.orderId) } },
    { location: selfLink(order.orderId) },
  );
}

/** The write is what makes an order exist; if the start fails after it, the sweeper starts the saga. */
async function startSaga(order: Parameters<SagaClient['start']>[0]): Promise<void> {
  try {
    await saga.start(order);
  } catch (error) {
    log('warn', 'saga start deferred to the sweeper', {
      orderId: order.orderId,
      errorMessage: (error as Error).message,
    });
  }
}

async function createOrder(event: APIGatewayProxyEvent) {
  const idempotencyKey = header(event, IDEMPOTENCY_KEY_HEADER);
  if (!idempotencyKey || !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
    throw new ApiError(
      400,
      'InvalidIdempotencyKey',
      `${IDEMPOTENCY_KEY_HEADER} must be 1-64 characters of A-Za-z0-9_-`,
    );
  }
  const request = parseCreateOrder(bodyText(event), header(event, 'content-type'));
  const order = {
    orderId: deriveOrderId(request.customerId, idempotencyKey),
    customerId: request.customerId,
    items: request.items,
    shippingAddress: request.shippingAddress,
    traceId: traceIdOf(event, randomUUID),
    requestHash: requestHash(request),
  };
  const outcome = await orders.create(order, new Date().toISOString());
  if (outcome.created) {
    await startSaga(order);
    return accepted({ orderId: order.orderId, status: 'PENDING' });
  }
  const { existing } = outcome;
  if (existing.requestHash !== order.requestHash) {
    throw new ApiError(
      422,
      'IdempotencyKeyReused',
      `${IDEMPOTENCY_KEY_HEADER} was already used for a different order`,
    );
  }
  // A replay: the first request may have died between its write and its start, so start again (idempotent).
  if (existing.status === 'PENDING') await startSaga(existing);
  return accepted(existing);
}

async function getOrder(event: APIGatewayProxyEvent) {
  const orderId = event.pathParameters?.orderId ?? '';
  const order = ORDER_ID_PATTERN.test(orderId) ? await orders.get(orderId) : undefined;
  if (!order) throw new ApiError(404, 'OrderNotFound', `No order ${orderId}`);
  const { steps, totalCents } = stepsFromHistory(await saga.history(orderId));
  return json(200, {
    orderId: order.orderId,
    status: order.status,
    customerId: order.customerId,
    items: order.items,
    shippingAddress: order.shippingAddress,
    totalCents: totalCents ?? null,
    steps,
    failure: order.failure ?? null,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    links: { self: selfLink(orderId), reconcile: `${selfLink(orderId)}/reconcile` },
  });
}

export const handler = apiHandler({ 'POST /orders': createOrder, 'GET /orders/{orderId}': getOrder });
