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
      }),
      put(TABLES.NotificationsTableName, {
        pk: 'NOTIFICATION#ord-a',
        sk: 'OrderPlaced#1',
        orderId: 'ord-a',
        eventType: 'OrderPlaced',
      }),
      put(TABLES.NotificationsTableName, {
        pk: 'NOTIFICATION#ord-a',
        sk: 'OrderCancelled#2',
        orderId: 'ord-a',
        eventType: 'OrderCancelled',
      }),
      // The inbox shares the table; its rows are dedupe keys, not notifications.
      put(TABLES.NotificationsTableName, { pk: 'INBOX#evt-1', sk: 'INBOX', eventId: 'evt-1' }),
    ]);

    const sqs = createSqsClient('http://127.0.0.1:9');
    try {
      const snapshot = await takeSnapshot({ dynamodb: dynamodb.client, sqs, outputs: TABLES, queues: {} });
      expect(snapshot.notifications).toEqual([
        { orderId: 'ord-a', eventType: 'OrderCancelled' },
        { orderId: 'ord-a', eventType: 'OrderPlaced' },
        { orderId: 'ord-b', eventType: 'OrderPlaced' },
      ]);
      expect(snapshot.shipments).toEqual([
        { orderId: 'ord-a', status: 'CANCELLED', address: null },
        { orderId: 'ord-b', status: 'CREATED', address },
      ]);
      expect(snapshot).toMatchObject({ inventory: [], accounts: [], orders: [], queues: [] });
    } finally {
      sqs.destroy();
    }
  });
});
