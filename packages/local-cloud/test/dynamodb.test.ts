import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkJava,
  createTablesFromTemplate,
  type DynamoDbLocal,
  JavaMissingError,
  startDynamoDbLocal,
  tableAttributes,
} from '../src/dynamodb.js';
import { createLambdaRunner, emulatorEnvironment } from '../src/lambda-runner.js';
import { type CfnTemplate, physicalNames, withAttributes } from '../src/template.js';

const template: CfnTemplate = {
  Resources: {
    Jobs: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'status', AttributeType: 'S' },
          { AttributeName: 'createdAt', AttributeType: 'N' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byStatus',
            KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        LocalSecondaryIndexes: [
          {
            IndexName: 'byCreatedAt',
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'createdAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
    },
    Barriers: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'barriers',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
      },
    },
  },
};

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('checkJava', () => {
  it('explains a missing java instead of failing later', () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => checkJava()).toThrow(JavaMissingError);
      expect(() => checkJava()).toThrow(/Java 17\+/);
    } finally {
      process.env.PATH = path;
    }
    expect(checkJava()).toBeGreaterThanOrEqual(17);
  });
});

describe('DynamoDB Local', () => {
  let dynamo: DynamoDbLocal;

  beforeAll(async () => {
    dynamo = await startDynamoDbLocal();
    console.log(`DynamoDB Local ready in ${dynamo.startupMs} ms on port ${dynamo.port}`);
  });

  afterAll(async () => {
    await dynamo?.stop();
  });

  it('creates tables with indexes, stream and TTL from the template', async () => {
    const names = physicalNames(template, { stackName: 'Test' });
    const created = await createTablesFromTemplate(dynamo.client, template, names);
    expect(created.map((table) => table.tableName).sort()).toEqual(['Test-Jobs', 'barriers']);

    const { Table: jobs } = await dynamo.client.send(new DescribeTableCommand({ TableName: 'Test-Jobs' }));
    expect(jobs?.GlobalSecondaryIndexes?.[0]?.IndexName).toBe('byStatus');
    expect(jobs?.LocalSecondaryIndexes?.[0]?.IndexName).toBe('byCreatedAt');
    expect(jobs?.StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    });
    expect(jobs?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const ttl = await dynamo.client.send(new DescribeTimeToLiveCommand({ TableName: 'Test-Jobs' }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });

    const updated = withAttributes(names, tableAttributes(created));
    expect(jobs?.LatestStreamArn).toMatch(/^arn:aws:dynamodb:.*:table\/Test-Jobs\/stream\//);
    expect(updated.Jobs?.attributes.StreamArn).toBe(jobs?.LatestStreamArn);

    await dynamo.client.send(new PutItemCommand({ TableName: 'barriers', Item: { pk: { S: 'a' } } }));
    const read = await dynamo.client.send(
      new GetItemCommand({ TableName: 'barriers', Key: { pk: { S: 'a' } } }),
    );
    expect(read.Item?.pk?.S).toBe('a');
  });

  it('is reachable from a Lambda worker through AWS_ENDPOINT_URL_DYNAMODB only', async () => {
    const runner = createLambdaRunner({
      baseEnvironment: emulatorEnvironment({ dynamodb: dynamo.endpoint }),
    });
    runner.register({
      functionName: 'put-and-get',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:put-and-get',
      bundleDir: new URL('./fixtures/lambda-aws', import.meta.url).pathname,
      handler: 'index.putAndGet',
      environment: { TABLE_NAME: 'barriers' },
      timeoutSeconds: 10,
      memoryMb: 256,
    });
    try {
      const cold = await runner.invoke('put-and-get', { id: 'from-worker' });
      const warm = await runner.invoke('put-and-get', { id: 'again' });
      console.log(
        `SDK handler: cold init ${cold.initDurationMs?.toFixed(0)} ms + ${cold.durationMs.toFixed(0)} ms, warm ${warm.durationMs.toFixed(1)} ms`,
      );
      expect(cold).toMatchObject({ ok: true, payload: { found: 'from-worker' } });
      expect(warm).toMatchObject({ ok: true, payload: { found: 'again' } });
    } finally {
      await runner.stop();
    }
  });

  it('stops the Java process for sure', async () => {
    const { pid } = dynamo;
    expect(isRunning(pid)).toBe(true);
    await dynamo.stop();
    expect(isRunning(pid)).toBe(false);
  });
});
