import {
  BatchWriteItemCommand,
  type DynamoDBClient,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  correlateByField,
  type LocalCloud,
  type LocalCloudOptions,
  startLocalCloud as startGenericLocalCloud,
} from '@order-saga/local-cloud';
import { localApiIdentities } from './api-identities.js';
import { parseSeed, type Seed, seedRows } from './seed.js';
import { type Snapshot, takeSnapshot } from './snapshot.js';

/** Everything the template, the bundles and so the local cloud's cdk.out come from. */
const SYNTH_SOURCES = [
  'bin',
  'lib',
  'lambdas',
  'cdk.json',
  'package-lock.json',
  // The saga's guardrails run the local cloud's JSONata/variables check at synth.
  'packages/local-cloud/src/query-language.ts',
];

export interface OrderSagaCloudOptions
  extends Omit<
    LocalCloudOptions,
    'correlationIdOf' | 'faultCorrelationField' | 'prepare' | 'routes' | 'apiIdentities'
  > {
  seed: Seed;
  /** The API checks SigV4 with the local test keys (LOCAL_API_IDENTITIES) and the stack's exported policies. */
  sigv4?: boolean;
}

export interface OrderSagaCloud extends LocalCloud {
  /** The business tables and the queues, as GET /_local/snapshot returns them. */
  snapshot(): Promise<Snapshot>;
}

async function putRows(client: DynamoDBClient, tableName: string, rows: object[]): Promise<void> {
  for (let index = 0; index < rows.length; index += 25) {
    const batch = rows.slice(index, index + 25);
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: { [tableName]: batch.map((row) => ({ PutRequest: { Item: marshall(row) } })) },
      }),
    );
  }
}

/**
 * The order saga on the local cloud: the generic engine (@order-saga/local-cloud) with what is about this
 * app: traces and faults correlated by order id (a fault's `orderId`), the seed in the inventory and payments
 * tables, and GET /_local/snapshot of the business tables.
 */
export async function startLocalCloud(options: OrderSagaCloudOptions): Promise<OrderSagaCloud> {
  const { seed, sigv4, ...rest } = options;
  const cloud = await startGenericLocalCloud({
    synthSources: SYNTH_SOURCES,
    ...rest,
    apiIdentities: sigv4 ? localApiIdentities() : undefined,
    // The order an invocation is about: the trace groups by it and a fault can target it.
    correlationIdOf: correlateByField('orderId'),
    faultCorrelationField: 'orderId',
    prepare: async ({ dynamodb, outputs }) => {
      const rows = seedRows(seed);
      const tableOf = (output: string) => {
        const name = outputs[output];
        if (!name) throw new Error(`Stack output ${output} is missing: the seed has nowhere to go`);
        return name;
      };
      await Promise.all([
        putRows(dynamodb, tableOf('InventoryTableName'), rows.inventory),
        putRows(dynamodb, tableOf('PaymentsTableName'), rows.payments),
      ]);
    },
    routes: (resources) => ({
      'GET /_local/snapshot': async () => ({ status: 200, body: await snapshotOf(resources) }),
      'POST /_local/seed': async (_request, body) => addSeed(resources, body),
    }),
  });
  return { ...cloud, snapshot: () => snapshotOf(cloud.resources) };
}

const MAX_SEED_ROWS = 100;

/**
 * Adds SKUs and accounts to a running cloud, so a suite (or a person) works on stock and money of its own:
 * all or nothing, and never over an existing row, since replacing one would break the conservation of stock
 * and money every invariant is checked against.
 */
async function addSeed(
  resources: LocalCloud['resources'],
  body: string,
): Promise<{ status: number; body: unknown }> {
  let seed: Seed;
  try {
    seed = parseSeed(JSON.parse(body || 'null'), 'body');
  } catch (error) {
    return { status: 400, body: { error: { code: 'InvalidSeed', message: (error as Error).message } } };
  }
  const rows = seedRows(seed);
  const puts = [
    ...rows.inventory.map((row) => ({ table: resources.outputs.InventoryTableName, row })),
    ...rows.payments.map((row) => ({ table: resources.outputs.PaymentsTableName, row })),
  ];
  if (puts.length === 0 || puts.length > MAX_SEED_ROWS) {
    const message = `body: give from 1 to ${MAX_SEED_ROWS} SKUs and accounts in all`;
    return { status: 400, body: { error: { code: 'InvalidSeed', message } } };
  }
  try {
    await resources.dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: puts.map(({ table, row }) => ({
          Put: { TableName: table, Item: marshall(row), ConditionExpression: 'attribute_not_exists(pk)' },
        })),
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'TransactionCanceledException') throw error;
    const message = 'body: a SKU or account of this seed exists already; nothing was written';
    return { status: 409, body: { error: { code: 'SeedExists', message } } };
  }
  return { status: 201, body: { inventory: seed.inventory.length, accounts: seed.accounts.length } };
}

function snapshotOf(resources: LocalCloud['resources']): Promise<Snapshot> {
  return takeSnapshot({
    dynamodb: resources.dynamodb,
    sqs: resources.sqs,
    outputs: resources.outputs,
    queues: resources.names,
  });
}
