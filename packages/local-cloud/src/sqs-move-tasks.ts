import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type AwsCallHook, answerOrBody, forwardRequest, sendAnswer } from './aws-calls/http-front.js';
import { SEND_TARGETS, type SendObserver } from './aws-calls/sender-ids.js';
import { SqsProtocolError, sendableAttributes, stringField, taskHandleOf } from './sqs-protocol.js';
import { DEFAULT_REGION, isRecord } from './template.js';

export { SqsProtocolError } from './sqs-protocol.js';

export type MoveTaskStatus = 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';

export interface MoveTask {
  taskHandle: string;
  sourceArn: string;
  // As requested; undefined means "back to the queue each message came from".
  destinationArn?: string;
  // The queue messages actually go to.
  resolvedDestinationArn: string;
  maxNumberOfMessagesPerSecond?: number;
  status: MoveTaskStatus;
  moved: number;
  toMove: number;
  startedTimestamp: number;
  failureReason?: string;
  // Settles when the task leaves RUNNING/CANCELLING.
  done: Promise<void>;
}

export interface SqsMoveTaskProxyOptions {
  // fauxqs's endpoint, e.g. SqsLocal.endpoint; requests are forwarded to its port on loopback.
  sqsEndpoint: string;
  // A client of fauxqs itself, for the moves (ListQueues, Receive/Send/DeleteMessage).
  client: SQSClient;
  region?: string;
  // 0 (default) lets the OS pick.
  port?: number;
  // DLQ ARN -> source queue ARN, for when DestinationArn is omitted; otherwise found from RedrivePolicy.
  sourceQueues?: Record<string, string>;
}

export interface SqsMoveTaskProxy {
  // http://sqs.<region>.localhost:<port>: same host form as fauxqs's queue URLs (see createQueues advice).
  endpoint: string;
  port: number;
  tasks(): MoveTask[];
  /** Every call, moves included, passes this hook first (see AwsCallInterceptor). */
  interceptWith(hook: AwsCallHook): void;
  /** Shown every message sent through the proxy or moved by a task, so received ones can name their sender. */
  observeSends(observer: SendObserver): void;
  stop(): Promise<void>;
}

const HANDLED_TARGETS = new Set([
  'AmazonSQS.StartMessageMoveTask',
  'AmazonSQS.ListMessageMoveTasks',
  'AmazonSQS.CancelMessageMoveTask',
]);

// Far beyond any local DLQ; AWS allows up to 500 messages/s per task.
const MAX_RATE = 500;

interface QueueInfo {
  url: string;
  arn: string;
  deadLetterTargetArn?: string;
  approximateMessages: number;
}

/**
 * A loopback proxy in front of fauxqs that answers StartMessageMoveTask, ListMessageMoveTasks and
 * CancelMessageMoveTask (SQS DLQ redrive, which fauxqs lacks) and forwards everything else unchanged,
 * Host header included: fauxqs builds the URL of a new queue from the Host it was asked on, so queues
 * created through the proxy get URLs on the proxy.
 */
export async function startSqsMoveTaskProxy(options: SqsMoveTaskProxyOptions): Promise<SqsMoveTaskProxy> {
  const region = options.region ?? DEFAULT_REGION;
  const upstream = new URL(options.sqsEndpoint);
  const upstreamPort = Number(upstream.port || 80);
  const { client } = options;
  const tasks: MoveTask[] = [];
  // One per task: cancel and stop abort it, which also cuts short a throttling pause.
  const aborts = new Map<string, AbortController>();
  let nextTaskId = 1;

  const listQueues = async (): Promise<QueueInfo[]> => {
    const { QueueUrls = [] } = await client.send(new ListQueuesCommand({}));
    return Promise.all(
      QueueUrls.map(async (url) => {
        const { Attributes = {} } = await client.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['QueueArn', 'RedrivePolicy', 'ApproximateNumberOfMessages'],
          }),
        );
        let deadLetterTargetArn: string | undefined;
        if (Attributes.RedrivePolicy) {
          const policy: unknown = JSON.parse(Attributes.RedrivePolicy);
          if (isRecord(policy) && typeof policy.deadLetterTargetArn === 'string') {
            deadLetterTargetArn = policy.deadLetterTargetArn;
          }
        }
        return {
          url,
          arn: Attributes.QueueArn ?? '',
          deadLetterTargetArn,
          approximateMessages: Number(Attributes.ApproximateNumberOfMessages ?? 0),
        };
      }),
    );
  };

  const destinationOf = (sourceArn: string, queues: QueueInfo[]): QueueInfo => {
    const configured = options.sourceQueues?.[sourceArn];
    const candidates = configured
      ? queues.filter((queue) => queue.arn === configured)
      : queues.filter((queue) => queue.deadLetterTargetArn === sourceArn);
    const [only] = candidates;
    if (!only) {
      throw new SqsProtocolError(
        'InvalidParameterValue',
        `No queue has ${sourceArn} as its dead-letter queue: pass DestinationArn`,
      );
    }
    if (candidates.length > 1) {
      // AWS remembers each message's origin; fauxqs does not, so the destination would be a guess.
      throw new SqsProtocolError(
        'InvalidParameterValue',
        `${candidates.length} queues redrive to ${sourceArn} (${candidates.map((queue) => queue.arn).join(', ')}); ` +
          'locally DestinationArn is required in that case',
      );
    }
    return only;
  };

  const moveMessage = async (task: MoveTask, source: QueueInfo, destination: QueueInfo, message: Message) => {
    const system = message.Attributes ?? {};
    const { MessageId } = await client.send(
      new SendMessageCommand({
        QueueUrl: destination.url,
        MessageBody: message.Body ?? '',
        MessageAttributes: sendableAttributes(message.MessageAttributes),
        ...(destination.arn.endsWith('.fifo')
          ? {
              MessageGroupId: system.MessageGroupId ?? 'redrive',
              MessageDeduplicationId: system.MessageDeduplicationId ?? message.MessageId,
            }
          : {}),
      }),
    );
    if (MessageId && message.MessageId) observer?.moved(message.MessageId, MessageId);
    await client.send(
      new DeleteMessageCommand({ QueueUrl: source.url, ReceiptHandle: message.ReceiptHandle }),
    );
    task.moved += 1;
  };

  const releaseMessages = async (source: QueueInfo, messages: Message[]): Promise<void> => {
    for (const message of messages) {
      await client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: source.url,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
  };

  const runTask = async (
    task: MoveTask,
    source: QueueInfo,
    destination: QueueInfo,
    signal: AbortSignal,
  ): Promise<void> => {
    const started = Date.now();
    try {
      while (!signal.aborted) {
        const { Messages = [] } = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: source.url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 30,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['All'],
          }),
        );
        // Messages in flight elsewhere stay where they are, as on AWS.
        if (Messages.length === 0) break;
        for (const [index, message] of Messages.entries()) {
          if (signal.aborted) {
            // Received but not moved: visible again at once rather than after the 30 s receive timeout.
            await releaseMessages(source, Messages.slice(index));
            break;
          }
          await moveMessage(task, source, destination, message);
          if (task.maxNumberOfMessagesPerSecond) {
            const due = started + (task.moved / task.maxNumberOfMessagesPerSecond) * 1000;
            await sleep(Math.max(0, due - Date.now()), undefined, { signal }).catch(() => undefined);
          }
        }
      }
      task.status = signal.aborted ? 'CANCELLED' : 'COMPLETED';
    } catch (error) {
      task.status = 'FAILED';
      task.failureReason = `${(error as Error).name}: ${(error as Error).message}`;
    }
  };

  const start = async (input: Record<string, unknown>) => {
    const sourceArn = stringField(input, 'SourceArn');
    if (!sourceArn) throw new SqsProtocolError('InvalidParameterValue', 'SourceArn is required');
    const destinationArn = stringField(input, 'DestinationArn');
    const rate = input.MaxNumberOfMessagesPerSecond;
    if (rate !== undefined && (typeof rate !== 'number' || rate < 1 || rate > MAX_RATE)) {
      throw new SqsProtocolError(
        'InvalidParameterValue',
        `MaxNumberOfMessagesPerSecond must be 1-${MAX_RATE}`,
      );
    }
    const queues = await listQueues();
    const source = queues.find((queue) => queue.arn === sourceArn);
    if (!source)
      throw new SqsProtocolError('ResourceNotFoundException', `Queue ${sourceArn} does not exist`, 404);
    if (tasks.some((task) => task.sourceArn === sourceArn && task.status === 'RUNNING')) {
      throw new SqsProtocolError(
        'UnsupportedOperation',
        `A message move task is already running on ${sourceArn}`,
      );
    }
    let destination: QueueInfo;
    if (destinationArn) {
      const found = queues.find((queue) => queue.arn === destinationArn);
      if (!found) {
        throw new SqsProtocolError(
          'ResourceNotFoundException',
          `Queue ${destinationArn} does not exist`,
          404,
        );
      }
      destination = found;
    } else {
      destination = destinationOf(sourceArn, queues);
    }
    const taskHandle = taskHandleOf(nextTaskId++, sourceArn);
    const task: MoveTask = {
      taskHandle,
      sourceArn,
      destinationArn,
      resolvedDestinationArn: destination.arn,
      maxNumberOfMessagesPerSecond: typeof rate === 'number' ? rate : undefined,
      status: 'RUNNING',
      moved: 0,
      toMove: source.approximateMessages,
      startedTimestamp: Date.now(),
      done: Promise.resolve(),
    };
    const abort = new AbortController();
    aborts.set(taskHandle, abort);
    task.done = runTask(task, source, destination, abort.signal);
    tasks.push(task);
    return { TaskHandle: taskHandle };
  };

  const list = async (input: Record<string, unknown>) => {
    const sourceArn = stringField(input, 'SourceArn');
    if (!sourceArn) throw new SqsProtocolError('InvalidParameterValue', 'SourceArn is required');
    if (!(await listQueues()).some((queue) => queue.arn === sourceArn)) {
      throw new SqsProtocolError('ResourceNotFoundException', `Queue ${sourceArn} does not exist`, 404);
    }
    const maxResults = typeof input.MaxResults === 'number' ? Math.min(Math.max(input.MaxResults, 1), 10) : 1;
    const results = tasks
      .filter((task) => task.sourceArn === sourceArn)
      .reverse()
      .slice(0, maxResults)
      .map((task) => ({
        // Only a running task has a handle to cancel it with.
        ...(task.status === 'RUNNING' ? { TaskHandle: task.taskHandle } : {}),
        Status: task.status,
        SourceArn: task.sourceArn,
        ...(task.destinationArn ? { DestinationArn: task.destinationArn } : {}),
        ...(task.maxNumberOfMessagesPerSecond
          ? { MaxNumberOfMessagesPerSecond: task.maxNumberOfMessagesPerSecond }
          : {}),
        ApproximateNumberOfMessagesMoved: task.moved,
        ApproximateNumberOfMessagesToMove: task.toMove,
        ...(task.failureReason ? { FailureReason: task.failureReason } : {}),
        StartedTimestamp: task.startedTimestamp,
      }));
    return { Results: results };
  };

  const cancel = async (input: Record<string, unknown>) => {
    const taskHandle = stringField(input, 'TaskHandle');
    const task = tasks.find((candidate) => candidate.taskHandle === taskHandle);
    if (task?.status !== 'RUNNING') {
      throw new SqsProtocolError(
        'ResourceNotFoundException',
        'Only a RUNNING message move task can be cancelled',
        404,
      );
    }
    aborts.get(task.taskHandle)?.abort();
    task.status = 'CANCELLING';
    await task.done;
    return { ApproximateNumberOfMessagesMoved: task.moved };
  };

  const operations: Record<string, (input: Record<string, unknown>) => Promise<unknown>> = {
    'AmazonSQS.StartMessageMoveTask': start,
    'AmazonSQS.ListMessageMoveTasks': list,
    'AmazonSQS.CancelMessageMoveTask': cancel,
  };

  const answer = async (target: string, raw: string, response: ServerResponse) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...headers });
      response.end(JSON.stringify(body));
    };
    try {
      const parsed: unknown = raw ? JSON.parse(raw) : {};
      const operation = operations[target];
      if (!operation) throw new SqsProtocolError('InvalidAction', `Unknown action ${target}`);
      reply(200, await operation(isRecord(parsed) ? parsed : {}));
    } catch (error) {
      if (error instanceof SqsProtocolError) {
        reply(
          error.status,
          { __type: `com.amazonaws.sqs#${error.code}`, message: error.message },
          // The SDK's query-compatible error parsing reads the code from here first.
          { 'x-amzn-query-error': `${error.code};Sender` },
        );
      } else {
        reply(500, { __type: 'com.amazonaws.sqs#InternalError', message: (error as Error).message });
      }
    }
  };

  let hook: AwsCallHook | undefined;
  let observer: SendObserver | undefined;
  const server = createServer((request, response) => {
    void answerOrBody(request, hook).then(({ answer: faultAnswer, body }) => {
      if (faultAnswer) {
        sendAnswer(response, faultAnswer);
        return;
      }
      const target = String(request.headers['x-amz-target'] ?? '');
      if (HANDLED_TARGETS.has(target)) void answer(target, body.toString('utf8'), response);
      else {
        const sends = observer && SEND_TARGETS.has(target) ? observer : undefined;
        forwardRequest(
          upstreamPort,
          request,
          response,
          body,
          (error) => ({ __type: 'com.amazonaws.sqs#ServiceUnavailable', message: error.message }),
          sends && ((answer) => sends.sent(request.headers, body, answer)),
        );
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://sqs.${region}.localhost:${port}`,
    port,
    tasks: () => [...tasks],
    interceptWith: (next) => {
      hook = next;
    },
    observeSends: (next) => {
      observer = next;
    },
    stop: async () => {
      for (const abort of aborts.values()) abort.abort();
      await Promise.all(tasks.map((task) => task.done));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
