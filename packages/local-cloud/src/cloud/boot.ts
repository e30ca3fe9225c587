import type { SQSClient } from '@aws-sdk/client-sqs';
import type { CloudAssembly } from '../assembly.js';
import { ensureCloudAssembly, readAssembly } from '../assembly.js';
import { startInterceptingProxy } from '../aws-calls/http-front.js';
import type { LocalCloudOptions } from '../cloud.js';
import {
  createTablesFromTemplate,
  type DynamoDbLocal,
  startDynamoDbLocal,
  tableAttributes,
} from '../dynamodb.js';
import { findFreePort } from '../ports.js';
import {
  type CreatedQueue,
  createQueuesFromTemplate,
  createSqsClient,
  type SqsLocal,
  startSqsLocal,
} from '../sqs.js';
import { startSqsMoveTaskProxy } from '../sqs-move-tasks.js';
import {
  type CfnTemplate,
  createResolveContext,
  loadTemplate,
  type PhysicalNames,
  physicalNames,
  type ResolveContext,
  resolveIntrinsics,
  withAttributes,
} from '../template.js';
import type { Tracer } from '../trace.js';

type Started = <T extends { stop(): Promise<void> }>(service: Promise<T>) => Promise<T>;

/** The synthesized app and the emulators it runs on, each registered with `started` as soon as it is up. */
export async function bootEmulators(options: LocalCloudOptions, tracer: Tracer, started: Started) {
  const [assembly, dynamodb, sqs, sfnPort] = await Promise.all([
    options.assemblyDir
      ? Promise.resolve(readAssembly(options.assemblyDir))
      : ensureCloudAssembly(options.projectRoot, {
          force: options.forceSynth,
          log: tracer.info,
          sources: options.synthSources,
        }),
    started(startDynamoDbLocal()),
    started(startSqsLocal()),
    findFreePort(),
  ]);
  // Everything SQS goes through the proxy, which adds the DLQ redrive API fauxqs lacks; queue URLs carry
  // its address, so the SDK sees one endpoint.
  const sqsProxy = await started(startSqsMoveTaskProxy({ sqsEndpoint: sqs.endpoint, client: sqs.client }));
  const sqsClient = createSqsClient(sqsProxy.endpoint);
  // The functions reach DynamoDB Local through this proxy, where the AWS-call interception layer sits.
  const dynamodbProxy = await started(
    startInterceptingProxy(dynamodb.endpoint, (error) => ({
      __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
      message: `DynamoDB Local is unreachable: ${error.message}`,
    })),
  );
  return { assembly, dynamodb, dynamodbProxy, sqs, sfnPort, sqsProxy, sqsClient };
}

/** The template's tables and queues, created in the emulators, and the context that resolves its intrinsics. */
export async function createTemplateResources(
  assembly: CloudAssembly,
  dynamodb: DynamoDbLocal,
  sqsClient: SQSClient,
  sqsEndpoint: string,
  timeScale: number | undefined,
): Promise<{ template: CfnTemplate; names: PhysicalNames; ctx: ResolveContext; queues: CreatedQueue[] }> {
  const template = loadTemplate(assembly.templatePath);
  const nameOptions = { stackName: assembly.stackName, sqsEndpoint };
  let names = physicalNames(template, nameOptions);
  const bootstrapContext = createResolveContext(names, { ...nameOptions, template });
  const [tables, queues] = await Promise.all([
    createTablesFromTemplate(dynamodb.client, template, names, bootstrapContext),
    createQueuesFromTemplate(sqsClient, template, names, bootstrapContext, {
      timeScale,
    }),
  ]);
  names = withAttributes(names, tableAttributes(tables));
  const ctx = createResolveContext(names, { ...nameOptions, template });
  return { template, names, ctx, queues };
}

export function resolvedOutputs(template: CfnTemplate, ctx: ResolveContext): Record<string, string> {
  return Object.fromEntries(
    Object.entries(template.Outputs ?? {}).map(([name, output]) => [
      name,
      String(resolveIntrinsics((output as { Value: unknown }).Value, ctx)),
    ]),
  );
}

/** Traces SQS's moves to a dead-letter queue: the queue, its DLQ, and what the message was about. */
export function traceDeadLetters(tracer: Tracer, sqs: SqsLocal, queues: CreatedQueue[]): () => void {
  const byName = new Map(queues.map((queue) => [queue.queueName, queue]));
  return sqs.onDeadLetter((moved) => {
    const queue = byName.get(moved.queueName);
    tracer.deadLetter(
      tracer.correlationIdOf({ Records: [{ body: moved.body }] }),
      moved.queueName,
      queue?.deadLetterQueueName ?? 'its dead-letter queue',
      queue?.maxReceiveCount,
    );
  });
}
