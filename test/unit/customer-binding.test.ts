import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { planStatusChange } from '../../lambdas/orders/transitions.js';
import { handler } from '../../lambdas/orders-api/handler.js';
import { deriveOrderId } from '../../lambdas/orders-api/identity.js';
import { handler as reconcileHandler } from '../../lambdas/orders-api/reconcile-handler.js';
import { parseOrderEvent } from '../../lambdas/shared/outbox.js';
import { TEST_ORDER_ID_KEY } from './order-id-key.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);

const ISSUER = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool';
const SERVICE_ARN = 'arn:aws:iam::111111111111:role/checkout';
const order = {
  customerId: 'c-1',
  items: [{ sku: 'SKU-1', quantity: 2 }],
  shippingAddress: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
};
const ORDER_ID = deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'key-1');

/** What API Gateway passes on after the user pool's authorizer verified a customer's token. */
const customer = (sub: string, requestId = 'req-customer') => ({
  requestId,
  identity: { sourceIp: '10.0.0.1' },
  authorizer: { claims: { iss: ISSUER, sub, token_use: 'id' } },
});
/** What API Gateway passes on for a SigV4-signed service call. */
const service = (requestId = 'req-service') => ({ requestId, identity: { userArn: SERVICE_ARN } });

function event(
  method: string,
  resource: string,
  requestContext: unknown,
  options: { body?: unknown; orderId?: string } = {},
): APIGatewayProxyEvent {
  const path = resource.replace('{orderId}', options.orderId ?? '');
  return {
    resource,
    path,
    httpMethod: method,
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'key-1' },
    body: options.body === undefined ? null : JSON.stringify(options.body),
    isBase64Encoded: false,
    pathParameters: options.orderId ? { orderId: options.orderId } : null,
    queryStringParameters: null,
    requestContext,
  } as unknown as APIGatewayProxyEvent;
}

const stored = {
  pk: `ORDER#${ORDER_ID}`,
  sk: 'ORDER',
  orderId: ORDER_ID,
  status: 'PENDING',
  version: 1,
  ...order,
  traceId: 't',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};
const errorCode = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  ddb.on(GetCommand).resolves({ Item: stored });
  sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x', startDate: new Date() });
});

describe('a customer authenticated by a token', () => {
  it('places an order for the customer the token names, recording the principal and the request id', async () => {
    const response = await handler(event('POST', '/customer/orders', customer('c-1'), { body: order }));

    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body).links.self).toBe(`/customer/orders/${ORDER_ID}`);
    const [put, outbox] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    const placedBy = { principal: `${ISSUER}#c-1`, requestId: 'req-customer' };
    expect(put?.Put?.Item).toMatchObject({ orderId: ORDER_ID, customerId: 'c-1', placedBy });
    expect(outbox?.Put?.Item).toMatchObject({ eventType: 'OrderPlaced', placedBy });
  });

  it('refuses a body naming another customer with 403 and writes nothing', async () => {
    const response = await handler(event('POST', '/customer/orders', customer('c-2'), { body: order }));

    expect(response.statusCode).toBe(403);
    expect(errorCode(response.body)).toBe('CustomerMismatch');
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a token whose customer claim is missing or not an identifier with 403', async () => {
    const context = { requestId: 'r', authorizer: { claims: { iss: ISSUER, sub: 'a@b' } } };
    const response = await handler(event('POST', '/customer/orders', context, { body: order }));

    expect(response.statusCode).toBe(403);
    expect(errorCode(response.body)).toBe('InvalidCustomerClaim');
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it('reads its own order', async () => {
    const response = await handler(
      event('GET', '/customer/orders/{orderId}', customer('c-1'), { orderId: ORDER_ID }),
    );

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).links.self).toBe(`/customer/orders/${ORDER_ID}`);
  });

  it("sees what operators did to its order, but not who did it nor the operator's words", async () => {
    const operatorAction = {
      action: 'cancel',
      actor: 'arn:aws:sts::111111111111:assumed-role/OrderSaga-oncall/alice',
      reason: 'fraud suspected by the risk team',
      startedAt: '2026-01-01T00:01:00.000Z',
      executionArn: 'arn:aws:states:us-east-1:111111111111:execution:OrderSaga-unwind:x',
    };
    ddb.on(GetCommand).resolves({
      Item: {
        ...stored,
        status: 'CANCELLED',
        actions: [{ ...operatorAction, endedAt: '2026-01-01T00:02:00.000Z', outcome: 'CANCELLED' }],
      },
    });
    const asCustomer = await handler(
      event('GET', '/customer/orders/{orderId}', customer('c-1'), { orderId: ORDER_ID }),
    );
    const asService = await handler(event('GET', '/orders/{orderId}', service(), { orderId: ORDER_ID }));

    expect(JSON.parse(asCustomer.body).actions).toEqual([
      {
        action: 'cancel',
        startedAt: '2026-01-01T00:01:00.000Z',
        endedAt: '2026-01-01T00:02:00.000Z',
        outcome: 'CANCELLED',
      },
    ]);
    expect(asCustomer.body).not.toContain('alice');
    expect(asCustomer.body).not.toContain('fraud');
    expect(JSON.parse(asService.body).actions[0]).toMatchObject({ actor: operatorAction.actor });
  });

  it("gets 404 for another customer's order, the answer an unknown order gets", async () => {
    const response = await handler(
      event('GET', '/customer/orders/{orderId}', customer('c-2'), { orderId: ORDER_ID }),
    );

    expect(response.statusCode).toBe(404);
    expect(errorCode(response.body)).toBe('OrderNotFound');
  });

  it("gets 404 reconciling another customer's order, and nothing is written or started", async () => {
    const response = await reconcileHandler(
      event('POST', '/customer/orders/{orderId}/reconcile', customer('c-2'), { orderId: ORDER_ID }),
    );

    expect(response.statusCode).toBe(404);
    expect(errorCode(response.body)).toBe('OrderNotFound');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it("is refused an operator's action with 403 before the order is read", async () => {
    const response = await reconcileHandler(
      event('POST', '/customer/orders/{orderId}/reconcile', customer('c-1'), {
        orderId: ORDER_ID,
        body: { action: 'cancel', reason: 'changed my mind' },
      }),
    );

    expect(response.statusCode).toBe(403);
    expect(errorCode(response.body)).toBe('OperatorActionForbidden');
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });
});

describe('a service authenticated by IAM', () => {
  it('places an order for the customer in the body, recording its IAM ARN and the request id', async () => {
    const response = await handler(event('POST', '/orders', service(), { body: order }));

    expect(response.statusCode).toBe(202);
    const [put, outbox] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    const placedBy = { principal: SERVICE_ARN, requestId: 'req-service' };
    expect(put?.Put?.Item).toMatchObject({ customerId: 'c-1', placedBy });
    expect(outbox?.Put?.Item).toMatchObject({ placedBy });
  });

  it("reads any customer's order", async () => {
    const response = await handler(event('GET', '/orders/{orderId}', service(), { orderId: ORDER_ID }));

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).customerId).toBe('c-1');
  });
});

describe('events after the order was placed', () => {
  const placedBy = { principal: SERVICE_ARN, requestId: 'req-1' };

  it('carry who placed the order and through which request', () => {
    const { writes } = planStatusChange(
      'service-table',
      { orderId: ORDER_ID, status: 'PENDING', version: 1, placedBy },
      { to: 'CONFIRMED' },
      '2026-01-01T00:00:00.000Z',
    );

    const outbox = writes.find((write) => 'Put' in write && write.Put);
    expect(outbox && 'Put' in outbox ? outbox.Put?.Item : undefined).toMatchObject({
      eventType: 'OrderConfirmed',
      placedBy,
    });
  });

  it('keep it when read back from a row or a message', () => {
    const parsed = parseOrderEvent({
      eventId: `${ORDER_ID}#OrderConfirmed#2`,
      eventType: 'OrderConfirmed',
      orderId: ORDER_ID,
      version: 2,
      occurredAt: '2026-01-01T00:00:00.000Z',
      detail: {},
      placedBy,
    });

    expect(parsed?.placedBy).toEqual(placedBy);
  });
});
