import type { ActionPlan, BusinessWrites } from '../shared/barrier.js';
import { InsufficientStock, TransientError } from '../shared/errors.js';
import type { OrderLine } from '../shared/step-input.js';

/** Stock lives on one row per SKU so a reservation is a conditional decrement, never a read-modify-write. */
export function skuKey(sku: string): { pk: string; sk: string } {
  return { pk: `SKU#${sku}`, sk: 'STOCK' };
}

export interface StockItem {
  sku: string;
  available: number;
  reserved: number;
  priceCents: number;
}

/** A SKU's stock row as first stocked (seeding, back-office tools). */
export function stockRow(
  sku: string,
  stock: number,
  priceCents: number,
): StockItem & { pk: string; sk: string } {
  return { ...skuKey(sku), sku, available: stock, reserved: 0, priceCents };
}

export interface ReservedLine extends OrderLine {
  unitPriceCents: number;
}

/** What ReserveInventory records on its barrier and returns: ReleaseInventory undoes exactly this. */
export interface Reservation {
  lines: ReservedLine[];
  totalCents: number;
}

export function planReservation(
  tableName: string,
  lines: OrderLine[],
  stock: ReadonlyMap<string, StockItem>,
): ActionPlan<Reservation> {
  const reserved = lines.map((line) => {
    const item = stock.get(line.sku);
    if (!item) throw new InsufficientStock(`Unknown sku ${line.sku}`);
    if (item.available < line.quantity) {
      throw new InsufficientStock(
        `Only ${item.available} of ${line.sku} available, ${line.quantity} requested`,
      );
    }
    return { ...line, unitPriceCents: item.priceCents };
  });
  return {
    result: {
      lines: reserved,
      totalCents: reserved.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0),
    },
    writes: reserved.map((line) => ({
      Update: {
        TableName: tableName,
        Key: skuKey(line.sku),
        // The price condition keeps the recorded total true to what was reserved.
        UpdateExpression:
          'SET available = available - :quantity, reserved = if_not_exists(reserved, :zero) + :quantity',
        ConditionExpression: 'attribute_exists(pk) AND available >= :quantity AND priceCents = :price',
        ExpressionAttributeValues: { ':quantity': line.quantity, ':zero': 0, ':price': line.unitPriceCents },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    })),
    explainConditionFailure: (index, item) => {
      const line = reserved[index];
      const available = typeof item?.available === 'number' ? item.available : 0;
      if (!line || !item || available < line.quantity) {
        return new InsufficientStock(`Not enough ${line?.sku ?? 'stock'} left to reserve`);
      }
      return new TransientError(`Price of ${line.sku} changed while reserving`);
    },
  };
}

export function planRelease(tableName: string, reservation: Reservation): BusinessWrites {
  return {
    writes: reservation.lines.map((line) => ({
      Update: {
        TableName: tableName,
        Key: skuKey(line.sku),
        UpdateExpression: 'SET available = available + :quantity, reserved = reserved - :quantity',
        ConditionExpression: 'reserved >= :quantity',
        ExpressionAttributeValues: { ':quantity': line.quantity },
      },
    })),
    explainConditionFailure: (index) =>
      new Error(`Reserved count of ${reservation.lines[index]?.sku} is below what this saga reserved`),
  };
}
