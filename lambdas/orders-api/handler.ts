import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { IN_FLIGHT_RETRY_AFTER_SECONDS, TooManyOrdersInFlight } from '../orders/in-flight.js';
import { type NewOrder, recordedExecutionArns, sagaInputOf } from '../orders/orders.js';
import { ConcurrentRequest, OrdersTable, type StoredOrder } from '../orders/orders-table.js';
import { executionArnOf, parseExecutionArn, SagaClient } from '../orders/saga-client.js';
import { documentClient } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import { appendInvocationKeys, logger } from '../shared/logger.js';
import { countMetric } from '../shared/metrics.js';
import { CUSTOMER_PATH_PREFIX, callerOf, mayRead, placedByOf } from './caller.js';
import { stepsFromHistory } from './history.js';
import { ApiError, apiHandler, bodyText, header, json, traceIdOf } from './http.js';
import { deriveOrderId, legacyOrderId, orderIdKeyReader, requestHash } from './identity.js';
import { actionForCustomer, publicFailure, publicSteps } from './public-errors.js';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN, ORDER_ID_PATTERN } from './schemas.js';
import { parseCreateOrder } from './validation.js';

const orders = new OrdersTable(documentClient, requireEnv('TABLE_NAME'));
// This function only starts sagas and reads histories: it names no other machine.
const stateMachineArn = requireEnv('STATE_MACHINE_ARN');
const saga = new SagaClient(new SFNClient({}), { saga: stateMachineArn });
/** The token claim that names the customer, from the stage's configuration. */
const customerClaim = requireEnv('CUSTOMER_CLAIM');
/** Orders a customer may have PENDING at once, from the stage's configuration. */
const maxOrdersInFlight = Number(requireEnv('MAX_ORDERS_IN_FLIGHT'));
/** Until when a POST also looks for an order placed under its pre-HMAC id (LEGACY_ORDER_IDS_UNTIL, ISO 8601). */
const legacyIdsUntil = Date.parse(process.env.LEGACY_ORDER_IDS_UNTIL ?? '') || 0;
const orderIdKey = orderIdKeyReader(new SecretsManagerClient({}), requireEnv('ORDER_ID_KEY_SECRET_ARN'));

/** Links stay in the route family the caller used: a customer's token is not accepted on /orders. */
function linksFor(event: APIGatewayProxyEvent) {
  const base = event.resource.startsWith(CUSTOMER_PATH_PREFIX) ? `${CUSTOMER_PATH_PREFIX}/orders` : '/orders';
  return (orderId: string) => `${base}/${orderId}`;
}

function accepted(order: Pick<StoredOrder, 'orderId' | 'status'>, selfLink: (orderId: string) => string) {
  const status = order.status === 'PENDING' ? 202 : 200;
  return json(
    status,
    { orderId: order.orderId, status: order.status, links: { self: selfLink(order.orderId) } },
    { location: selfLink(order.orderId) },
  );
}

/**
 * The write is what makes an order exist; once the start succeeds the execution is recorded on the order,
 * and every later decision uses that record. If the start or the record fails, the sweeper finishes it.
 */
async function startSaga(order: NewOrder): Promise<void> {
  try {
    const { arn } = await saga.start('saga', order.orderId, sagaInputOf(order));
    await orders.recordExecution(order.orderId, arn);
  } catch (error) {
    logger.warn('saga start deferred to the sweeper', { errorMessage: (error as Error).message });
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
  const caller = callerOf(event, customerClaim);
  const request = parseCreateOrder(bodyText(event), header(event, 'content-type'));
  if (caller.kind === 'customer' && request.customerId !== caller.customerId) {
    throw new ApiError(403, 'CustomerMismatch', 'customerId must be the customer the token names');
  }
  const order = {
    orderId: deriveOrderId(await orderIdKey(), request.customerId, idempotencyKey),
    customerId: request.customerId,
    items: request.items,
    shippingAddress: request.shippingAddress,
    traceId: traceIdOf(event, randomUUID),
    requestHash: requestHash(request),
    placedBy: placedByOf(caller),
  };
  appendInvocationKeys({ orderId: order.orderId, traceId: order.traceId });
  const legacy =
    Date.now() < legacyIdsUntil
      ? await orders.get(legacyOrderId(request.customerId, idempotencyKey))
      : undefined;
  if (legacy) return answerReplay(legacy, order, event);
  let outcome: Awaited<ReturnType<OrdersTable['create']>>;
  try {
    outcome = await orders.create(order, new Date().toISOString(), maxOrdersInFlight);
  } catch (error) {
    if (error instanceof TooManyOrdersInFlight) {
      countMetric('OrdersInFlightCapped');
      throw new ApiError(
        429,
        'TooManyOrdersInFlight',
        `A customer may have at most ${error.limit} orders in flight; retry once one has ended`,
        undefined,
        IN_FLIGHT_RETRY_AFTER_SECONDS,
      );
    }
    if (!(error instanceof ConcurrentRequest)) throw error;
    throw new ApiError(
      409,
      'ConcurrentRequest',
      'Another request with this key is in progress; retry',
      undefined,
      1,
    );
  }
  if (outcome.created) {
    await startSaga(order);
    return accepted({ orderId: order.orderId, status: 'PENDING' }, linksFor(event));
  }
  return answerReplay(outcome.existing, order, event);
}

/** The same key again: the order it placed, if the body is the same; a start that was lost is made now. */
async function answerReplay(
  existing: StoredOrder,
  order: { requestHash: string },
  event: APIGatewayProxyEvent,
) {
  if (existing.requestHash !== order.requestHash) {
    countMetric('IdempotencyConflict');
    throw new ApiError(
      422,
      'IdempotencyKeyReused',
      `${IDEMPOTENCY_KEY_HEADER} was already used for a different order`,
    );
  }
  countMetric('IdempotentReplay');
  // A replay: the first request may have died between its write and its start. Only a start that was never
  // recorded is tried again; a recorded execution is never started a second time.
  if (existing.status === 'PENDING' && recordedExecutionArns(existing).length === 0)
    await startSaga(existing);
  return accepted(existing, linksFor(event));
}

/** Steps of every recorded execution, the saga's first, then each operator action's in the order they ran. */
async function stepsOf(order: StoredOrder) {
  const recorded = recordedExecutionArns(order);
  // Before its start is recorded the saga may still exist under the order's name: show it if it does.
  const arns = recorded.length > 0 ? recorded : [executionArnOf(stateMachineArn, order.orderId)];
  const executions = arns.map(parseExecutionArn).sort((a, b) => a.attempt - b.attempt);
  const histories = await Promise.all(executions.map((execution) => saga.history(execution.arn)));
  return histories.map((events) => stepsFromHistory(events));
}

/**
 * The order as its record keeps it. Step Functions is read only for `?include=steps` (operators, the console):
 * the history API is a control-plane call with a small quota, not something every poll of an order may spend.
 */
async function getOrder(event: APIGatewayProxyEvent) {
  const orderId = event.pathParameters?.orderId ?? '';
  const include = event.queryStringParameters?.include;
  if (include !== undefined && include !== 'steps') {
    throw new ApiError(400, 'InvalidInclude', 'include may only be "steps"');
  }
  const caller = callerOf(event, customerClaim);
  const order = ORDER_ID_PATTERN.test(orderId) ? await orders.get(orderId) : undefined;
  if (!order || !mayRead(caller, order)) throw new ApiError(404, 'OrderNotFound', `No order ${orderId}`);
  const histories = include === 'steps' ? await stepsOf(order) : undefined;
  const selfLink = linksFor(event);
  return json(200, {
    orderId: order.orderId,
    status: order.status,
    customerId: order.customerId,
    items: order.items,
    shippingAddress: order.shippingAddress,
    totalCents: order.totalCents ?? null,
    // The steps' own error texts are for operators' logs: they may name balances, stock or roles.
    ...(histories
      ? {
          steps: publicSteps(
            histories.flatMap((history) => history.steps),
            caller.requestId,
          ),
        }
      : {}),
    failure: publicFailure(order.failure, caller.requestId),
    ...(caller.kind === 'customer'
      ? {
          pendingAction: order.pendingAction ? actionForCustomer(order.pendingAction) : null,
          actions: (order.actions ?? []).map(actionForCustomer),
        }
      : { pendingAction: order.pendingAction ?? null, actions: order.actions ?? [] }),
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    links: { self: selfLink(orderId), reconcile: `${selfLink(orderId)}/reconcile` },
  });
}

export const handler = apiHandler({
  'POST /orders': createOrder,
  'GET /orders/{orderId}': getOrder,
  [`POST ${CUSTOMER_PATH_PREFIX}/orders`]: createOrder,
  [`GET ${CUSTOMER_PATH_PREFIX}/orders/{orderId}`]: getOrder,
});
