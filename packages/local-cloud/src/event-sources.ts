import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type AttributeValue as SdkAttributeValue,
  type _Record as SdkStreamRecord,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import {
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  DynamoDBRecord,
  AttributeValue as LambdaAttributeValue,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
  StreamRecord,
} from 'aws-lambda';
import { type CorrelationIdOf, noCorrelation } from './correlation.js';
import { DUMMY_CREDENTIALS } from './net.js';
import type { LambdaInvokeOutcome, LambdaInvoker } from './stepfunctions-engine.js';
import {
  type CfnTemplate,
  constructIdOf,
  isRecord,
  type PhysicalResource,
  type ResolveContext,
  resolveProperties,
  resourcesOfType,
} from './template.js';

/**
 * The local equivalent of AWS::Lambda::EventSourceMapping for SQS queues and DynamoDB streams: pollers that
 * build the events Lambda builds, invoke through a LambdaInvoker (so faults and traces apply) and settle the
 * source the way Lambda does (delete messages, checkpoint shards, retry, bisect, on-failure destinations).
 *
 * Deliberate differences from AWS:
 * - One SQS poller per mapping by default (sqsPollersPerMapping), so ScalingConfig.MaximumConcurrency only caps.
 * - A stream mapping without MaximumRetryAttempts retries 3 times, not until the records expire: a poison record
 *   would otherwise block its shard for the whole session. MaximumRecordAgeInSeconds is ignored.
 * - Bisection gives each half a fresh retry budget; batching windows and retry pauses follow timeScale.
 * - On-failure destinations other than SQS queues (SNS, S3) are traced and skipped.
 */

export type EventSourceKind = 'sqs' | 'dynamodb-stream' | 'unsupported';

export interface EventSourceMappingConfig {
  logicalId: string;
  /** What the trace calls the mapping: its function's construct id ('ShippingWorker'). */
  label: string;
  /** The queue's or table's name, for the trace. */
  sourceName: string;
  kind: EventSourceKind;
  enabled: boolean;
  /** As resolved from FunctionName: usually the function's name (Ref), sometimes its ARN. */
  functionName: string;
  functionArn: string;
  functionLogicalId?: string;
  eventSourceArn: string;
  /** Logical id of the queue or table the mapping reads, when it is in this template. */
  sourceLogicalId?: string;
  batchSize: number;
  maximumBatchingWindowSeconds: number;
  /** Parsed FilterCriteria.Filters[].Pattern; a record passes when any matches (or when there are none). */
  filterPatterns: Record<string, unknown>[];
  reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency (SQS only). */
  maximumConcurrency?: number;
  startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /** As in the template; -1 or absent means "until the record expires" on AWS. */
  maximumRetryAttempts?: number;
  bisectBatchOnFunctionError: boolean;
  onFailureDestination?: string;
}

export interface EventSourceStats {
  /** Batches handed to the function, counting retries and duplicates. */
  invocations: number;
  failedInvocations: number;
  /** Records dropped by FilterCriteria (SQS messages are deleted, stream records skipped). */
  filteredOut: number;
  /** SQS only. */
  deletedMessages: number;
  /** Streams only: batches given up on after their retries. */
  sentToOnFailure: number;
  duplicatedBatches: number;
  pollErrors: number;
}

export type DuplicateDeliveryHook = (
  targets: readonly string[],
  correlationId: string | undefined,
) => boolean;

/** A notable thing a mapping did or met: redelivery ahead, a poll error, records given up on. */
export interface EventSourceTrace {
  /** The mapping's label (its function's construct id). */
  mapping: string;
  /** What the batch's first record is about, when correlationIdOf tells it. */
  correlationId?: string;
  message: string;
}

export interface EventSourcesOptions {
  template: CfnTemplate;
  /** Built after the tables exist (withAttributes + tableAttributes), so GetAtt StreamArn is the real ARN. */
  ctx: ResolveContext;
  invoker: LambdaInvoker;
  sqsClient: SQSClient;
  /** DynamoDB Local's endpoint; needed only when the template maps a stream. */
  dynamodbEndpoint?: string;
  /** Defaults to ctx.region. */
  region?: string;
  /** Multiplies batching windows and stream retry delays, like every other period of the local cloud. */
  timeScale?: number;
  /** Asked once per batch before the first invocation; true delivers the batch twice (at-least-once). */
  duplicateDelivery?: DuplicateDeliveryHook;
  onTrace?: (trace: EventSourceTrace) => void;
  /** What a record is about, for the trace and duplicate-delivery faults; see CorrelationIdOf. */
  correlationIdOf?: CorrelationIdOf;
  /** ReceiveMessage long-poll time; also bounds how long an SQS poller takes to notice stop(). Default 1. */
  sqsWaitTimeSeconds?: number;
  /** Pollers per SQS mapping, further capped by MaximumConcurrency. Default 1. */
  sqsPollersPerMapping?: number;
  /** Pause between GetRecords rounds that returned nothing. Default 150. */
  streamPollIntervalMs?: number;
  /** Used when a stream mapping leaves MaximumRetryAttempts unset or -1 (AWS: retry until expiry). Default 3. */
  defaultStreamMaximumRetryAttempts?: number;
  /** Pause before retrying a failed stream batch, before timeScale. Default 500. */
  streamRetryDelayMs?: number;
}

export interface RunningEventSources {
  mappings: EventSourceMappingConfig[];
  stats(): Record<string, EventSourceStats>;
  /** Stops polling; waits for invocations in flight. Stop this before the Lambda runner. */
  stop(): Promise<void>;
}

const SQS_DEFAULT_BATCH_SIZE = 10;
const STREAM_DEFAULT_BATCH_SIZE = 100;
// Lambda polls a shard with up to this many records per GetRecords.
const STREAM_GET_RECORDS_LIMIT = 1000;
const SHARD_REFRESH_INTERVAL_MS = 5000;
const POLL_ERROR_BACKOFF_MS = 1000;
// physicalNames() puts this placeholder in StreamArn until the table exists.
const PLACEHOLDER_STREAM_SUFFIX = '/stream/1970-01-01T00:00:00.000';

// ---------------------------------------------------------------------------------------------------------
// Mappings from the template

function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

function booleanOf(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  return undefined;
}

function kindOfArn(arn: string): EventSourceKind {
  if (arn.startsWith('arn:') && arn.split(':')[2] === 'sqs') return 'sqs';
  if (/^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\//.test(arn)) return 'dynamodb-stream';
  return 'unsupported';
}

function findResource(
  ctx: ResolveContext,
  type: string,
  matches: (resource: PhysicalResource) => boolean,
): [string, PhysicalResource] | undefined {
  return Object.entries(ctx.resources).find(([, resource]) => resource.type === type && matches(resource));
}

function filterPatternsOf(logicalId: string, filterCriteria: unknown): Record<string, unknown>[] {
  const filters =
    isRecord(filterCriteria) && Array.isArray(filterCriteria.Filters) ? filterCriteria.Filters : [];
  return filters.map((filter, index) => {
    const source = isRecord(filter) ? filter.Pattern : undefined;
    const pattern: unknown = typeof source === 'string' ? JSON.parse(source) : source;
    if (!isRecord(pattern)) {
      throw new Error(`${logicalId}: FilterCriteria.Filters[${index}].Pattern is not a JSON object`);
    }
    return pattern;
  });
}

/** Every AWS::Lambda::EventSourceMapping of the template, resolved and with AWS defaults filled in. */
export function eventSourceMappingsFromTemplate(
  template: CfnTemplate,
  ctx: ResolveContext,
): EventSourceMappingConfig[] {
  return resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').map(([logicalId]) => {
    const properties = resolveProperties(template, logicalId, ctx);
    const functionName = String(properties.FunctionName ?? '');
    const eventSourceArn = String(properties.EventSourceArn ?? '');
    const kind = kindOfArn(eventSourceArn);
    const functionEntry = findResource(
      ctx,
      'AWS::Lambda::Function',
      (resource) => resource.ref === functionName || resource.attributes.Arn === functionName,
    );
    const source =
      kind === 'sqs'
        ? findResource(ctx, 'AWS::SQS::Queue', (resource) => resource.attributes.Arn === eventSourceArn)
        : findResource(
            ctx,
            'AWS::DynamoDB::Table',
            (resource) => resource.attributes.StreamArn === eventSourceArn,
          );
    const scaling = isRecord(properties.ScalingConfig) ? properties.ScalingConfig : {};
    const destination = isRecord(properties.DestinationConfig) ? properties.DestinationConfig : {};
    const onFailure = isRecord(destination.OnFailure) ? destination.OnFailure.Destination : undefined;
    const responseTypes = Array.isArray(properties.FunctionResponseTypes)
      ? properties.FunctionResponseTypes
      : [];
    const startingPosition = properties.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON';
    return {
      logicalId,
      label: functionEntry ? constructIdOf(template, functionEntry[0]) : logicalId,
      sourceName:
        (kind === 'dynamodb-stream' ? eventSourceArn.split('/')[1] : eventSourceArn.split(':').pop()) ||
        eventSourceArn,
      kind,
      enabled: booleanOf(properties.Enabled) ?? true,
      functionName,
      functionArn: functionEntry?.[1].attributes.Arn ?? functionName,
      functionLogicalId: functionEntry?.[0],
      eventSourceArn,
      sourceLogicalId: source?.[0],
      batchSize:
        numberOf(properties.BatchSize) ??
        (kind === 'sqs' ? SQS_DEFAULT_BATCH_SIZE : STREAM_DEFAULT_BATCH_SIZE),
      maximumBatchingWindowSeconds: numberOf(properties.MaximumBatchingWindowInSeconds) ?? 0,
      filterPatterns: filterPatternsOf(logicalId, properties.FilterCriteria),
      reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
      maximumConcurrency: numberOf(scaling.MaximumConcurrency),
      startingPosition: kind === 'dynamodb-stream' ? startingPosition : undefined,
      maximumRetryAttempts: numberOf(properties.MaximumRetryAttempts),
      bisectBatchOnFunctionError: booleanOf(properties.BisectBatchOnFunctionError) ?? false,
      onFailureDestination: typeof onFailure === 'string' ? onFailure : undefined,
    };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Content filtering: the EventBridge pattern subset Lambda filters accept (what CDK's FilterRule produces,
// plus suffix, equals-ignore-case, wildcard and $or).

const NUMERIC_OPERATORS: Record<string, (value: number, bound: number) => boolean> = {
  '=': (value, bound) => value === bound,
  '<': (value, bound) => value < bound,
  '<=': (value, bound) => value <= bound,
  '>': (value, bound) => value > bound,
  '>=': (value, bound) => value >= bound,
};

function matchesNumeric(conditions: unknown, candidate: unknown): boolean {
  // DynamoDB numbers arrive as strings ({"N": "5"}): Lambda compares them numerically all the same.
  const value = typeof candidate === 'number' ? candidate : numberOf(candidate);
  if (value === undefined || !Array.isArray(conditions) || conditions.length % 2 !== 0) return false;
  for (let index = 0; index < conditions.length; index += 2) {
    const operator = conditions[index];
    const bound = numberOf(conditions[index + 1]);
    if (bound === undefined) return false;
    const compare = typeof operator === 'string' ? NUMERIC_OPERATORS[operator] : undefined;
    if (!compare?.(value, bound)) return false;
  }
  return true;
}

function matchesText(rule: unknown, candidate: unknown, test: (text: string, wanted: string) => boolean) {
  if (typeof candidate !== 'string') return false;
  if (typeof rule === 'string') return test(candidate, rule);
  if (isRecord(rule) && typeof rule['equals-ignore-case'] === 'string') {
    return test(candidate.toLowerCase(), rule['equals-ignore-case'].toLowerCase());
  }
  return false;
}

function matchesWildcard(rule: unknown, candidate: unknown): boolean {
  if (typeof rule !== 'string' || typeof candidate !== 'string') return false;
  const source = rule
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(candidate);
}

function matchesValue(matcher: unknown, candidate: unknown): boolean {
  if (candidate === undefined) return false;
  if (matcher === null) return candidate === null;
  if (typeof matcher !== 'object') return candidate === matcher;
  if (!isRecord(matcher)) return false;
  if ('prefix' in matcher)
    return matchesText(matcher.prefix, candidate, (text, wanted) => text.startsWith(wanted));
  if ('suffix' in matcher)
    return matchesText(matcher.suffix, candidate, (text, wanted) => text.endsWith(wanted));
  if ('equals-ignore-case' in matcher) {
    return matchesText(matcher, candidate, (text, wanted) => text === wanted);
  }
  if ('numeric' in matcher) return matchesNumeric(matcher.numeric, candidate);
  if ('wildcard' in matcher) return matchesWildcard(matcher.wildcard, candidate);
  if ('anything-but' in matcher) {
    const excluded = matcher['anything-but'];
    // A list of values, one value, or a {prefix}/{suffix}/... matcher to exclude.
    const exclusions = Array.isArray(excluded) ? excluded : [excluded];
    return !exclusions.some((value) => matchesValue(value, candidate));
  }
  return false;
}

function matchesMatchers(matchers: unknown[], value: unknown): boolean {
  const candidates = Array.isArray(value) ? value : [value];
  return matchers.some((matcher) => {
    if (isRecord(matcher) && 'exists' in matcher) {
      // Lenient where EventBridge is strict: "exists" also accepts objects, e.g. a DynamoDB {"S": ...}.
      return matcher.exists === (value !== undefined);
    }
    return candidates.some((candidate) => matchesValue(matcher, candidate));
  });
}

/** Whether one filter pattern matches an event record (as Lambda sees it: stream record or SQS message). */
export function matchesFilterPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  return Object.entries(pattern).every(([key, rule]) => {
    if (key === '$or') {
      return (
        Array.isArray(rule) && rule.some((branch) => isRecord(branch) && matchesFilterPattern(branch, event))
      );
    }
    const value = isRecord(event) ? event[key] : undefined;
    if (Array.isArray(rule)) return matchesMatchers(rule, value);
    if (isRecord(rule)) return matchesFilterPattern(rule, value);
    return false;
  });
}

function passesFilters(patterns: Record<string, unknown>[], event: unknown): boolean {
  return patterns.length === 0 || patterns.some((pattern) => matchesFilterPattern(pattern, event));
}

// ---------------------------------------------------------------------------------------------------------
// Shared plumbing

interface Runtime {
  options: EventSourcesOptions;
  region: string;
  timeScale: number;
  signal: AbortSignal;
  trace: (mapping: EventSourceMappingConfig, message: string, correlationId?: string) => void;
  correlationIdOf: CorrelationIdOf;
  queueUrlOf(queueArn: string): Promise<string>;
}

function emptyStats(): EventSourceStats {
  return {
    invocations: 0,
    failedInvocations: 0,
    filteredOut: 0,
    deletedMessages: 0,
    sentToOnFailure: 0,
    duplicatedBatches: 0,
    pollErrors: 0,
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function pause(milliseconds: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(milliseconds, undefined, { signal });
  } catch {
    // Aborted: the caller's loop checks the signal.
  }
}

/** Asks the hook once per distinct correlationId of the batch (then without one), stopping at the first yes. */
function wantsDuplicate(
  hook: DuplicateDeliveryHook | undefined,
  targets: readonly string[],
  correlationIds: (string | undefined)[],
): boolean {
  if (!hook) return false;
  const distinct = [
    ...new Set(
      correlationIds.filter((correlationId): correlationId is string => correlationId !== undefined),
    ),
  ];
  return [...distinct, undefined].some((correlationId) => hook(targets, correlationId));
}

function targetsOf(mapping: EventSourceMappingConfig, sourceName: string | undefined): string[] {
  const names = [
    mapping.functionName,
    mapping.functionLogicalId,
    sourceName,
    mapping.sourceLogicalId,
    mapping.logicalId,
  ];
  return [...new Set(names.filter((name): name is string => typeof name === 'string' && name !== ''))];
}

/** The invoker's outcome; a rejection (an unknown function, a stopped runner) counts as a failed invocation. */
async function invokeSafely(
  invoker: LambdaInvoker,
  functionName: string,
  event: unknown,
): Promise<LambdaInvokeOutcome> {
  try {
    return await invoker.invoke(functionName, event);
  } catch (error) {
    return {
      ok: false,
      error: { errorType: 'Lambda.ServiceException', errorMessage: errorMessage(error), trace: [] },
    };
  }
}

/** The identifiers a function reported in { batchItemFailures }; undefined when it reported none. */
function reportedFailures(payload: unknown): unknown[] | undefined {
  if (!isRecord(payload) || !Array.isArray(payload.batchItemFailures)) return undefined;
  return payload.batchItemFailures.map((failure) => (isRecord(failure) ? failure.itemIdentifier : undefined));
}

// ---------------------------------------------------------------------------------------------------------
// SQS

function lambdaMessageAttributes(attributes: Record<string, MessageAttributeValue> | undefined) {
  const converted: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    converted[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }
        : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
      dataType: value.DataType ?? 'String',
    };
  }
  return converted;
}

/** A received message as Lambda puts it in an SQS event. */
export function sqsRecordOf(message: Message, queueArn: string, region: string): SQSRecord {
  const body = message.Body ?? '';
  const system = message.Attributes ?? {};
  const now = String(Date.now());
  const attributes: SQSRecordAttributes = {
    ...system,
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? now,
    SenderId: system.SenderId ?? '000000000000',
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? now,
  };
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body,
    attributes,
    messageAttributes: lambdaMessageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? createHash('md5').update(body).digest('hex'),
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

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

class SqsPoller {
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
        if (!this.queueUrl) this.queueUrl = await this.runtime.queueUrlOf(this.mapping.eventSourceArn);
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
    const all = messages.map((message) => sqsRecordOf(message, mapping.eventSourceArn, runtime.region));
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
      targetsOf(mapping, this.queueName),
      records.map((record) => runtime.correlationIdOf({ Records: [record] })),
    );
    let outcome = await this.invoke(event);
    const correlationId = runtime.correlationIdOf(event);
    if (duplicate) {
      stats.duplicatedBatches += 1;
      runtime.trace(
        mapping,
        `delivering ${records.length} message(s) of ${this.queueName} again (duplicate-delivery)`,
        correlationId,
      );
      // As if the first delivery's deletes were lost: the redelivery's outcome decides what is deleted.
      outcome = await this.invoke(event);
    }
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

// ---------------------------------------------------------------------------------------------------------
// DynamoDB Streams

function lambdaAttributeValue(value: SdkAttributeValue): LambdaAttributeValue {
  // Lambda events carry binary as base64 text; the SDK hands out bytes.
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((item) => Buffer.from(item).toString('base64')) };
  if (value.M !== undefined) return { M: lambdaImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(lambdaAttributeValue) };
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  return { NULL: true };
}

function lambdaImage(image: Record<string, SdkAttributeValue>): Record<string, LambdaAttributeValue> {
  return Object.fromEntries(
    Object.entries(image).map(([name, value]) => [name, lambdaAttributeValue(value)]),
  );
}

/** A stream record as Lambda puts it in a DynamoDB event. */
export function dynamodbRecordOf(record: SdkStreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const source = record.dynamodb ?? {};
  const created = source.ApproximateCreationDateTime;
  const dynamodb: StreamRecord = {
    // Lambda sends epoch seconds; the SDK parses the wire number into a Date.
    ...(created ? { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) } : {}),
    ...(source.Keys ? { Keys: lambdaImage(source.Keys) } : {}),
    ...(source.NewImage ? { NewImage: lambdaImage(source.NewImage) } : {}),
    ...(source.OldImage ? { OldImage: lambdaImage(source.OldImage) } : {}),
    ...(source.SequenceNumber ? { SequenceNumber: source.SequenceNumber } : {}),
    ...(source.SizeBytes !== undefined ? { SizeBytes: source.SizeBytes } : {}),
    ...(source.StreamViewType ? { StreamViewType: source.StreamViewType } : {}),
  };
  return {
    eventID: record.eventID ?? randomUUID().replaceAll('-', ''),
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb,
    eventSourceARN: streamArn,
    ...(record.userIdentity ? { userIdentity: { ...record.userIdentity } } : {}),
  };
}

function arrivalOf(record: DynamoDBRecord | undefined): string | undefined {
  const seconds = record?.dynamodb?.ApproximateCreationDateTime;
  return seconds === undefined ? undefined : new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

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

class StreamPoller {
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
    await this.refreshShards(true);
    for (const shard of this.readableShards()) shard.iterator = await this.iteratorFor(shard);
  }

  private async describeShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
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

  private getRecords(iterator: string) {
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
      targetsOf(mapping, mapping.eventSourceArn.split('/')[1]),
      records.map((record) => runtime.correlationIdOf({ Records: [record] })),
    );
    stats.invocations += 1;
    let outcome = await invokeSafely(runtime.options.invoker, mapping.functionName, event);
    if (duplicate) {
      stats.duplicatedBatches += 1;
      stats.invocations += 1;
      outcome = await invokeSafely(runtime.options.invoker, mapping.functionName, event);
    }
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
    await runtime.options.sqsClient.send(
      new SendMessageCommand({
        QueueUrl: await runtime.queueUrlOf(destination),
        MessageBody: JSON.stringify(body),
      }),
    );
    stats.sentToOnFailure += 1;
  }
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Starts a poller for every enabled SQS and DynamoDB stream mapping of the template. Mappings of other sources
 * (Kinesis, Kafka, MQ) are listed with kind 'unsupported' and not polled. Resolves once stream iterators exist.
 */
export async function startEventSources(options: EventSourcesOptions): Promise<RunningEventSources> {
  const mappings = eventSourceMappingsFromTemplate(options.template, options.ctx);
  const controller = new AbortController();
  const onTrace = options.onTrace ?? (() => undefined);
  const trace = (mapping: EventSourceMappingConfig, message: string, correlationId?: string) =>
    onTrace({ mapping: mapping.label, message, ...(correlationId === undefined ? {} : { correlationId }) });
  const queueUrls = new Map<string, Promise<string>>();
  const runtime: Runtime = {
    options,
    region: options.region ?? options.ctx.region,
    timeScale: options.timeScale ?? 1,
    signal: controller.signal,
    trace,
    correlationIdOf: options.correlationIdOf ?? noCorrelation,
    queueUrlOf: (queueArn) => {
      let url = queueUrls.get(queueArn);
      if (!url) {
        const known = findResource(
          options.ctx,
          'AWS::SQS::Queue',
          (resource) => resource.attributes.Arn === queueArn,
        );
        url = known
          ? Promise.resolve(known[1].ref)
          : options.sqsClient
              .send(new GetQueueUrlCommand({ QueueName: queueArn.split(':').pop() ?? '' }))
              .then((response) => response.QueueUrl ?? '');
        // A failed lookup is retried on the next call rather than cached.
        url.catch(() => queueUrls.delete(queueArn));
        queueUrls.set(queueArn, url);
      }
      return url;
    },
  };
  const stats: Record<string, EventSourceStats> = {};
  const runs: Promise<void>[] = [];
  let streamsClient: DynamoDBStreamsClient | undefined;

  try {
    for (const mapping of mappings) {
      const mappingStats = emptyStats();
      stats[mapping.logicalId] = mappingStats;
      if (!mapping.enabled) {
        trace(mapping, `reading ${mapping.sourceName} is disabled (Enabled: false): not polled`);
        continue;
      }
      if (mapping.kind === 'sqs') {
        const pollers = Math.max(
          1,
          Math.min(mapping.maximumConcurrency ?? Number.POSITIVE_INFINITY, options.sqsPollersPerMapping ?? 1),
        );
        for (let index = 0; index < pollers; index += 1) {
          runs.push(new SqsPoller(mapping, runtime, mappingStats).run());
        }
      } else if (mapping.kind === 'dynamodb-stream') {
        if (mapping.eventSourceArn.endsWith(PLACEHOLDER_STREAM_SUFFIX)) {
          throw new Error(
            `${mapping.logicalId}: ${mapping.eventSourceArn} is the placeholder stream ARN; build the ResolveContext ` +
              'after createTablesFromTemplate() with withAttributes(names, tableAttributes(tables))',
          );
        }
        if (!options.dynamodbEndpoint) {
          throw new Error(`${mapping.logicalId} reads a DynamoDB stream: pass dynamodbEndpoint`);
        }
        streamsClient ??= new DynamoDBStreamsClient({
          endpoint: options.dynamodbEndpoint,
          region: runtime.region,
          credentials: DUMMY_CREDENTIALS,
        });
        const poller = new StreamPoller(mapping, runtime, mappingStats, streamsClient);
        await poller.init();
        runs.push(poller.run());
      } else {
        trace(mapping, `event source ${mapping.eventSourceArn} is not emulated locally`);
      }
    }
  } catch (error) {
    controller.abort();
    await Promise.allSettled(runs);
    streamsClient?.destroy();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    mappings,
    stats: () =>
      Object.fromEntries(Object.entries(stats).map(([logicalId, value]) => [logicalId, { ...value }])),
    stop: () => {
      stopping ??= (async () => {
        controller.abort();
        await Promise.allSettled(runs);
        streamsClient?.destroy();
      })();
      return stopping;
    },
  };
}
