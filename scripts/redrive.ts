import { parseArgs } from 'node:util';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { readLocalEndpoints } from '@order-saga/local-cloud';
import { DEFAULT_STAGE, stageConfig } from '../lib/stages.js';

/** Queues whose DLQ holds stream failure records, not messages: moving them back would replay nothing. */
const NOT_REDRIVABLE: Record<string, string> = {
  'outbox-relay':
    'its DLQ holds descriptions of failed stream batches (shard and sequence numbers), not messages; replay the outbox rows they name instead',
};

async function queueArn(client: SQSClient, queueName: string): Promise<string> {
  const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: queueName }));
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  if (!Attributes?.QueueArn) throw new Error(`No ARN for queue ${queueName}`);
  return Attributes.QueueArn;
}

export interface RedriveResult {
  source: string;
  destination: string;
  moved: number;
  status: string;
}

/**
 * Moves every message of `<stack>-<queue>-dlq` back to `<stack>-<queue>` with StartMessageMoveTask, and
 * waits until the move task finishes.
 */
export async function redrive(
  client: SQSClient,
  queue: string,
  options: { stack: string; pollMs?: number; timeoutMs?: number },
): Promise<RedriveResult> {
  const why = NOT_REDRIVABLE[queue];
  if (why) throw new Error(`${queue} cannot be redriven: ${why}`);
  const source = `${options.stack}-${queue}-dlq`;
  const destination = `${options.stack}-${queue}`;
  const [sourceArn, destinationArn] = await Promise.all([
    queueArn(client, source),
    queueArn(client, destination),
  ]);
  const { TaskHandle } = await client.send(
    new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }),
  );
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  for (;;) {
    const { Results = [] } = await client.send(
      new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }),
    );
    // AWS drops the handle from tasks that finished; the newest task of this DLQ is then ours.
    const task = Results.find((result) => result.TaskHandle === TaskHandle) ?? Results[0];
    if (task && task.Status !== 'RUNNING') {
      if (task.Status !== 'COMPLETED')
        throw new Error(`Move task ended ${task.Status}: ${task.FailureReason ?? 'no reason given'}`);
      return { source, destination, moved: task.ApproximateNumberOfMessagesMoved ?? 0, status: task.Status };
    }
    if (Date.now() > deadline)
      throw new Error('The move task is still running; check it with ListMessageMoveTasks');
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}

/** The SQS of the local cloud npm start runs (it publishes .local-cloud/endpoints.json), or of another's file. */
function localClient(endpointsFile?: string): SQSClient {
  const endpoints = readLocalEndpoints(endpointsFile);
  return new SQSClient({
    endpoint: endpoints.sqs,
    region: endpoints.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      // The stage's stack (its queues carry its name), or a stack named outright.
      stage: { type: 'string', default: DEFAULT_STAGE },
      stack: { type: 'string' },
      local: { type: 'boolean', default: false },
      // With --local: another local cloud's endpoints file than npm start's .local-cloud/endpoints.json.
      endpoints: { type: 'string' },
    },
  });
  const [queue] = positionals;
  if (!queue || positionals.length > 1) {
    console.error(
      'Usage: npm run redrive -- <queue> [--stage dev|prod | --stack <name>] [--local [--endpoints <file>]]\n' +
        '  queues: order-events, shipping-requests\n' +
        '  --local: the local cloud of npm start (.local-cloud/endpoints.json), or the one <file> names',
    );
    process.exit(2);
  }
  if (values.endpoints && !values.local) {
    console.error('--endpoints goes with --local');
    process.exit(2);
  }
  const client = values.local ? localClient(values.endpoints) : new SQSClient({});
  const stack = values.stack ?? stageConfig(values.stage).stackName;
  const result = await redrive(client, queue, { stack });
  console.log(`moved ${result.moved} message(s) from ${result.source} to ${result.destination}`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/scripts\//, '/scripts/'))) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
