import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { PlacedBy } from '../shared/outbox.js';
import { ApiError } from './http.js';

/** Where the customer-facing routes live: the same orders API, under a path authorized by the user pool. */
export const CUSTOMER_PATH_PREFIX = '/customer';

/** Customer ids become key material and execution names: a claim of another shape is not one. */
const CUSTOMER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Who is calling, as API Gateway authenticated them. A customer came through the user pool's authorizer and
 * is bound to the customer its token names; a service came through IAM and acts for any customer.
 */
export type Caller = ({ kind: 'customer'; customerId: string } & PlacedBy) | ({ kind: 'service' } & PlacedBy);

/**
 * The caller of a proxy event. API Gateway puts a verified token's claims under `authorizer.claims` only for a
 * method with a Cognito authorizer, and the IAM identity under `identity`; a client cannot set either.
 */
export function callerOf(event: APIGatewayProxyEvent, customerClaim: string): Caller {
  const context = event.requestContext;
  const requestId = context?.requestId ?? 'unknown';
  const claims: unknown = context?.authorizer?.claims;
  if (typeof claims === 'object' && claims !== null) {
    const values = claims as Record<string, unknown>;
    const customerId = values[customerClaim];
    if (typeof customerId !== 'string' || !CUSTOMER_ID.test(customerId)) {
      throw new ApiError(
        403,
        'InvalidCustomerClaim',
        `The token's ${customerClaim} claim must name the customer (1-64 characters of A-Za-z0-9_-)`,
      );
    }
    // iss and sub together name one user of one pool, whichever claim the stage takes the customer from.
    const issuer = typeof values.iss === 'string' ? values.iss : 'unknown-issuer';
    const subject = typeof values.sub === 'string' ? values.sub : customerId;
    return { kind: 'customer', customerId, principal: `${issuer}#${subject}`, requestId };
  }
  const identity = context?.identity;
  return {
    kind: 'service',
    principal: identity?.userArn ?? identity?.caller ?? 'unauthenticated',
    requestId,
  };
}

/**
 * Whether the caller may see the order. Another customer's order answers exactly as an unknown one, so an
 * order id tells a customer nothing about orders that are not theirs.
 */
export function mayRead(caller: Caller, order: { customerId: string }): boolean {
  return caller.kind === 'service' || caller.customerId === order.customerId;
}

/** The record kept on the order and carried by its events. */
export function placedByOf(caller: Caller): PlacedBy {
  return { principal: caller.principal, requestId: caller.requestId };
}
