import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { isRecord, type PhysicalNames } from '@order-saga/local-cloud';
import type { Reservation } from '../lambdas/inventory/inventory.js';
import { SAGA_STEPS } from '../lambdas/shared/saga-states.js';

export interface Snapshot {
  inventory: { sku: string; available: number; reserved: number }[];
  accounts: { customerId: string; balanceCents: number }[];
  orders: { orderId: string; status: string }[];
  // The address the shipment was created for; null for a row written without one.
  shipments: { orderId: string; status: string; address: Record<string, unknown> | null }[];
  // One entry per notification row, so a transition notified twice shows up twice; eventId is what the
  // consumer deduplicates on.
  notifications: { orderId: string; eventType: string; eventId: string }[];
  // The payments table's charge rows: status CHARGED, or REFUNDED once the compensation gave the money back.
  charges: { orderId: string; customerId: string; amountCents: number; status: string }[];
  // One entry per reserved order line. Inventory keeps no reservation row of its own: what ReserveInventory
  // reserved is the result on its barrier row, and ReleaseInventory's barrier row marks it released.
  reservations: { orderId: string; sku: string; quantity: number; released: boolean }[];
  queues: { name: string; visible: number; inFlight: number }[];
  // Each customer's count of orders in flight, beside the orders that carry the mark it counts (countedInFlight).
  inFlight: { customerId: string; counter: number; counted: { orderId: string; status: string }[] }[];
}

/** Counter rows and counted orders, by customer: one scan of the orders table, so they agree with each other. */
function inFlightOf(orders: Record<string, unknown>[]): Snapshot['inFlight'] {
  const byCustomer = new Map<string, Snapshot['inFlight'][number]>();
  const entry = (customerId: string) => {
    const found = byCustomer.get(customerId) ?? { customerId, counter: 0, counted: [] };
    byCustomer.set(customerId, found);
    return found;
  };
  for (const item of orders) {
    if (item.sk === 'IN_FLIGHT') entry(String(item.customerId)).counter = Number(item.inFlight ?? 0);
    else if (item.sk === 'ORDER' && item.countedInFlight === true)
      entry(String(item.customerId)).counted.push({
        orderId: String(item.orderId),
        status: String(item.status),
      });
  }
  return [...byCustomer.values()].sort(byKey((item) => item.customerId));
}

async function scanAll(
  client: DynamoDBClient,
  tableName: string | undefined,
): Promise<Record<string, unknown>[]> {
  if (!tableName) return [];
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
    startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (startKey);
  return items;
}

const RESERVE = SAGA_STEPS.reserveInventory.barrierId;

/** Reservations as the inventory's barrier rows record them; a tombstone (a release that came first) reserved nothing. */
function reservationsOf(inventory: Record<string, unknown>[]): Snapshot['reservations'] {
  const released = new Set(
    inventory.filter((item) => item.sk === `${RESERVE}#compensation`).map((item) => String(item.sagaId)),
  );
  return inventory
    .filter((item) => item.sk === `${RESERVE}#action` && item.tombstone !== true && isRecord(item.result))
    .flatMap((item) =>
      ((item.result as Partial<Reservation>).lines ?? []).map((line) => ({
        orderId: String(item.sagaId),
        sku: String(line.sku),
        quantity: Number(line.quantity),
        released: released.has(String(item.sagaId)),
      })),
    );
}

const byKey =
  <T>(key: (item: T) => string) =>
  (a: T, b: T) =>
    key(a).localeCompare(key(b));

/** The business state of every service, read straight from the emulators: what tests compare before and after. */
export async function takeSnapshot(sources: {
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  outputs: Record<string, string>;
  queues: PhysicalNames;
}): Promise<Snapshot> {
  const [inventory, payments, orders, shipping, notifications] = await Promise.all(
    [
      'InventoryTableName',
      'PaymentsTableName',
      'OrdersTableName',
      'ShippingTableName',
      'NotificationsTableName',
    ].map((output) => scanAll(sources.dynamodb, sources.outputs[output])),
  );
  const queueUrls = Object.values(sources.queues)
    .filter((resource) => resource.type === 'AWS::SQS::Queue')
    .map((resource) => ({ url: resource.ref, name: resource.attributes.QueueName ?? resource.ref }));
  const queues = await Promise.all(
    queueUrls.map(async ({ url, name }) => {
      const { Attributes = {} } = await sources.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return {
        name,
        visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    }),
  );
  return {
    inventory: (inventory ?? [])
      .filter((item) => item.sk === 'STOCK')
      .map((item) => ({
        sku: String(item.sku),
        available: Number(item.available),
        reserved: Number(item.reserved ?? 0),
      }))
      .sort(byKey((item) => item.sku)),
    accounts: (payments ?? [])
      .filter((item) => item.sk === 'ACCOUNT')
      .map((item) => ({ customerId: String(item.customerId), balanceCents: Number(item.balanceCents) }))
      .sort(byKey((item) => item.customerId)),
    orders: (orders ?? [])
      .filter((item) => item.sk === 'ORDER')
      .map((item) => ({ orderId: String(item.orderId), status: String(item.status) }))
      .sort(byKey((item) => item.orderId)),
    shipments: (shipping ?? [])
      .filter((item) => item.sk === 'SHIPMENT')
      .map((item) => ({
        orderId: String(item.orderId),
        status: String(item.status),
        address: isRecord(item.address) ? item.address : null,
      }))
      .sort(byKey((item) => item.orderId)),
    notifications: (notifications ?? [])
      .filter((item) => typeof item.pk === 'string' && item.pk.startsWith('NOTIFICATION#'))
      .map((item) => ({
        orderId: String(item.orderId),
        eventType: String(item.eventType),
        eventId: String(item.eventId),
      }))
      .sort(
        (a, b) =>
          a.orderId.localeCompare(b.orderId) ||
          a.eventType.localeCompare(b.eventType) ||
          a.eventId.localeCompare(b.eventId),
      ),
    charges: (payments ?? [])
      .filter((item) => item.sk === 'CHARGE')
      .map((item) => ({
        orderId: String(item.orderId),
        customerId: String(item.customerId),
        amountCents: Number(item.amountCents),
        status: String(item.status),
      }))
      .sort(byKey((item) => item.orderId)),
    reservations: reservationsOf(inventory ?? []).sort(
      (a, b) => a.orderId.localeCompare(b.orderId) || a.sku.localeCompare(b.sku),
    ),
    queues: queues.sort(byKey((queue) => queue.name)),
    inFlight: inFlightOf(orders ?? []),
  };
}
