import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { interceptLocalhostDns, type SqsSpyMessage, startFauxqs } from 'fauxqs';
import { DUMMY_CREDENTIALS } from './emulator-credentials.js';
import {
  type CfnTemplate,
  createResolveContext,
  DEFAULT_REGION,
  isRecord,
  type PhysicalNames,
  type ResolveContext,
  resolveProperties,
  resourcesOfType,
} from './template.js';

export interface SqsLocal {
  // Same host as the queue URLs fauxqs hands out: the SDK sends each request to its QueueUrl's host anyway.
  endpoint: string;
  port: number;
  startupMs: number;
  client: SQSClient;
  // Variables a handler process needs besides region and credentials.
  handlerEnvironment: Record<string, string>;
  /**
   * Calls `listener` whenever the emulator moves a message to a dead-letter queue (on the receive after its
   * maxReceiveCount-th). Returns what unsubscribes.
   */
  onDeadLetter(listener: (moved: DeadLetteredMessage) => void): () => void;
  stop(): Promise<void>;
}

export interface DeadLetteredMessage {
  // The queue the message left.
  queueName: string;
  messageId: string;
  body: string;
}

export interface StartSqsOptions {
  port?: number;
  region?: string;
}

/**
 * Starts fauxqs in this process. It always binds 0.0.0.0; port 0 lets the OS pick, which avoids the race of
 * probing a free port first. Queue URLs use the host sqs.<region>.localhost, which glibc does not resolve, so
 * dns.lookup is patched in this process until stop(); other threads and processes must patch their own.
 */
export async function startSqsLocal(options: StartSqsOptions = {}): Promise<SqsLocal> {
  const started = Date.now();
  const region = options.region ?? DEFAULT_REGION;
  // The spy is how fauxqs tells of its DLQ moves; its buffer only has to bridge one wait to the next.
  const server = await startFauxqs({
    port: options.port ?? 0,
    logger: false,
    defaultRegion: region,
    messageSpies: { bufferSize: 100 },
  });
  const restoreDns = interceptLocalhostDns();
  const endpoint = `http://sqs.${region}.localhost:${server.port}`;
  const client = createSqsClient(endpoint, region);
  let stopped = false;
  const listeners = new Set<(moved: DeadLetteredMessage) => void>();
  let watching = false;
  const watchDeadLetters = async () => {
    // Each spy message is an object of its own: remembering the ones seen lets each wait start from the buffer.
    const seen = new WeakSet<object>();
    while (!stopped) {
      const moved = await server.spy
        .waitForMessage((message) => message.service === 'sqs' && !seen.has(message), 'dlq')
        .catch(() => undefined);
      if (!moved || stopped) return;
      seen.add(moved);
      const { queueName, messageId, body } = moved as SqsSpyMessage;
      for (const listener of listeners) listener({ queueName, messageId, body });
    }
  };
  return {
    endpoint,
    port: server.port,
    startupMs: Date.now() - started,
    client,
    handlerEnvironment: { AWS_ENDPOINT_URL_SQS: endpoint },
    onDeadLetter: (listener) => {
      listeners.add(listener);
      if (!watching) {
        watching = true;
        void watchDeadLetters();
      }
      return () => listeners.delete(listener);
    },
    stop: async () => {
      if (stopped) {
        return;
      }
      stopped = true;
      // Ends the pending wait of watchDeadLetters.
      server.spy.clear();
      client.destroy();
      restoreDns();
      await server.stop();
    },
  };
}

export function createSqsClient(
  endpoint: string,
  region = DEFAULT_REGION,
  accessKeyId = DUMMY_CREDENTIALS.accessKeyId,
): SQSClient {
  return new SQSClient({ endpoint, region, credentials: { ...DUMMY_CREDENTIALS, accessKeyId } });
}

const PASSED_THROUGH_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
  // Policies arrive as objects from the template; the API takes them as JSON text like any other value.
  'RedrivePolicy',
  'RedriveAllowPolicy',
] as const;

function attributeText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** CreateQueue attributes from resolved AWS::SQS::Queue properties (attribute values are strings in the API). */
export function queueAttributes(properties: Record<string, unknown>): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const name of PASSED_THROUGH_ATTRIBUTES) {
    const value = properties[name];
    if (value !== undefined) {
      attributes[name] = attributeText(value);
    }
  }
  // The API rejects FifoQueue=false on standard queues.
  if (attributes.FifoQueue === 'false') {
    delete attributes.FifoQueue;
  }
  return attributes;
}

function scaledVisibility(attributes: Record<string, string>, timeScale: number): Record<string, string> {
  if (attributes.VisibilityTimeout === undefined || timeScale === 1) return attributes;
  // SQS takes whole seconds; a visibility of zero would redeliver a message while it is being handled.
  return {
    ...attributes,
    VisibilityTimeout: String(Math.max(1, Math.ceil(Number(attributes.VisibilityTimeout) * timeScale))),
  };
}

function redrivePolicyOf(properties: Record<string, unknown>): Record<string, unknown> | undefined {
  const policy = properties.RedrivePolicy;
  const parsed: unknown = typeof policy === 'string' ? JSON.parse(policy) : policy;
  return isRecord(parsed) ? parsed : undefined;
}

function deadLetterTargetArn(properties: Record<string, unknown>): string | undefined {
  const target = redrivePolicyOf(properties)?.deadLetterTargetArn;
  return typeof target === 'string' ? target : undefined;
}

export interface CreatedQueue {
  logicalId: string;
  queueName: string;
  queueUrl: string;
  queueArn: string;
  // From RedrivePolicy: where SQS moves a message received more than maxReceiveCount times.
  deadLetterQueueName?: string;
  maxReceiveCount?: number;
}

/**
 * Creates every AWS::SQS::Queue, dead-letter queues before the queues that redrive to them.
 * Throws when the emulator's URL differs from the one physicalNames() predicted, since Refs already carry it.
 */
export async function createQueuesFromTemplate(
  client: SQSClient,
  template: CfnTemplate,
  names: PhysicalNames,
  ctx?: ResolveContext,
  // Visibility timeouts are waits like any other: the local cloud's time scale shortens them too.
  options: { timeScale?: number } = {},
): Promise<CreatedQueue[]> {
  const context = ctx ?? createResolveContext(names, { stackName: 'local', template });
  const pending = resourcesOfType(template, 'AWS::SQS::Queue').map(([logicalId]) => ({
    logicalId,
    properties: resolveProperties(template, logicalId, context),
  }));
  const created: CreatedQueue[] = [];
  const createdArns = new Set<string>();
  const arnsInTemplate = new Set(pending.map(({ logicalId }) => names[logicalId]?.attributes.Arn));

  while (pending.length > 0) {
    // A queue is ready once its DLQ exists or the DLQ lives outside this template.
    const readyIndex = pending.findIndex(({ properties }) => {
      const target = deadLetterTargetArn(properties);
      return target === undefined || createdArns.has(target) || !arnsInTemplate.has(target);
    });
    if (readyIndex < 0) {
      throw new Error(`Redrive cycle between queues ${pending.map(({ logicalId }) => logicalId).join(', ')}`);
    }
    const [next] = pending.splice(readyIndex, 1);
    if (!next) {
      break;
    }
    const physical = names[next.logicalId];
    if (!physical) {
      throw new Error(`No physical name for queue ${next.logicalId}`);
    }
    const queueName = physical.attributes.QueueName ?? physical.ref;
    const response = await client.send(
      new CreateQueueCommand({
        QueueName: queueName,
        Attributes: scaledVisibility(queueAttributes(next.properties), options.timeScale ?? 1),
      }),
    );
    const queueUrl = response.QueueUrl ?? '';
    if (queueUrl !== physical.ref) {
      throw new Error(
        `Queue ${next.logicalId}: emulator URL ${queueUrl} differs from the predicted ${physical.ref}; ` +
          'pass sqsEndpoint (SqsLocal.endpoint) to physicalNames()',
      );
    }
    const arnResponse = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    const queueArn = arnResponse.Attributes?.QueueArn ?? physical.attributes.Arn ?? '';
    createdArns.add(queueArn);
    const deadLetterArn = deadLetterTargetArn(next.properties);
    const maxReceiveCount = Number(redrivePolicyOf(next.properties)?.maxReceiveCount);
    created.push({
      logicalId: next.logicalId,
      queueName,
      queueUrl,
      queueArn,
      ...(deadLetterArn ? { deadLetterQueueName: deadLetterArn.split(':').pop() } : {}),
      ...(Number.isFinite(maxReceiveCount) ? { maxReceiveCount } : {}),
    });
  }
  return created;
}
