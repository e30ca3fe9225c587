import type { APIGatewayProxyEvent } from 'aws-lambda';

/** An order as a client sends it to POST /orders. */
export const ORDER_BODY = {
  customerId: 'c-1',
  items: [{ sku: 'SKU-1', quantity: 2 }],
  shippingAddress: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
};

/**
 * A POST /orders event as API Gateway passes it, with Idempotency-Key key-1; a header given as undefined is left
 * out, and a string body is sent as it is.
 */
export function postEvent(
  body: unknown,
  headers: Record<string, string | undefined> = {},
): APIGatewayProxyEvent {
  const merged = { 'Content-Type': 'application/json', 'Idempotency-Key': 'key-1', ...headers };
  return {
    resource: '/orders',
    path: '/orders',
    httpMethod: 'POST',
    headers: Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined)),
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    pathParameters: null,
  } as unknown as APIGatewayProxyEvent;
}
