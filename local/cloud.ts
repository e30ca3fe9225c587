import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  correlateByField,
  type LocalCloud,
  type LocalCloudOptions,
  startLocalCloud as startGenericLocalCloud,
} from '@order-saga/local-cloud';
import { type Seed, seedRows } from './seed.js';
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
  extends Omit<LocalCloudOptions, 'correlationIdOf' | 'faultCorrelationField' | 'prepare' | 'routes'> {
  seed: Seed;
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
  const { seed, ...rest } = options;
  const cloud = await startGenericLocalCloud({
    synthSources: SYNTH_SOURCES,
    ...rest,
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
    }),
  });
  return { ...cloud, snapshot: () => snapshotOf(cloud.resources) };
}

function snapshotOf(resources: LocalCloud['resources']): Promise<Snapshot> {
  return takeSnapshot({
    dynamodb: resources.dynamodb,
    sqs: resources.sqs,
    outputs: resources.outputs,
    queues: resources.names,
  });
}
