import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { createSqsClient, type DynamoDbLocal, startDynamoDbLocal } from '@order-saga/local-cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeSnapshot } from '../../local/snapshot.js';

const TABLES = {
  InventoryTableName: 'inventory',
  PaymentsTableName: 'payments',
  OrdersTableName: 'orders',
  ShippingTableName: 'shipping',
  NotificationsTableName: 'notifications',
};

let dynamodb: DynamoDbLocal;

beforeAll(async () => {
  dynamodb = await startDynamoDbLocal();
  await Promise.all(
    Object.values(TABLES).map((TableName) =>
      dynamodb.client.send(
        new CreateTableCommand({
          TableName,
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      ),
    ),
  );
});

afterAll(async () => {
  await dynamodb?.stop();
});

async function put(tableName: string, item: Record<string, unknown>): Promise<void> {
  await dynamodb.client.send(
    new PutItemCommand({ TableName: tableName, Item: marshall(item, { removeUndefinedValues: true }) }),
  );
}

describe('local snapshot', () => {
  it('lists notifications by order and event, and each shipment with its address', async () => {
    const address = { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' };
    await Promise.all([
      put(TABLES.ShippingTableName, {
        pk: 'SHIPMENT#ord-b',
        sk: 'SHIPMENT',
        orderId: 'ord-b',
        status: 'CREATED',
        address,
      }),
      put(TABLES.ShippingTableName, {
        pk: 'SHIPMENT#ord-a',
        sk: 'SHIPMENT',
        orderId: 'ord-a',
        status: 'CANCELLED',
      }),
      put(TABLES.NotificationsTableName, {
        pk: 'NOTIFICATION#ord-b',
        sk: 'OrderPlaced#1',
        orderId: 'ord-b',
        eventType: 'OrderPlaced',
        eventId: 'ord-b#OrderPlaced#1',
      }),
      put(TABLES.NotificationsTableName, {
        pk: 'NOTIFICATION#ord-a',
        sk: 'OrderPlaced#1',
        orderId: 'ord-a',
        eventType: 'OrderPlaced',
        eventId: 'ord-a#OrderPlaced#1',
      }),
      put(TABLES.NotificationsTableName, {
        pk: 'NOTIFICATION#ord-a',
        sk: 'OrderCancelled#2',
        orderId: 'ord-a',
        eventType: 'OrderCancelled',
        eventId: 'ord-a#OrderCancelled#2',
      }),
      // The inbox shares the table; its rows are dedupe keys, not notifications.
      put(TABLES.NotificationsTableName, { pk: 'INBOX#evt-1', sk: 'INBOX', eventId: 'evt-1' }),
    ]);

    const sqs = createSqsClient('http://127.0.0.1:9');
    try {
      const snapshot = await takeSnapshot({ dynamodb: dynamodb.client, sqs, outputs: TABLES, queues: {} });
      expect(snapshot.notifications).toEqual([
        { orderId: 'ord-a', eventType: 'OrderCancelled', eventId: 'ord-a#OrderCancelled#2' },
        { orderId: 'ord-a', eventType: 'OrderPlaced', eventId: 'ord-a#OrderPlaced#1' },
        { orderId: 'ord-b', eventType: 'OrderPlaced', eventId: 'ord-b#OrderPlaced#1' },
      ]);
      expect(snapshot.shipments).toEqual([
        { orderId: 'ord-a', status: 'CANCELLED', address: null },
        { orderId: 'ord-b', status: 'CREATED', address },
      ]);
      expect(snapshot).toMatchObject({
        inventory: [],
        accounts: [],
        orders: [],
        queues: [],
        charges: [],
        reservations: [],
      });
    } finally {
      sqs.destroy();
    }
  });

  it('lists charges with their refund status, and reservations from the inventory barrier rows', async () => {
    const barrier = (sagaId: string, step: string, op: string, extra: Record<string, unknown>) => ({
      pk: `BARRIER#${sagaId}`,
      sk: `${step}#${op}`,
      sagaId,
      step,
      op,
      ...extra,
    });
    const charge = { chargeId: 'chg', customerId: 'c-1', amountCents: 1299 };
    await Promise.all([
      put(TABLES.PaymentsTableName, {
        pk: 'CUSTOMER#c-1',
        sk: 'ACCOUNT',
        customerId: 'c-1',
        balanceCents: 5,
      }),
      put(TABLES.PaymentsTableName, {
        pk: 'ORDER#ord-c',
        sk: 'CHARGE',
        ...charge,
        orderId: 'ord-c',
        status: 'REFUNDED',
      }),
      put(TABLES.PaymentsTableName, {
        pk: 'ORDER#ord-d',
        sk: 'CHARGE',
        ...charge,
        orderId: 'ord-d',
        status: 'CHARGED',
      }),
      // The payments barrier records the same charge: it must not count as a second one.
      put(TABLES.PaymentsTableName, barrier('ord-d', 'ChargePayment', 'action', { result: charge })),
      put(TABLES.InventoryTableName, { pk: 'SKU#S-1', sk: 'STOCK', sku: 'S-1', available: 7, reserved: 3 }),
      put(
        TABLES.InventoryTableName,
        barrier('ord-c', 'ReserveInventory', 'action', {
          result: {
            lines: [
              { sku: 'S-2', quantity: 1, unitPriceCents: 5 },
              { sku: 'S-1', quantity: 2, unitPriceCents: 5 },
            ],
            totalCents: 15,
          },
        }),
      ),
      put(TABLES.InventoryTableName, barrier('ord-c', 'ReserveInventory', 'compensation', {})),
      put(
        TABLES.InventoryTableName,
        barrier('ord-d', 'ReserveInventory', 'action', {
          result: { lines: [{ sku: 'S-1', quantity: 3, unitPriceCents: 5 }], totalCents: 15 },
        }),
      ),
      // A release that came before its reservation: the tombstone reserved nothing.
      put(TABLES.InventoryTableName, barrier('ord-e', 'ReserveInventory', 'action', { tombstone: true })),
      put(TABLES.InventoryTableName, barrier('ord-e', 'ReserveInventory', 'compensation', {})),
    ]);

    const sqs = createSqsClient('http://127.0.0.1:9');
    try {
      const snapshot = await takeSnapshot({ dynamodb: dynamodb.client, sqs, outputs: TABLES, queues: {} });
      expect(snapshot.charges).toEqual([
        { orderId: 'ord-c', customerId: 'c-1', amountCents: 1299, status: 'REFUNDED' },
        { orderId: 'ord-d', customerId: 'c-1', amountCents: 1299, status: 'CHARGED' },
      ]);
      expect(snapshot.reservations).toEqual([
        { orderId: 'ord-c', sku: 'S-1', quantity: 2, released: true },
        { orderId: 'ord-c', sku: 'S-2', quantity: 1, released: true },
        { orderId: 'ord-d', sku: 'S-1', quantity: 3, released: false },
      ]);
      expect(snapshot.inventory).toEqual([{ sku: 'S-1', available: 7, reserved: 3 }]);
    } finally {
      sqs.destroy();
    }
  });
});
