import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { LambdaInvokeOutcome } from '../stepfunctions-engine.js';
import { isRecord } from '../template.js';
import { passesFilters } from './filter-patterns.js';
import { sqsRecordOf } from './records.js';
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
import { type EventSourceMappingConfig, type EventSourceStats, POLL_ERROR_BACKOFF_MS } from './types.js';

// Filters see the body as JSON when it is JSON, as Lambda does.
function sqsFilterView(record: SQSRecord): Record<string, unknown> {
  try {
    const body: unknown = JSON.parse(record.body);
    return { ...record, body: isRecord(body) ? body : record.body };
  } catch {
    return { ...record };
  }
}

/** Receipt handles to delete after an invocation, following Lambda's rules for SQS. */
function sqsDeletable(
  records: SQSRecord[],
  outcome: LambdaInvokeOutcome,
  reportBatchItemFailures: boolean,
): SQSRecord[] {
  // A failed invocation deletes nothing: the messages come back after their visibility timeout.
  if (!outcome.ok) return [];
  const failures = reportBatchItemFailures ? reportedFailures(outcome.payload) : undefined;
  if (!failures || failures.length === 0) return records;
  const ids = new Set(records.map((record) => record.messageId));
  // An identifier that is empty or not in the batch makes Lambda treat the whole batch as failed.
  if (failures.some((id) => typeof id !== 'string' || !ids.has(id))) return [];
  const failed = new Set(failures);
  return records.filter((record) => !failed.has(record.messageId));
}

export class SqsPoller {
  private queueUrl = '';
  private queueName: string;

  constructor(
    private readonly mapping: EventSourceMappingConfig,
    private readonly runtime: Runtime,
    private readonly stats: EventSourceStats,
  ) {
    this.queueName = mapping.eventSourceArn.split(':').pop() ?? '';
  }

  async run(): Promise<void> {
    const { signal } = this.runtime;
    while (!signal.aborted) {
      try {
        if (!this.queueUrl) {
          // Lambda reads the queue's attributes (its visibility timeout) before it polls.
          await authorizeAs(
            this.runtime,
            this.mapping,
            'sqs:GetQueueAttributes',
            this.mapping.eventSourceArn,
          );
          this.queueUrl = await this.runtime.queueUrlOf(this.mapping.eventSourceArn);
        }
        const messages = await this.receiveBatch();
        if (messages.length > 0) await this.deliver(messages);
      } catch (error) {
        if (signal.aborted) break;
        this.stats.pollErrors += 1;
        this.runtime.trace(this.mapping, `polling ${this.queueName} failed: ${errorMessage(error)}`);
        await pause(POLL_ERROR_BACKOFF_MS, signal);
      }
    }
  }

  private async receive(maxMessages: number, waitSeconds: number): Promise<Message[]> {
    await authorizeAs(this.runtime, this.mapping, 'sqs:ReceiveMessage', this.mapping.eventSourceArn);
    const response = await this.runtime.options.sqsClient.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: Math.min(10, Math.max(1, maxMessages)),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.runtime.signal },
    );
    return response.Messages ?? [];
  }

  /** Long-polls for the first messages, then fills the batch until BatchSize or the batching window. */
  private async receiveBatch(): Promise<Message[]> {
    const { batchSize, maximumBatchingWindowSeconds } = this.mapping;
    const waitSeconds = this.runtime.options.sqsWaitTimeSeconds ?? 1;
    const batch = await this.receive(batchSize, waitSeconds);
    if (batch.length === 0) return batch;
    const deadline = Date.now() + maximumBatchingWindowSeconds * 1000 * this.runtime.timeScale;
    while (batch.length < batchSize && Date.now() < deadline && !this.runtime.signal.aborted) {
      const remainingMs = deadline - Date.now();
      // WaitTimeSeconds is whole seconds: below one, short-poll and nap instead of overshooting the window.
      const wait = Math.min(waitSeconds, Math.floor(remainingMs / 1000));
      const more = await this.receive(batchSize - batch.length, wait);
      batch.push(...more);
      if (more.length === 0 && wait === 0) await pause(Math.min(100, remainingMs), this.runtime.signal);
    }
    return batch;
  }

  private async deliver(messages: Message[]): Promise<void> {
    const { mapping, runtime, stats } = this;
    const all = messages.map((message) =>
      sqsRecordOf(
        message,
        mapping.eventSourceArn,
        runtime.region,
        runtime.options.senderIdOf?.(message.MessageId),
      ),
    );
    const records = all.filter((record) => passesFilters(mapping.filterPatterns, sqsFilterView(record)));
    const filteredOut = all.filter((record) => !records.includes(record));
    if (filteredOut.length > 0) {
      // Lambda deletes messages its filters reject.
      stats.filteredOut += filteredOut.length;
      await this.delete(filteredOut);
    }
    if (records.length === 0) return;

    const event = { Records: records };
    const duplicate = wantsDuplicate(
      runtime.options.duplicateDelivery,
      targetsOf(mapping, sourceNameOf(mapping)),
      records.map((record) => runtime.correlationIdOf({ Records: [record] })),
    );
    const correlationId = runtime.correlationIdOf(event);
    if (duplicate) {
      stats.duplicatedBatches += 1;
      runtime.trace(
        mapping,
        `delivering ${records.length} message(s) of ${this.queueName} twice at once (duplicate-delivery)`,
        correlationId,
      );
    }
    // Both copies overlap, as when a message's visibility times out while its first delivery still runs; the
    // first copy's outcome decides what is deleted (a delete of the same message by both would be a no-op).
    const [outcome] = await Promise.all(
      duplicate ? [this.invoke(event), this.invoke(event)] : [this.invoke(event)],
    );
    const deletable = sqsDeletable(records, outcome, mapping.reportBatchItemFailures);
    const kept = records.length - deletable.length;
    if (kept > 0) {
      // The function's own failure is on its invocation line; what follows from it is the queue's business.
      runtime.trace(
        mapping,
        `${kept} of ${records.length} message(s) ${outcome.ok ? 'reported failed' : 'not handled'}: back on ` +
          `${this.queueName} after the visibility timeout`,
        correlationId,
      );
    }
    await this.delete(deletable);
  }

  private async invoke(event: { Records: SQSRecord[] }): Promise<LambdaInvokeOutcome> {
    this.stats.invocations += 1;
    const outcome = await invokeSafely(this.runtime.options.invoker, this.mapping.functionName, event);
    if (!outcome.ok) this.stats.failedInvocations += 1;
    return outcome;
  }

  private async delete(records: SQSRecord[]): Promise<void> {
    if (records.length > 0)
      await authorizeAs(this.runtime, this.mapping, 'sqs:DeleteMessage', this.mapping.eventSourceArn);
    for (let index = 0; index < records.length; index += 10) {
      const chunk = records.slice(index, index + 10);
      const response = await this.runtime.options.sqsClient.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((record, position) => ({
            Id: String(position),
            ReceiptHandle: record.receiptHandle,
          })),
        }),
      );
      this.stats.deletedMessages += response.Successful?.length ?? 0;
      for (const failed of response.Failed ?? []) {
        this.runtime.trace(
          this.mapping,
          `deleting a message of ${this.queueName} failed: ${failed.Code} ${failed.Message ?? ''}`,
        );
      }
    }
  }
}
