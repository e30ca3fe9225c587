import type { TransactWrite } from '../shared/dynamodb.js';

/**
 * A customer's orders in flight (PENDING), counted on one row of the orders table so the cap holds under
 * concurrency: the row is incremented in the transaction that creates the order (on the condition that the count
 * is below the cap) and decremented in the transaction that moves the order out of PENDING. An order carries
 * `countedInFlight` exactly while it is counted, so the decrement happens once per counted order, and orders
 * written around the API (before the counter existed, or by tests) never take away a count they never added.
 */
export const COUNTED_IN_FLIGHT = 'countedInFlight';

/** The customer's counter; its sort key keeps it out of every `sk = ORDER` reader. */
export function inFlightKey(customerId: string): { pk: string; sk: string } {
  return { pk: `CUSTOMER#${customerId}`, sk: 'IN_FLIGHT' };
}

/** How long a refused customer waits before trying again: a saga that runs normally ends within seconds. */
export const IN_FLIGHT_RETRY_AFTER_SECONDS = 10;

/** The customer already has `limit` orders PENDING; nothing was written. */
export class TooManyOrdersInFlight extends Error {
  override name = 'TooManyOrdersInFlight';
  constructor(readonly limit: number) {
    super(`The customer already has ${limit} orders in flight`);
  }
}

/** Counts one more order in flight, if fewer than `limit` are. */
export function countInFlight(
  tableName: string,
  customerId: string,
  limit: number,
  at: string,
): TransactWrite {
  return {
    Update: {
      TableName: tableName,
      Key: inFlightKey(customerId),
      UpdateExpression: 'ADD inFlight :one SET customerId = :customerId, updatedAt = :at',
      ConditionExpression: 'attribute_not_exists(inFlight) OR inFlight < :limit',
      ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':customerId': customerId, ':at': at },
    },
  };
}

/**
 * Counts one order fewer. Unconditional: the order's own pinned status change is what makes it happen once, and a
 * saga's status change must never fail on bookkeeping.
 */
export function releaseInFlight(tableName: string, customerId: string, at: string): TransactWrite {
  return {
    Update: {
      TableName: tableName,
      Key: inFlightKey(customerId),
      UpdateExpression: 'ADD inFlight :minusOne SET updatedAt = :at',
      ExpressionAttributeValues: { ':minusOne': -1, ':at': at },
    },
  };
}
