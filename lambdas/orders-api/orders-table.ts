import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import {
  EVENT_OF_STATUS,
  type NewOrder,
  ORDERS_BY_STATUS_INDEX,
  type OrderStatus,
  orderKey,
  pendingOrderRow,
} from '../orders/orders.js';
import { cancellationReasons } from '../shared/barrier.js';
import { orderEvent, outboxKey, outboxPut } from '../shared/outbox.js';

export interface StoredOrder extends NewOrder {
  status: OrderStatus;
  createdAt: string;
  updatedAt: string;
  failure?: { step: string; error: string; cause: string } | null;
  failures?: unknown;
  shipmentId?: string;
}

/** The orders table as the API uses it. */
export class OrdersTable {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Records a new PENDING order, or returns the order an earlier request with the same id created.
   * A transaction even for one row: the order's outbox event joins this same commit.
   */
  async create(
    order: NewOrder,
    at: string,
  ): Promise<{ created: true } | { created: false; existing: StoredOrder }> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: pendingOrderRow(order, at),
                ConditionExpression: 'attribute_not_exists(pk)',
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
            outboxPut(
              this.tableName,
              orderEvent(order.orderId, 'OrderPlaced', at, {
                customerId: order.customerId,
                items: order.items,
              }),
            ),
          ],
        }),
      );
      return { created: true };
    } catch (error) {
      const existing = cancellationReasons(error)?.[0]?.Item;
      if (!existing) throw error;
      return { created: false, existing: existing as unknown as StoredOrder };
    }
  }

  /** PENDING orders last updated before `cutoff`, oldest first, at most `limit` of them. */
  async pendingSince(cutoff: string, limit: number): Promise<string[]> {
    const orderIds: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: ORDERS_BY_STATUS_INDEX,
          KeyConditionExpression: '#status = :pending AND updatedAt < :cutoff',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': 'PENDING', ':cutoff': cutoff },
          Limit: limit - orderIds.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) orderIds.push(String(item.pk).replace(/^ORDER#/, ''));
      startKey = page.LastEvaluatedKey;
    } while (startKey && orderIds.length < limit);
    return orderIds;
  }

  async get(orderId: string): Promise<StoredOrder | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: orderKey(orderId), ConsistentRead: true }),
    );
    return Item as StoredOrder | undefined;
  }

  /**
   * Moves an order from the status it was read in, announcing the change through the outbox in the same
   * commit unless that event was already announced (a record that drifted after its saga ended); false
   * when the order changed meanwhile.
   */
  async setStatus(
    orderId: string,
    from: OrderStatus,
    to: Exclude<OrderStatus, 'PENDING'>,
    at: string,
  ): Promise<boolean> {
    const event = orderEvent(orderId, EVENT_OF_STATUS[to], at, { reconciled: true });
    const { Item: announced } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: outboxKey(event), ConsistentRead: true }),
    );
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: orderKey(orderId),
                UpdateExpression: 'SET #status = :to, updatedAt = :at, reconciledAt = :at',
                ConditionExpression: '#status = :from',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':to': to, ':from': from, ':at': at },
              },
            },
            ...(announced ? [] : [outboxPut(this.tableName, event)]),
          ],
        }),
      );
      return true;
    } catch (error) {
      if (cancellationReasons(error)?.some((reason) => reason.Code === 'ConditionalCheckFailed'))
        return false;
      throw error;
    }
  }
}
