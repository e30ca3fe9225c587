import type { APIGatewayProxyEvent } from 'aws-lambda';
import { reconcileOrder } from '../orders/reconcile.js';
import { reconcileDepsFromEnv } from '../orders/reconcile-env.js';
import type { ReconcileRequest } from '../orders/reconcile-plan.js';
import { requireEnv } from '../shared/env.js';
import { CUSTOMER_PATH_PREFIX, callerOf, mayRead } from './caller.js';
import { ApiError, apiHandler, bodyText, header, json } from './http.js';
import { actionForCustomer, outcomeForCustomer } from './public-errors.js';
import { ORDER_ID_PATTERN } from './schemas.js';
import { parseReconcileRequest } from './validation.js';

const deps = reconcileDepsFromEnv();
const customerClaim = requireEnv('CUSTOMER_CLAIM');

/** Who asked: the IAM identity API Gateway authorized. Recorded on the order and in its events. */
function actorOf(event: APIGatewayProxyEvent): string {
  const identity = event.requestContext?.identity;
  return (
    identity?.userArn ?? identity?.caller ?? `unauthenticated caller at ${identity?.sourceIp ?? 'unknown'}`
  );
}

const STATUS_OF_RESULT = { nothing: 200, changed: 200, started: 202, refused: 409, conflict: 409 } as const;

async function reconcile(event: APIGatewayProxyEvent) {
  const orderId = event.pathParameters?.orderId ?? '';
  const caller = callerOf(event, customerClaim);
  const body = parseReconcileRequest(bodyText(event), header(event, 'content-type'));
  // Decided before the order is read: the refusal is the same whether the order exists or not.
  if (body && caller.kind === 'customer') {
    throw new ApiError(
      403,
      'OperatorActionForbidden',
      'Only operators may redrive, cancel or complete an order',
    );
  }
  const order = ORDER_ID_PATTERN.test(orderId) ? await deps.orders.get(orderId) : undefined;
  if (!order || !mayRead(caller, order)) throw new ApiError(404, 'OrderNotFound', `No order ${orderId}`);
  const request: ReconcileRequest = body
    ? { kind: 'operator', action: body.action, reason: body.reason, actor: actorOf(event) }
    : { kind: 'align' };
  const outcome = await reconcileOrder(order, request, deps);
  if (outcome.result === 'refused') throw new ApiError(409, outcome.code ?? 'ActionRefused', outcome.finding);
  if (outcome.result === 'conflict')
    throw new ApiError(
      409,
      'ReconcileConflict',
      'The order or its execution changed while reconciling; retry',
    );
  const after = await deps.orders.get(orderId);
  const status = after?.status ?? order.status;
  if (caller.kind === 'customer')
    return json(STATUS_OF_RESULT[outcome.result], {
      ...outcomeForCustomer(outcome, caller.requestId),
      status,
      ...(after?.pendingAction ? { pendingAction: actionForCustomer(after.pendingAction) } : {}),
    });
  return json(STATUS_OF_RESULT[outcome.result], {
    ...outcome,
    status,
    ...(after?.pendingAction ? { pendingAction: after.pendingAction } : {}),
  });
}

export const handler = apiHandler({
  'POST /orders/{orderId}/reconcile': reconcile,
  [`POST ${CUSTOMER_PATH_PREFIX}/orders/{orderId}/reconcile`]: reconcile,
});
