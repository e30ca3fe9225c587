import type { ActionPlan, BusinessWrites } from '../shared/barrier.js';
import { InsufficientFunds, PaymentDeclined, TransientError } from '../shared/errors.js';

export function accountKey(customerId: string): { pk: string; sk: string } {
  return { pk: `CUSTOMER#${customerId}`, sk: 'ACCOUNT' };
}

/** A customer's payment account as opened (seeding, back-office tools). */
export function accountRow(customerId: string, balanceCents: number) {
  return { ...accountKey(customerId), customerId, balanceCents };
}

export function chargeKey(orderId: string): { pk: string; sk: string } {
  return { pk: `ORDER#${orderId}`, sk: 'CHARGE' };
}

/** What ChargePayment records on its barrier and returns: RefundPayment gives back exactly this. */
export interface Charge {
  chargeId: string;
  customerId: string;
  amountCents: number;
}

export function planCharge(
  tableName: string,
  order: { orderId: string; customerId: string; amountCents: number },
  chargedAt: string,
): ActionPlan<Charge> {
  const charge: Charge = {
    chargeId: `chg_${order.orderId}`,
    customerId: order.customerId,
    amountCents: order.amountCents,
  };
  return {
    result: charge,
    writes: [
      {
        Update: {
          TableName: tableName,
          Key: accountKey(order.customerId),
          // Money is integer cents and the condition keeps a balance from ever going below zero.
          UpdateExpression: 'SET balanceCents = balanceCents - :amount',
          ConditionExpression: 'attribute_exists(pk) AND balanceCents >= :amount',
          ExpressionAttributeValues: { ':amount': order.amountCents },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      {
        Put: {
          TableName: tableName,
          Item: {
            ...chargeKey(order.orderId),
            ...charge,
            orderId: order.orderId,
            status: 'CHARGED',
            chargedAt,
          },
          // Belt and braces under the barrier: one order is never charged twice.
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ],
    explainConditionFailure: (index, item) => {
      if (index === 1) return new PaymentDeclined(`Order ${order.orderId} already has a charge`);
      if (!item) return new PaymentDeclined(`Customer ${order.customerId} has no payment account`);
      const balance = typeof item.balanceCents === 'number' ? item.balanceCents : 0;
      if (balance < order.amountCents) {
        return new InsufficientFunds(`Balance ${balance} cents is below the ${order.amountCents} cents due`);
      }
      return new TransientError('Account changed while charging');
    },
  };
}

export function planRefund(
  tableName: string,
  orderId: string,
  charge: Charge,
  refundedAt: string,
): BusinessWrites {
  return {
    writes: [
      {
        Update: {
          TableName: tableName,
          Key: accountKey(charge.customerId),
          UpdateExpression: 'SET balanceCents = balanceCents + :amount',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':amount': charge.amountCents },
        },
      },
      {
        Update: {
          TableName: tableName,
          Key: chargeKey(orderId),
          UpdateExpression: 'SET #status = :refunded, refundedAt = :refundedAt',
          ConditionExpression: '#status = :charged',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':refunded': 'REFUNDED',
            ':charged': 'CHARGED',
            ':refundedAt': refundedAt,
          },
        },
      },
    ],
    explainConditionFailure: (index) =>
      new Error(
        index === 0 ? `Account ${charge.customerId} is gone` : `Charge for ${orderId} is not refundable`,
      ),
  };
}
