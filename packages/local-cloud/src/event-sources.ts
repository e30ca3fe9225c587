import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { noCorrelation } from './correlation.js';
import { DUMMY_CREDENTIALS } from './emulator-credentials.js';
import { eventSourceMappingsFromTemplate, findResource } from './event-sources/mappings.js';
import { emptyStats, type Runtime, sourceNameOf, targetsOf } from './event-sources/runtime.js';
import { SqsPoller } from './event-sources/sqs-poller.js';
import { StreamPoller } from './event-sources/stream-poller.js';
import {
  type EventSourceMappingConfig,
  type EventSourceStats,
  type EventSourcesOptions,
  PLACEHOLDER_STREAM_SUFFIX,
  type RunningEventSources,
} from './event-sources/types.js';
import type { FaultTargetEntry } from './faults.js';

export { matchesFilterPattern } from './event-sources/filter-patterns.js';
export { eventSourceMappingsFromTemplate } from './event-sources/mappings.js';
export { dynamodbRecordOf, sqsRecordOf } from './event-sources/records.js';
export type {
  DuplicateDeliveryHook,
  EventSourceKind,
  EventSourceMappingConfig,
  EventSourceStats,
  EventSourcesOptions,
  EventSourceTrace,
  RunningEventSources,
} from './event-sources/types.js';

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

/**
 * What a duplicate-delivery fault may name for each polled mapping (the names its hook is asked with): the
 * function, the queue or table by name and logical id, the mapping's logical id.
 */
export function eventSourceFaultTargets(mappings: readonly EventSourceMappingConfig[]): FaultTargetEntry[] {
  return mappings
    .filter((mapping) => mapping.enabled && mapping.kind !== 'unsupported')
    .flatMap((mapping) => targetsOf(mapping, sourceNameOf(mapping)))
    .map((target) => ({ target, modes: ['duplicate-delivery'] as const }));
}

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
