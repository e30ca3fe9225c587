import type { ActionPlan, BusinessWrites } from '../shared/barrier.js';
import { ShippingRejected } from '../shared/errors.js';
import type { OrderLine, ShippingAddress } from '../shared/step-input.js';

export function shipmentKey(orderId: string): { pk: string; sk: string } {
  return { pk: `ORDER#${orderId}`, sk: 'SHIPMENT' };
}

/** What CreateShipment records on its barrier and returns. */
export interface Shipment {
  shipmentId: string;
  country: string;
}

/** Parses the SERVED_COUNTRIES configuration: ISO 3166 alpha-2 codes, comma separated. */
export function parseServedCountries(raw: string): ReadonlySet<string> {
  const codes = raw
    .split(',')
    .map((code) => code.trim().toUpperCase())
    .filter((code) => code.length > 0);
  const invalid = codes.filter((code) => !/^[A-Z]{2}$/.test(code));
  if (codes.length === 0 || invalid.length > 0) {
    throw new Error(`SERVED_COUNTRIES must list two-letter country codes, got "${raw}"`);
  }
  return new Set(codes);
}

export function planShipment(
  tableName: string,
  order: { orderId: string; address: ShippingAddress; items: OrderLine[] },
  servedCountries: ReadonlySet<string>,
  createdAt: string,
): ActionPlan<Shipment> {
  if (!servedCountries.has(order.address.country)) {
    throw new ShippingRejected(`We do not ship to ${order.address.country}`);
  }
  const shipment: Shipment = { shipmentId: `shp_${order.orderId}`, country: order.address.country };
  return {
    result: shipment,
    writes: [
      {
        Put: {
          TableName: tableName,
          Item: {
            ...shipmentKey(order.orderId),
            ...shipment,
            orderId: order.orderId,
            status: 'CREATED',
            address: order.address,
            parcels: order.items.reduce((sum, line) => sum + line.quantity, 0),
            createdAt,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ],
    explainConditionFailure: () => new ShippingRejected(`Order ${order.orderId} already has a shipment`),
  };
}

export function planShipmentCancellation(
  tableName: string,
  orderId: string,
  cancelledAt: string,
): BusinessWrites {
  return {
    writes: [
      {
        Update: {
          TableName: tableName,
          Key: shipmentKey(orderId),
          UpdateExpression: 'SET #status = :cancelled, cancelledAt = :cancelledAt',
          ConditionExpression: '#status = :created',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':cancelled': 'CANCELLED',
            ':created': 'CREATED',
            ':cancelledAt': cancelledAt,
          },
        },
      },
    ],
    explainConditionFailure: () => new Error(`Shipment for ${orderId} is not cancellable`),
  };
}
