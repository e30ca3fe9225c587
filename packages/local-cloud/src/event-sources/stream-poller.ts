import { randomUUID } from 'node:crypto';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { passesFilters } from './filter-patterns.js';
import { kindOfArn } from './mappings.js';
import { arrivalOf, dynamodbRecordOf } from './records.js';
import {
  authorizeAs,
  errorMessage,
  invokeSafely,
  pause,
  type Runtime,
  reportedFailures,
  sourceNameOf,
  targetsOf,
  wantsDuplicate,
} from './runtime.js';
import {
  type EventSourceMappingConfig,
  type EventSourceStats,
  POLL_ERROR_BACKOFF_MS,
  SHARD_REFRESH_INTERVAL_MS,
  STREAM_GET_RECORDS_LIMIT,
} from './types.js';

interface ShardState {
  shardId: string;
  parentShardId?: string;
  iterator?: string;
  // Where to (re)start when there is no iterator yet or it expired.
  initialPosition: ShardIteratorType;
  lastSequenceNumber?: string;
  // Filtered records waiting for a batch.
  buffer: DynamoDBRecord[];
  bufferedSince?: number;
  finished: boolean;
}

type BatchResult = { ok: true } | { ok: false; retryFrom: number; functionError?: string; detail: string };

export class StreamPoller {
  private readonly shards = new Map<string, ShardState>();
  private lastRefresh = 0;

  constructor(
    private readonly mapping: EventSourceMappingConfig,
    private readonly runtime: Runtime,
    private readonly stats: EventSourceStats,
    private readonly client: DynamoDBStreamsClient,
  ) {}

  private get streamArn(): string {
    return this.mapping.eventSourceArn;
  }

  /** Finds the shards and takes LATEST iterators now, so writes after startEventSources() are not missed. */
  async init(): Promise<void> {
    // Lambda lists the table's streams when the mapping is created; a role that may not is refused there.
    await authorizeAs(this.runtime, this.mapping, 'dynamodb:ListStreams', '*');
    await this.refreshShards(true);
    for (const shard of this.readableShards()) shard.iterator = await this.iteratorFor(shard);
  }

  private async describeShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      await authorizeAs(this.runtime, this.mapping, 'dynamodb:DescribeStream', this.streamArn);
      const response = await this.client.send(
        new DescribeStreamCommand({
          StreamArn: this.streamArn,
          ExclusiveStartShardId: exclusiveStartShardId,
        }),
        { abortSignal: this.runtime.signal },
      );
      shards.push(...(response.StreamDescription?.Shards ?? []));
      exclusiveStartShardId = response.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards;
  }

  private async refreshShards(initial: boolean): Promise<void> {
    this.lastRefresh = Date.now();
    for (const shard of await this.describeShards()) {
      if (!shard.ShardId || this.shards.has(shard.ShardId)) continue;
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      const latest = initial && this.mapping.startingPosition === 'LATEST';
      this.shards.set(shard.ShardId, {
        shardId: shard.ShardId,
        parentShardId: shard.ParentShardId,
        // Shards found later are children of ones being read: they are read from their start.
        initialPosition: latest ? 'LATEST' : 'TRIM_HORIZON',
        buffer: [],
        // From LATEST, shards that were already closed hold nothing new.
        finished: latest && closed,
      });
    }
  }

  /** Open shards whose parent is done (or gone): Lambda finishes a parent before reading its children. */
  private readableShards(): ShardState[] {
    return [...this.shards.values()].filter((shard) => {
      if (shard.finished) return false;
      const parent = shard.parentShardId ? this.shards.get(shard.parentShardId) : undefined;
      return !parent || parent.finished;
    });
  }

  private async iteratorFor(shard: ShardState): Promise<string | undefined> {
    await authorizeAs(this.runtime, this.mapping, 'dynamodb:GetShardIterator', this.streamArn);
    const response = await this.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shard.shardId,
        ...(shard.lastSequenceNumber
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastSequenceNumber }
          : { ShardIteratorType: shard.initialPosition }),
      }),
      { abortSignal: this.runtime.signal },
    );
    return response.ShardIterator;
  }

  async run(): Promise<void> {
    const { signal } = this.runtime;
    const idleMs = this.runtime.options.streamPollIntervalMs ?? 150;
    while (!signal.aborted) {
      let sawRecords = false;
      try {
        let shardClosed = false;
        for (const shard of this.readableShards()) {
          if (signal.aborted) break;
          sawRecords = (await this.pollShard(shard)) || sawRecords;
          shardClosed = shardClosed || shard.finished;
        }
        if (shardClosed || Date.now() - this.lastRefresh > SHARD_REFRESH_INTERVAL_MS) {
          await this.refreshShards(false);
        }
      } catch (error) {
        if (signal.aborted) break;
        this.stats.pollErrors += 1;
        this.runtime.trace(
          this.mapping,
          `polling the ${this.mapping.sourceName} stream failed: ${errorMessage(error)}`,
        );
        await pause(POLL_ERROR_BACKOFF_MS, signal);
      }
      if (!sawRecords) await pause(idleMs, signal);
    }
  }

  /** One GetRecords round on a shard, then the batches it completes. True when records arrived. */
  private async pollShard(shard: ShardState): Promise<boolean> {
    if (!shard.iterator) shard.iterator = await this.iteratorFor(shard);
    if (!shard.iterator) {
      shard.finished = true;
      return false;
    }
    let response: Awaited<ReturnType<typeof this.getRecords>>;
    try {
      response = await this.getRecords(shard.iterator);
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException') {
        // Start again after the last record seen (or from the oldest one still there).
        if (name === 'TrimmedDataAccessException') shard.lastSequenceNumber = undefined;
        shard.initialPosition = 'TRIM_HORIZON';
        shard.iterator = undefined;
        return false;
      }
      throw error;
    }
    const records = response.Records ?? [];
    for (const raw of records) {
      const record = dynamodbRecordOf(raw, this.streamArn, this.runtime.region);
      shard.lastSequenceNumber = record.dynamodb?.SequenceNumber ?? shard.lastSequenceNumber;
      if (passesFilters(this.mapping.filterPatterns, record)) {
        if (shard.buffer.length === 0) shard.bufferedSince = Date.now();
        shard.buffer.push(record);
      } else {
        this.stats.filteredOut += 1;
      }
    }
    shard.iterator = response.NextShardIterator;
    const closed = shard.iterator === undefined;
    await this.flush(shard, closed);
    // A closed shard is done once its last batch went out; its children become readable.
    if (closed) shard.finished = true;
    return records.length > 0;
  }

  private async getRecords(iterator: string) {
    await authorizeAs(this.runtime, this.mapping, 'dynamodb:GetRecords', this.streamArn);
    return this.client.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: STREAM_GET_RECORDS_LIMIT }),
      {
        abortSignal: this.runtime.signal,
      },
    );
  }

  private async flush(shard: ShardState, force: boolean): Promise<void> {
    const windowMs = this.mapping.maximumBatchingWindowSeconds * 1000 * this.runtime.timeScale;
    const due = () =>
      shard.buffer.length >= this.mapping.batchSize ||
      (shard.buffer.length > 0 && (force || Date.now() - (shard.bufferedSince ?? 0) >= windowMs));
    while (due() && !this.runtime.signal.aborted) {
      const batch = shard.buffer.splice(0, this.mapping.batchSize);
      shard.bufferedSince = Date.now();
      await this.processBatch(shard, batch);
    }
  }

  private maximumRetries(): number {
    const configured = this.mapping.maximumRetryAttempts;
    return configured === undefined || configured < 0
      ? (this.runtime.options.defaultStreamMaximumRetryAttempts ?? 3)
      : configured;
  }

  /**
   * Invokes until the batch succeeds or is given up on, as Lambda does for a shard: nothing after it is read
   * meanwhile. A partial failure checkpoints before the first failed record; bisection splits a failing batch
   * in halves, each with a fresh retry budget (the split itself uses none).
   */
  private async processBatch(shard: ShardState, batch: DynamoDBRecord[]): Promise<void> {
    const pending: DynamoDBRecord[][] = [batch];
    const maximumRetries = this.maximumRetries();
    const retryDelayMs = Math.max(
      10,
      (this.runtime.options.streamRetryDelayMs ?? 500) * this.runtime.timeScale,
    );
    while (pending.length > 0 && !this.runtime.signal.aborted) {
      let current = pending.shift() ?? [];
      let attempts = 0;
      while (current.length > 0 && !this.runtime.signal.aborted) {
        const result = await this.invokeBatch(current);
        attempts += 1;
        if (result.ok) break;
        current = current.slice(result.retryFrom);
        if (this.mapping.bisectBatchOnFunctionError && current.length > 1) {
          const middle = Math.ceil(current.length / 2);
          pending.unshift(current.slice(0, middle), current.slice(middle));
          break;
        }
        if (attempts > maximumRetries) {
          await this.giveUp(shard, current, attempts, result);
          break;
        }
        this.runtime.trace(
          this.mapping,
          `${result.detail}; retry ${attempts}/${maximumRetries} of ${current.length} record(s) of the ` +
            `${this.mapping.sourceName} stream`,
          this.runtime.correlationIdOf({ Records: current }),
        );
        await pause(retryDelayMs, this.runtime.signal);
      }
    }
  }

  private async invokeBatch(records: DynamoDBRecord[]): Promise<BatchResult> {
    const { mapping, runtime, stats } = this;
    const event = { Records: records };
    const duplicate = wantsDuplicate(
      runtime.options.duplicateDelivery,
      targetsOf(mapping, sourceNameOf(mapping)),
      records.map((record) => runtime.correlationIdOf({ Records: [record] })),
    );
    const deliver = () => {
      stats.invocations += 1;
      return invokeSafely(runtime.options.invoker, mapping.functionName, event);
    };
    if (duplicate) stats.duplicatedBatches += 1;
    // Both copies overlap; the first one's outcome decides whether the shard moves on or retries.
    const [outcome] = await Promise.all(duplicate ? [deliver(), deliver()] : [deliver()]);
    if (!outcome.ok) {
      stats.failedInvocations += 1;
      return {
        ok: false,
        retryFrom: 0,
        functionError: 'Unhandled',
        detail: `${outcome.error.errorType}: ${outcome.error.errorMessage}`,
      };
    }
    const failures = mapping.reportBatchItemFailures ? reportedFailures(outcome.payload) : undefined;
    if (!failures || failures.length === 0) return { ok: true };
    stats.failedInvocations += 1;
    const sequenceNumbers = records.map((record) => record.dynamodb?.SequenceNumber);
    const positions = failures.map((id) => (typeof id === 'string' ? sequenceNumbers.indexOf(id) : -1));
    // An unknown or empty identifier fails the whole batch; otherwise Lambda resumes at the earliest failure.
    const retryFrom = positions.some((position) => position < 0) ? 0 : Math.min(...positions);
    return { ok: false, retryFrom, detail: `${failures.length} record(s) reported as failed` };
  }

  private async giveUp(
    shard: ShardState,
    records: DynamoDBRecord[],
    attempts: number,
    result: Extract<BatchResult, { ok: false }>,
  ): Promise<void> {
    const { mapping, runtime, stats } = this;
    const destination = mapping.onFailureDestination;
    const first = records[0];
    const last = records[records.length - 1];
    const destinationName = destination?.split(':').pop();
    runtime.trace(
      mapping,
      `giving up on ${records.length} record(s) of the ${mapping.sourceName} stream after ${attempts} ` +
        `attempt(s) (${result.detail})` +
        (destination
          ? `; on-failure record sent to ${destinationName}`
          : '; no on-failure destination, skipped'),
      runtime.correlationIdOf({ Records: records }),
    );
    if (!destination) return;
    if (kindOfArn(destination) !== 'sqs') {
      runtime.trace(mapping, `on-failure destination ${destination} is not an SQS queue: not emulated`);
      return;
    }
    // The body Lambda sends to a stream mapping's on-failure destination: where the records are, not the records.
    const body = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: mapping.functionArn,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: attempts,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(result.functionError ? { functionError: result.functionError } : {}),
      },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId: shard.shardId,
        startSequenceNumber: first?.dynamodb?.SequenceNumber,
        endSequenceNumber: last?.dynamodb?.SequenceNumber,
        approximateArrivalOfFirstRecord: arrivalOf(first),
        approximateArrivalOfLastRecord: arrivalOf(last),
        batchSize: records.length,
        streamArn: mapping.eventSourceArn,
      },
    };
    // Lambda sends the on-failure record as the function's role.
    await authorizeAs(runtime, mapping, 'sqs:SendMessage', destination);
    await runtime.options.sqsClient.send(
      new SendMessageCommand({
        QueueUrl: await runtime.queueUrlOf(destination),
        MessageBody: JSON.stringify(body),
      }),
    );
    stats.sentToOnFailure += 1;
  }
}
