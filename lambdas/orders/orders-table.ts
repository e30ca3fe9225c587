import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { cancellationReasons } from '../shared/dynamodb.js';
import { isWriteConflict } from '../shared/errors.js';
import {
  allUnpublishedShards,
  orderEvent,
  outboxPut,
  UNPUBLISHED_INDEX,
  UNPUBLISHED_SHARD_ATTRIBUTE,
} from '../shared/outbox.js';
import { COUNTED_IN_FLIGHT, countInFlight, TooManyOrdersInFlight } from './in-flight.js';
import {
  FIRST_VERSION,
  type NewOrder,
  ORDERS_BY_STATUS_INDEX,
  orderKey,
  pendingOrderRow,
  type StoredOrder,
} from './orders.js';
import { actionAsRead, endActionClause, redriveCountAsRead, versionAsRead } from './read-conditions.js';
import type { PendingAction } from './status.js';
import { statusChangeMetric } from './status-metrics.js';
import { planStatusChange, type StatusChange } from './transitions.js';

export type { StoredOrder } from './orders.js';

/** Another request is writing the same order right now; the client retries after a moment. */
export class ConcurrentRequest extends Error {
  override name = 'ConcurrentRequest';
}

const SWEEP_CURSOR_KEY = { pk: 'SWEEPER', sk: 'CURSOR' };
/** Tries of a new order whose transaction lost a race on its customer's counter to another order. */
const COUNTER_ATTEMPTS = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isConditionFailure(error: unknown): boolean {
  if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return true;
  return cancellationReasons(error)?.some((reason) => reason.Code === 'ConditionalCheckFailed') ?? false;
}

/** The orders table as the API, reconcile and the sweeper use it. */
export class OrdersTable {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Records a new PENDING order and counts it in flight for its customer, or returns the order an earlier request
   * with the same id created (a replay counts nothing: the order's put fails, so the whole transaction does). A
   * transaction even for one order: its outbox event and the count join this same commit. Two requests racing on
   * one key make DynamoDB cancel one transaction with a conflict: the loser reads the winner's order, or is told
   * to retry when that order is not visible yet. Two orders of one customer racing on the counter are tried again.
   */
  async create(
    order: NewOrder,
    at: string,
    maxInFlight: number,
  ): Promise<{ created: true } | { created: false; existing: StoredOrder }> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.send(
          new TransactWriteCommand({ TransactItems: this.creation(order, at, maxInFlight) }),
        );
        return { created: true };
      } catch (error) {
        const [orderReason, , counterReason] = cancellationReasons(error) ?? [];
        const existing = orderReason?.Item;
        if (existing) return { created: false, existing: existing as unknown as StoredOrder };
        if (counterReason?.Code === 'ConditionalCheckFailed') {
          // DynamoDB need not report every failed condition: a replay at the cap is still a replay.
          const replayed = await this.get(order.orderId);
          if (replayed) return { created: false, existing: replayed };
          throw new TooManyOrdersInFlight(maxInFlight);
        }
        if (!isWriteConflict(error)) throw error;
        if (orderReason?.Code !== 'TransactionConflict' && attempt < COUNTER_ATTEMPTS) {
          await sleep(Math.random() * 50 * attempt);
          continue;
        }
        const winner = await this.get(order.orderId);
        if (winner) return { created: false, existing: winner };
        throw new ConcurrentRequest(`Order ${order.orderId} is being created by another request`);
      }
    }
  }

  private creation(order: NewOrder, at: string, maxInFlight: number) {
    return [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...pendingOrderRow(order, at), [COUNTED_IN_FLIGHT]: true },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
        },
      },
      outboxPut(
        this.tableName,
        orderEvent(
          order.orderId,
          'OrderPlaced',
          FIRST_VERSION,
          at,
          { customerId: order.customerId, items: order.items },
          order.traceId,
          order.placedBy,
        ),
      ),
      countInFlight(this.tableName, order.customerId, maxInFlight, at),
    ];
  }

  async get(orderId: string): Promise<StoredOrder | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: orderKey(orderId), ConsistentRead: true }),
    );
    return Item as StoredOrder | undefined;
  }

  /**
   * PENDING orders last updated before `cutoff`, oldest first, one page of at most `limit`, from where
   * the previous page ended. Each comes with its index key, where a later page may start after it; `next`
   * is undefined at the end of the index.
   */
  async pendingSince(
    cutoff: string,
    limit: number,
    startKey?: Record<string, unknown>,
  ): Promise<{
    orders: { orderId: string; key: Record<string, unknown> }[];
    next?: Record<string, unknown>;
  }> {
    const page = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: ORDERS_BY_STATUS_INDEX,
        KeyConditionExpression: '#status = :pending AND updatedAt < :cutoff',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pending': 'PENDING', ':cutoff': cutoff },
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return {
      // The index projects keys only: each item is exactly the key a query may start after.
      orders: (page.Items ?? []).map((item) => ({
        orderId: String(item.pk).replace(/^ORDER#/, ''),
        key: item,
      })),
      next: page.LastEvaluatedKey,
    };
  }

  /** When the longest-PENDING order last changed: the first row of the status index; undefined when none is. */
  async oldestPendingUpdatedAt(): Promise<string | undefined> {
    const { Items = [] } = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: ORDERS_BY_STATUS_INDEX,
        KeyConditionExpression: '#status = :pending',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pending': 'PENDING' },
        Limit: 1,
      }),
    );
    const updatedAt: unknown = Items[0]?.updatedAt;
    return typeof updatedAt === 'string' ? updatedAt : undefined;
  }

  /**
   * When the oldest event still unpublished occurred: the first row of each shard of the unpublished index (a
   * row leaves it once published), the earliest of those; undefined when every event is published.
   */
  async oldestUnpublishedOccurredAt(): Promise<string | undefined> {
    const firsts = await Promise.all(
      allUnpublishedShards().map(async (shard) => {
        const { Items = [] } = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: UNPUBLISHED_INDEX,
            KeyConditionExpression: `${UNPUBLISHED_SHARD_ATTRIBUTE} = :shard`,
            ExpressionAttributeValues: { ':shard': shard },
            ProjectionExpression: 'occurredAt',
            Limit: 1,
          }),
        );
        const occurredAt: unknown = Items[0]?.occurredAt;
        return typeof occurredAt === 'string' ? occurredAt : undefined;
      }),
    );
    // ISO 8601 timestamps in UTC sort as strings.
    return firsts.filter((at): at is string => at !== undefined).sort()[0];
  }

  /** Where the sweeper's last run stopped in the index; undefined to start from the oldest. */
  async sweepCursor(): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: SWEEP_CURSOR_KEY, ConsistentRead: true }),
    );
    // Older rows stored "from the oldest" as null, which no query accepts as a start key.
    const startKey: unknown = Item?.startKey;
    return typeof startKey === 'object' && startKey !== null
      ? (startKey as Record<string, unknown>)
      : undefined;
  }

  /** Saves where the next run starts; without a key, the row says "from the oldest" by having none. */
  async saveSweepCursor(startKey: Record<string, unknown> | undefined, at: string): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...SWEEP_CURSOR_KEY, ...(startKey ? { startKey } : {}), at },
      }),
    );
  }

  /**
   * Moves the order as it was read; false when it changed meanwhile (reconcile reads it again). When the
   * event of that very transition was already announced (a record restored to an older copy of itself),
   * the change commits without announcing it twice.
   */
  async changeStatus(
    order: StoredOrder,
    change: StatusChange,
    at: string,
    announce = true,
  ): Promise<boolean> {
    const { writes } = planStatusChange(this.tableName, order, change, at);
    // Without its announcement the change keeps every other write, the in-flight count's included.
    const items = announce ? writes : writes.filter((_write, index) => index !== 1);
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      statusChangeMetric(change);
      return true;
    } catch (error) {
      const [orderReason, outboxReason] = cancellationReasons(error) ?? [];
      const alreadyAnnounced =
        outboxReason?.Code === 'ConditionalCheckFailed' && orderReason?.Code !== 'ConditionalCheckFailed';
      if (announce && alreadyAnnounced) return this.changeStatus(order, change, at, false);
      if (isConditionFailure(error) || isWriteConflict(error)) return false;
      throw error;
    }
  }

  /**
   * Records an execution once its start succeeded (a set: recording twice is recording once) and, for an
   * operator action still in flight, which execution carries it.
   */
  async recordExecution(orderId: string, executionArn: string, action?: PendingAction): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: orderKey(orderId),
        UpdateExpression: 'ADD executionArns :arn',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':arn': new Set([executionArn]) },
      }),
    );
    if (!action) return;
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: 'SET pendingAction.executionArn = :arn',
          ConditionExpression: 'pendingAction.startedAt = :startedAt',
          ExpressionAttributeValues: { ':arn': executionArn, ':startedAt': action.startedAt },
        }),
      )
      .catch((error: unknown) => {
        // The action already ended (its execution finished first): nothing left to point at.
        if (!isConditionFailure(error)) throw error;
      });
  }

  /**
   * Marks an operator action in flight, if the order is still as read: the same status and version, the
   * same automatic redrive count (an automatic redrive counted meanwhile means the saga runs again), and
   * no other action, or only the `stale` one the order still shows though its execution ended. The
   * automatic redrive budget starts again: a person decided to give the saga another chance.
   */
  async beginAction(order: StoredOrder, action: PendingAction, stale?: PendingAction): Promise<boolean> {
    const values: Record<string, unknown> = {
      ':action': action,
      ':zero': 0,
      ':at': action.startedAt,
      ':status': order.status,
    };
    const conditions = [
      '#status = :status',
      versionAsRead(order.version, values),
      redriveCountAsRead(order.autoRedrives ?? 0, values),
      actionAsRead(stale, values, ':staleStartedAt'),
    ];
    const endStale = stale ? `, ${endActionClause(stale, action.startedAt, order.status, values)}` : '';
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(order.orderId),
          UpdateExpression: `SET pendingAction = :action, autoRedrives = :zero, updatedAt = :at${endStale}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Ends an action that could not start; leaves a newer action alone. */
  async abandonAction(orderId: string, action: PendingAction): Promise<void> {
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: 'REMOVE pendingAction',
          ConditionExpression: 'pendingAction.startedAt = :startedAt',
          ExpressionAttributeValues: { ':startedAt': action.startedAt },
        }),
      )
      .catch((error: unknown) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  /**
   * Counts one automatic redrive, if nobody counted it first and no operator action began meanwhile: the
   * count is the lock that keeps the sweeper, reconcile and an operator from redriving or acting at once,
   * and automation from ever passing the budget.
   */
  async countAutoRedrive(order: StoredOrder): Promise<boolean> {
    const seen = order.autoRedrives ?? 0;
    const values: Record<string, unknown> = { ':next': seen + 1, ':status': order.status };
    const conditions = [
      '#status = :status',
      redriveCountAsRead(seen, values),
      actionAsRead(order.pendingAction, values),
    ];
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(order.orderId),
          UpdateExpression: 'SET autoRedrives = :next',
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
