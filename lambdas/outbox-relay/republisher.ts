import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { logger } from '../shared/logger.js';
import {
  allUnpublishedShards,
  parseOrderEvent,
  UNPUBLISHED_INDEX,
  UNPUBLISHED_SHARD_ATTRIBUTE,
} from '../shared/outbox.js';
import { type PublishDeps, publishEvent } from './publish.js';

export interface RepublishOptions {
  /** Rows whose event occurred less than this long ago are left to the relay. */
  republishAfterSeconds: number;
  /** Rows examined per run at most, across all shards, so one run stays inside the function timeout. */
  batchLimit: number;
}

export interface RepublishSummary {
  /** Unpublished rows read from the index. */
  examined: number;
  /** Of those, rows sent to the queue. */
  published: number;
  /** Of those, rows that could not be sent (or are not events); the next run tries them again. */
  failed: number;
}

/** Events that occurred before this instant, and are still unpublished, are the relay's misses. */
export function republishCutoff(now: Date, republishAfterSeconds: number): string {
  return new Date(now.getTime() - republishAfterSeconds * 1000).toISOString();
}

/** One page of a shard of the unpublished index, oldest first, up to `limit` rows. */
export function unpublishedPage(
  tableName: string,
  shard: string,
  cutoff: string,
  limit: number,
  exclusiveStartKey?: Record<string, unknown>,
): QueryCommandInput {
  return {
    TableName: tableName,
    IndexName: UNPUBLISHED_INDEX,
    KeyConditionExpression: `${UNPUBLISHED_SHARD_ATTRIBUTE} = :shard AND occurredAt < :cutoff`,
    ExpressionAttributeValues: { ':shard': shard, ':cutoff': cutoff },
    Limit: limit,
    ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
  };
}

async function republishRow(deps: PublishDeps, row: Record<string, unknown>): Promise<boolean> {
  const event = parseOrderEvent(row);
  if (!event) {
    // Only a person can fix such a row; it is reported on every run until then.
    logger.error('unpublished outbox row is not an event', {
      eventId: typeof row.eventId === 'string' ? row.eventId : undefined,
      pk: row.pk,
      sk: row.sk,
    });
    return false;
  }
  try {
    await publishEvent(deps, event);
    return true;
  } catch (error) {
    logger.error('republish of an event failed', {
      eventId: event.eventId,
      errorMessage: error instanceof Error ? error.message : String(error),
    });
    return false;
  }
}

/**
 * Publishes every outbox row still unpublished some time after its event occurred, through the relay's
 * own routine, shard by shard and page by page, until the batch limit. One row failing does not stop the
 * run; a failed query does (the next run starts over, and what this one published has left the index).
 */
export async function republishUnpublished(
  deps: PublishDeps,
  options: RepublishOptions,
): Promise<RepublishSummary> {
  const now = (deps.now ?? (() => new Date()))();
  const cutoff = republishCutoff(now, options.republishAfterSeconds);
  const summary: RepublishSummary = { examined: 0, published: 0, failed: 0 };
  // Each run starts at another shard: rows that keep failing in one shard never use up every run's budget.
  const shards = allUnpublishedShards();
  const first = Math.floor(now.getTime() / 60_000) % shards.length;
  for (const shard of [...shards.slice(first), ...shards.slice(0, first)]) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const remaining = options.batchLimit - summary.examined;
      if (remaining <= 0) return summary;
      const page = await deps.db.send(
        new QueryCommand(unpublishedPage(deps.tableName, shard, cutoff, remaining, startKey)),
      );
      for (const row of (page.Items ?? []).slice(0, remaining)) {
        summary.examined += 1;
        if (await republishRow(deps, row)) summary.published += 1;
        else summary.failed += 1;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
  return summary;
}
