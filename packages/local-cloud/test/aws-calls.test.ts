import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type InterceptingProxy, startInterceptingProxy } from '../src/aws-calls/http-front.js';
import { type AwsCaller, AwsCallInterceptor } from '../src/aws-calls/interceptor.js';
import { constructPathOf } from '../src/aws-calls/resources.js';
import { type DynamoDbLocal, startDynamoDbLocal } from '../src/dynamodb.js';
import { FaultRegistry } from '../src/faults.js';
import type { CfnTemplate } from '../src/template.js';

const SECRET = 'local-secret';
const region = 'us-east-1';
// Keys the interceptor knows: a function about order o-1, one about order o-2; anything else is the cloud itself.
const callers: Record<string, AwsCaller> = {
  ASIALOCAL00000000001: { label: 'ReserveInventory', correlationId: 'o-1' },
  ASIALOCAL00000000002: { label: 'ChargePayment', correlationId: 'o-2' },
};
const credentialsOf = (accessKeyId: string) => ({ accessKeyId, secretAccessKey: SECRET });

let dynamodb: DynamoDbLocal;
let proxy: InterceptingProxy;
let faults: FaultRegistry;
let interceptor: AwsCallInterceptor;

function newInterceptor(registry: FaultRegistry): AwsCallInterceptor {
  return new AwsCallInterceptor({
    resources: [
      { service: 'dynamodb', name: 'inventory-local', path: 'Inventory/Table' },
      { service: 'dynamodb', name: 'payments-local', path: 'Payments/Table' },
      { service: 'sqs', name: 'shipping-requests', path: 'Shipping/Requests' },
      { service: 'states', name: 'order-saga', path: 'OrderSaga/StateMachine' },
    ],
    callerOf: (accessKeyId) => callers[accessKeyId],
    takeFault: (targets, correlationId, modes) => registry.take(targets, correlationId, modes),
    correlationIdOf: (payload) =>
      (
        JSON.parse((payload as { Records: { body: string }[] }).Records[0]?.body ?? '{}') as {
          orderId?: string;
        }
      ).orderId,
  });
}

function arm(target: string, mode: string, count: number, orderId?: string) {
  faults.add({ target, mode, count, ...(orderId ? { correlationId: orderId } : {}) });
}

const dynamodbAs = (accessKeyId: string, maxAttempts = 3) =>
  new DynamoDBClient({
    endpoint: proxy.endpoint,
    region,
    credentials: credentialsOf(accessKeyId),
    maxAttempts,
  });

const stockItem = (sku: string) => ({ pk: { S: `SKU#${sku}` }, sk: { S: 'STOCK' }, available: { N: '5' } });

beforeAll(async () => {
  dynamodb = await startDynamoDbLocal();
  proxy = await startInterceptingProxy(dynamodb.endpoint, (error) => ({ message: error.message }));
  for (const TableName of ['inventory-local', 'payments-local']) {
    await dynamodb.client.send(
      new CreateTableCommand({
        TableName,
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await dynamodb?.stop();
});

describe('AWS-call faults answered as the service answers them', () => {
  beforeAll(() => {
    faults = new FaultRegistry();
    interceptor = newInterceptor(faults);
    faults.addTargets(interceptor.targets());
    proxy.interceptWith((call) => interceptor.intercept(call));
  });
  afterEach(() => faults.clear());

  it('lists a target for every operation on every resource and on *, with conflict only for writes', () => {
    const targets = interceptor.targets();
    const modesOf = (target: string) => targets.find((entry) => entry.target === target)?.modes;
    expect(modesOf('dynamodb:TransactWriteItems:Inventory/Table')).toEqual([
      'throttle',
      'conflict',
      'unavailable',
    ]);
    expect(modesOf('dynamodb:GetItem:Inventory/Table')).toEqual(['throttle', 'unavailable']);
    expect(modesOf('sqs:SendMessage:Shipping/Requests')).toEqual(['throttle', 'unavailable']);
    expect(modesOf('states:StartExecution:*')).toEqual(['throttle', 'unavailable']);
    expect(modesOf('states:StartExecution:OrderSaga/StateMachine')).toBeDefined();
    expect(() => arm('dynamodb:GetItem:Inventory/Table', 'conflict', 1)).toThrow(/mode/);
    expect(() => arm('dynamodb:PutItem:Nowhere/Table', 'throttle', 1)).toThrow(/target/);
  });

  it('a throttle with fewer hits than the SDK has attempts is absorbed by its retries; one more is not', async () => {
    arm('dynamodb:PutItem:Inventory/Table', 'throttle', 2);
    const client = dynamodbAs('ASIALOCAL00000000001');
    const written = await client.send(
      new PutItemCommand({ TableName: 'inventory-local', Item: stockItem('a') }),
    );
    expect(written.$metadata.attempts).toBe(3);
    expect(faults.list()).toEqual([]);

    arm('dynamodb:PutItem:Inventory/Table', 'throttle', 3);
    const refused = await client
      .send(new PutItemCommand({ TableName: 'inventory-local', Item: stockItem('b') }))
      .catch(
        (error: unknown) => error as Error & { $metadata: { attempts: number; httpStatusCode: number } },
      );
    expect(refused).toMatchObject({ name: 'ProvisionedThroughputExceededException' });
    expect((refused as { $metadata: { attempts: number } }).$metadata.attempts).toBe(3);
    const stored = await dynamodb.client.send(
      new GetItemCommand({ TableName: 'inventory-local', Key: { pk: { S: 'SKU#b' }, sk: { S: 'STOCK' } } }),
    );
    expect(stored.Item).toBeUndefined();
  });

  it('a conflict cancels a transaction with TransactionConflict at the position of the targeted table', async () => {
    arm('dynamodb:TransactWriteItems:Payments/Table', 'conflict', 1);
    const error = await dynamodbAs('ASIALOCAL00000000002', 1)
      .send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: 'inventory-local', Item: stockItem('c') } },
            { Put: { TableName: 'payments-local', Item: { pk: { S: 'ACCOUNT#c' }, sk: { S: 'ACCOUNT' } } } },
          ],
        }),
      )
      .catch((caught: unknown) => caught as Error & { CancellationReasons?: { Code: string }[] });
    expect(error).toMatchObject({ name: 'TransactionCanceledException' });
    expect(
      (error as { CancellationReasons: { Code: string }[] }).CancellationReasons.map((r) => r.Code),
    ).toEqual(['None', 'TransactionConflict']);
    expect((error as Error).message).toContain('[None, TransactionConflict]');
  });

  it('a conflict on a plain write is TransactionConflictException; unavailable is a 500 the SDK retries', async () => {
    arm('dynamodb:UpdateItem:*', 'conflict', 1);
    const conflict = await dynamodbAs('ASIALOCAL00000000001', 1)
      .send(
        new UpdateItemCommand({
          TableName: 'inventory-local',
          Key: { pk: { S: 'SKU#d' }, sk: { S: 'STOCK' } },
          UpdateExpression: 'SET available = :n',
          ExpressionAttributeValues: { ':n': { N: '1' } },
        }),
      )
      .catch((caught: unknown) => caught as Error);
    expect(conflict).toMatchObject({ name: 'TransactionConflictException' });

    arm('dynamodb:GetItem:Inventory/Table', 'unavailable', 5);
    const unavailable = await dynamodbAs('ASIALOCAL00000000001')
      .send(new GetItemCommand({ TableName: 'inventory-local', Key: { pk: { S: 'x' }, sk: { S: 'y' } } }))
      .catch(
        (caught: unknown) => caught as Error & { $metadata: { httpStatusCode: number; attempts: number } },
      );
    expect(unavailable).toMatchObject({
      name: 'InternalServerError',
      $metadata: { httpStatusCode: 500, attempts: 3 },
    });
    expect(faults.list()[0]?.remaining).toBe(2);
  });

  it('a fault scoped to one correlation id passes calls about anything else, and unknown callers always', async () => {
    arm('dynamodb:PutItem:Inventory/Table', 'throttle', 5, 'o-2');
    await dynamodbAs('ASIALOCAL00000000001', 1).send(
      new PutItemCommand({ TableName: 'inventory-local', Item: stockItem('e') }),
    );
    arm('dynamodb:PutItem:*', 'unavailable', 5);
    await dynamodbAs('AKIAUNKNOWNCALLER000', 1).send(
      new PutItemCommand({ TableName: 'inventory-local', Item: stockItem('f') }),
    );
    expect(faults.list().map((fault) => fault.remaining)).toEqual([5, 5]);
    await expect(
      dynamodbAs('ASIALOCAL00000000002', 1).send(
        new PutItemCommand({ TableName: 'inventory-local', Item: stockItem('g') }),
      ),
    ).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
  });

  it('SQS and Step Functions calls get their own throttling and 500 answers', async () => {
    arm('sqs:SendMessage:Shipping/Requests', 'throttle', 1);
    arm('states:StartExecution:*', 'unavailable', 1);
    arm('states:StartExecution:OrderSaga/StateMachine', 'throttle', 1);
    const sqs = new SQSClient({
      endpoint: proxy.endpoint,
      region,
      credentials: credentialsOf('ASIALOCAL00000000001'),
      maxAttempts: 1,
    });
    await expect(
      sqs.send(
        new SendMessageCommand({
          QueueUrl: `${proxy.endpoint}/000000000000/shipping-requests`,
          MessageBody: '{}',
        }),
      ),
    ).rejects.toMatchObject({ name: 'RequestThrottled', $metadata: { httpStatusCode: 400 } });
    const sfn = new SFNClient({
      endpoint: proxy.endpoint,
      region,
      credentials: credentialsOf('ASIALOCAL00000000001'),
      maxAttempts: 1,
    });
    const start = () =>
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: `arn:aws:states:${region}:000000000000:stateMachine:order-saga`,
        }),
      );
    // The resource's own target is tried before the wildcard.
    await expect(start()).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(start()).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });
  });

  it('counts every call by caller, operation and resource, retries included', () => {
    const counts = interceptor.callCounts();
    const reserve = counts.find(
      (entry) => entry.caller === 'ReserveInventory' && entry.call === 'dynamodb:PutItem:Inventory/Table',
    );
    expect(reserve?.count).toBeGreaterThanOrEqual(6);
    expect(counts.some((entry) => entry.caller.startsWith('AKIA'))).toBe(false);
  });
});

describe('construct paths', () => {
  const template: CfnTemplate = {
    Resources: {
      Table: { Type: 'AWS::DynamoDB::Table', Metadata: { 'aws:cdk:path': 'Shop/Inventory/Table/Resource' } },
      Queue: {
        Type: 'AWS::SQS::Queue',
        Metadata: { 'aws:cdk:path': 'Shop/Shipping/Requests/Queue/Resource' },
      },
      Plain: { Type: 'AWS::SQS::Queue', Metadata: { 'aws:cdk:path': 'Shop/Jobs/Resource' } },
      Bare: { Type: 'AWS::SQS::Queue' },
    },
  };
  it('drop the stack and Resource, and name a Queue child by its parent', () => {
    expect(constructPathOf(template, 'Table')).toBe('Inventory/Table');
    expect(constructPathOf(template, 'Queue')).toBe('Shipping/Requests');
    expect(constructPathOf(template, 'Plain')).toBe('Jobs');
    expect(constructPathOf(template, 'Bare')).toBe('Bare');
  });
});
