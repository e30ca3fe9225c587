import type { SQSClient } from '@aws-sdk/client-sqs';
import type { CorrelationIdOf } from '../correlation.js';
import type { LambdaInvoker } from '../stepfunctions-engine.js';
import type { CfnTemplate, ResolveContext } from '../template.js';

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
  /** SQS's `SenderId` of a received message, by its id, when the local cloud knows who sent it. */
  senderIdOf?: (messageId: string | undefined) => string | undefined;
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
  /**
   * Asked before each call a poller makes for a mapping, as the function's role (Lambda polls with the
   * function's execution role); rejects when the role does not allow it. Everything is allowed without it.
   */
  authorize?: (functionName: string, action: string, resource: string) => Promise<void>;
}

export interface RunningEventSources {
  mappings: EventSourceMappingConfig[];
  stats(): Record<string, EventSourceStats>;
  /** Stops polling; waits for invocations in flight. Stop this before the Lambda runner. */
  stop(): Promise<void>;
}

export const SQS_DEFAULT_BATCH_SIZE = 10;
export const STREAM_DEFAULT_BATCH_SIZE = 100;
// Lambda polls a shard with up to this many records per GetRecords.
export const STREAM_GET_RECORDS_LIMIT = 1000;
export const SHARD_REFRESH_INTERVAL_MS = 5000;
export const POLL_ERROR_BACKOFF_MS = 1000;
// physicalNames() puts this placeholder in StreamArn until the table exists.
export const PLACEHOLDER_STREAM_SUFFIX = '/stream/1970-01-01T00:00:00.000';
