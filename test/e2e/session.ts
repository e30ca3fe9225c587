import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { executionArnOf } from '../../lambdas/orders/saga-client.js';
import { LOCAL_API_IDENTITIES } from '../../local/api-identities.js';
import { type OrderSagaCloud, startLocalCloud } from '../../local/cloud.js';
import { DEMO_SEED, type Seed, seedRows } from '../../local/seed.js';
import type { Snapshot } from '../../local/snapshot.js';
import { deployedOrderIdOf, localOrderIdOf, type OrderIdOf } from '../support/order-ids.js';
import { defaultCredentialChain, PublicApi } from './api-client.js';
import type { RemoteTarget, TargetName } from './targets.js';

/** Retries and timeouts at a tenth, as in the local test layer: an escalation takes seconds, not minutes. */
const LOCAL_TIME_SCALE = 0.1;

/** What only the local cloud offers: faults, and the Step Functions API to stop a saga as an operator would. */
export interface LocalControls {
  armFault(fault: { target: string; mode: string; count: number; orderId?: string }): Promise<void>;
  clearFaults(): Promise<void>;
  stopSaga(orderId: string): Promise<void>;
  /** Sends to order-events as a principal the consumer does not trust: the local cloud's own client. */
  sendToOrderEvents(body: unknown): Promise<void>;
}

export interface E2eSession {
  target: TargetName;
  api: PublicApi;
  /** Adds SKUs and accounts the suite's orders use. */
  seed(seed: Seed): Promise<void>;
  /** An order the suite placed, removed at close on a deployment. */
  track(orderId: string): void;
  /** The id the target derives for (customer, Idempotency-Key), with that target's order-id key. */
  orderIdOf: OrderIdOf;
  snapshot?: () => Promise<Snapshot>;
  /** An ID token naming the customer, for the customer routes; only where the target can sign one. */
  customerToken?: (customerId: string) => string;
  local?: LocalControls;
  close(): Promise<void>;
}

async function localPost(apiUrl: string, path: string, method: string, body?: unknown): Promise<Response> {
  return fetch(`${apiUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/**
 * The local cloud of this suite alone, with SigV4 and the stack's client and operator policies enforced, and the
 * customer routes taking ID tokens of its local issuer only.
 */
export async function openLocalSession(): Promise<E2eSession> {
  const cloud: OrderSagaCloud = await startLocalCloud({
    projectRoot: fileURLToPath(new URL('../..', import.meta.url)),
    port: 0,
    timeScale: LOCAL_TIME_SCALE,
    seed: DEMO_SEED,
    sigv4: true,
    auth: true,
    trace: process.env.LOCAL_TRACE ? (line) => console.log(line) : undefined,
  });
  const { client, operator } = LOCAL_API_IDENTITIES;
  const sfn = new SFNClient({
    endpoint: cloud.endpoints.sfn,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const expectStatus = async (response: Promise<Response>, status: number, what: string) => {
    const answer = await response;
    if (answer.status !== status) throw new Error(`${what}: ${answer.status} ${await answer.text()}`);
  };
  return {
    target: 'local',
    api: new PublicApi(cloud.apiUrl, 'us-east-1', { client, operator }),
    orderIdOf: await localOrderIdOf(cloud.apiUrl),
    seed: (seed) => expectStatus(localPost(cloud.apiUrl, '/_local/seed', 'POST', seed), 201, 'seed'),
    track: () => undefined,
    snapshot: () => cloud.snapshot(),
    customerToken: (customerId) => {
      if (!cloud.userPoolTokens) throw new Error('the local cloud signs no tokens: no user pool authorizer');
      return cloud.userPoolTokens.issue({ sub: customerId });
    },
    local: {
      armFault: (fault) =>
        expectStatus(localPost(cloud.apiUrl, '/_local/faults', 'POST', fault), 201, 'fault'),
      clearFaults: () => expectStatus(localPost(cloud.apiUrl, '/_local/faults', 'DELETE'), 204, 'faults'),
      stopSaga: async (orderId) => {
        const executionArn = executionArnOf(cloud.outputs.StateMachineArn ?? '', orderId);
        await sfn.send(new StopExecutionCommand({ executionArn, error: 'OperatorStopped' }));
      },
      sendToOrderEvents: async (body) => {
        const QueueUrl = cloud.outputs.OrderEventsQueueUrl;
        if (!QueueUrl) throw new Error('the stack has no OrderEventsQueueUrl output');
        await cloud.resources.sqs.send(
          new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(body) }),
        );
      },
    },
    close: () => cloud.stop(),
  };
}

/** Why a deployment cannot be used right now, or undefined when it answers. */
export async function unreachableReason(target: RemoteTarget): Promise<string | undefined> {
  if (target.awsEndpoint) {
    try {
      await fetch(`${target.awsEndpoint}/_localstack/health`, { signal: AbortSignal.timeout(3000) });
    } catch (error) {
      return `LocalStack not reachable at ${target.awsEndpoint} (${(error as Error).message})`;
    }
  }
  if (!target.credentials) {
    try {
      await defaultCredentialChain()();
    } catch (error) {
      return `no AWS credentials in the default chain (${(error as Error).message})`;
    }
  }
  try {
    await fetch(target.apiUrl, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    return `${target.apiUrl} (from ${target.outputsFile}) not reachable (${(error as Error).message})`;
  }
  return undefined;
}

/**
 * A deployment: the public API signed with the target's credentials (the same identity for client and
 * operator: which policy it holds is the account's business), fixtures written to the stack's inventory and
 * payments tables (the API has no way to add stock or money), and everything the run wrote deleted at close.
 */
export async function openRemoteSession(target: RemoteTarget): Promise<E2eSession> {
  const credentials = target.credentials ?? defaultCredentialChain();
  const keyArn = target.outputs.OrderIdKeySecretArn;
  if (!keyArn) throw new Error(`${target.outputsFile} has no OrderIdKeySecretArn: deploy the current stack`);
  // Reading the key takes secretsmanager:GetSecretValue on it: the suite is run by someone who may.
  const orderIdOf = await deployedOrderIdOf(
    new SecretsManagerClient({ region: target.region, endpoint: target.awsEndpoint, credentials }),
    keyArn,
  );
  const documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: target.region, endpoint: target.awsEndpoint, credentials }),
  );
  const tables = Object.entries(target.outputs)
    .filter(([name]) => name.endsWith('TableName'))
    .map(([, table]) => table);
  const partitions = new Set<string>();
  const tableOf = (output: string) => {
    const table = target.outputs[output];
    if (!table) throw new Error(`${target.outputsFile} has no ${output}: cannot write fixtures`);
    return table;
  };
  return {
    target: target.name,
    api: new PublicApi(target.apiUrl, target.region, { client: credentials, operator: credentials }),
    orderIdOf,
    async seed(seed) {
      const rows = seedRows(seed);
      const puts = [
        ...rows.inventory.map((row) => ({ table: tableOf('InventoryTableName'), row })),
        ...rows.payments.map((row) => ({ table: tableOf('PaymentsTableName'), row })),
      ];
      for (const { table, row } of puts) {
        partitions.add((row as { pk: string }).pk);
        await documents.send(
          new PutCommand({ TableName: table, Item: row, ConditionExpression: 'attribute_not_exists(pk)' }),
        );
      }
    },
    track(orderId) {
      for (const prefix of ['ORDER', 'BARRIER', 'OUTBOX', 'NOTIFICATION'])
        partitions.add(`${prefix}#${orderId}`);
    },
    async close() {
      // Every row under a partition the run created, in every table: orders, barriers, outbox, notifications,
      // charges, shipments, fixtures. Inbox rows (keyed by event id) expire on their TTL; executions stay 90 days.
      const failures: string[] = [];
      for (const table of tables) {
        for (const pk of partitions) {
          try {
            const { Items = [] } = await documents.send(
              new QueryCommand({
                TableName: table,
                KeyConditionExpression: 'pk = :pk',
                ExpressionAttributeValues: { ':pk': pk },
              }),
            );
            for (const item of Items)
              await documents.send(
                new DeleteCommand({ TableName: table, Key: { pk: item.pk, sk: item.sk } }),
              );
          } catch (error) {
            failures.push(`${table} ${pk}: ${(error as Error).message}`);
          }
        }
      }
      if (failures.length > 0) console.warn(`e2e cleanup left rows behind:\n  ${failures.join('\n  ')}`);
    },
  };
}
