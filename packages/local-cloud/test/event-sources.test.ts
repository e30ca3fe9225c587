import { BatchWriteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTablesFromTemplate,
  type DynamoDbLocal,
  startDynamoDbLocal,
  tableAttributes,
} from '../src/dynamodb.js';
import {
  eventSourceFaultTargets,
  eventSourceMappingsFromTemplate,
  matchesFilterPattern,
  type RunningEventSources,
  startEventSources,
} from '../src/event-sources.js';
import { createLambdaRunner, emulatorEnvironment, type LambdaRunner } from '../src/lambda-runner.js';
import { createQueuesFromTemplate, type SqsLocal, startSqsLocal } from '../src/sqs.js';
import type { LambdaInvoker } from '../src/stepfunctions-engine.js';
import {
  type CfnResource,
  type CfnTemplate,
  createResolveContext,
  physicalNames,
  type ResolveContext,
  withAttributes,
} from '../src/template.js';

import { jobIdOf } from './correlation.js';

const bundleDir = new URL('./fixtures/event-sources', import.meta.url).pathname;

const OUTBOX_FILTER = { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['outbox'] } } } };

function table(): CfnResource {
  return {
    Type: 'AWS::DynamoDB::Table',
    Properties: {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    },
  };
}

function lambdaFunction(handler: string): CfnResource {
  return { Type: 'AWS::Lambda::Function', Properties: { Handler: handler, Timeout: 5 } };
}

// Shaped like CDK's output for SqsEventSource and DynamoEventSource.
const template: CfnTemplate = {
  Resources: {
    WorkQueue: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        VisibilityTimeout: 1,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['WorkDlq', 'Arn'] }, maxReceiveCount: 2 },
      },
    },
    WorkDlq: { Type: 'AWS::SQS::Queue' },
    DupQueue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 5 } },
    FailQueue: { Type: 'AWS::SQS::Queue' },
    Outbox: table(),
    Ledger: table(),
    Rejects: table(),
    SqsFn: lambdaFunction('index.sqsBatch'),
    OutboxFn: lambdaFunction('index.accept'),
    LedgerFn: lambdaFunction('index.ledger'),
    RejectsFn: lambdaFunction('index.reportingLedger'),
    WorkMapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        EventSourceArn: { 'Fn::GetAtt': ['WorkQueue', 'Arn'] },
        FunctionName: { Ref: 'SqsFn' },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 2 },
      },
    },
    DupMapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: { EventSourceArn: { 'Fn::GetAtt': ['DupQueue', 'Arn'] }, FunctionName: { Ref: 'SqsFn' } },
    },
    OutboxMapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        EventSourceArn: { 'Fn::GetAtt': ['Outbox', 'StreamArn'] },
        FunctionName: { Ref: 'OutboxFn' },
        StartingPosition: 'LATEST',
        BatchSize: 10,
        FilterCriteria: { Filters: [{ Pattern: JSON.stringify(OUTBOX_FILTER) }] },
      },
    },
    LedgerMapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        EventSourceArn: { 'Fn::GetAtt': ['Ledger', 'StreamArn'] },
        FunctionName: { Ref: 'LedgerFn' },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 10,
        MaximumRetryAttempts: 2,
        BisectBatchOnFunctionError: true,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['FailQueue', 'Arn'] } } },
      },
    },
    RejectsMapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        EventSourceArn: { 'Fn::GetAtt': ['Rejects', 'StreamArn'] },
        FunctionName: { Ref: 'RejectsFn' },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 10,
        MaximumRetryAttempts: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['FailQueue', 'Arn'] } } },
      },
    },
  },
};

interface Call {
  functionName: string;
  records: unknown[];
  at: number;
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 8000,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('event source mappings, offline', () => {
  let dynamodb: DynamoDbLocal;
  let sqs: SqsLocal;
  let runner: LambdaRunner;
  let sources: RunningEventSources;
  let ctx: ResolveContext;
  const calls: Call[] = [];
  const hookCalls: { targets: readonly string[]; jobId: string | undefined }[] = [];
  let duplicatesArmed = 0;
  // Deliveries in flight at once, by jobId: what shows whether a duplicate overlaps its original.
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();

  const url = (logicalId: string): string => ctx.resources[logicalId]?.ref ?? '';
  const fn = (logicalId: string): string => ctx.resources[logicalId]?.ref ?? '';
  const sqsRecordsOf = (functionLogicalId: string) =>
    calls
      .filter((call) => call.functionName === fn(functionLogicalId))
      .map((call) => call.records as SQSRecord[]);
  const streamRecordsOf = (functionLogicalId: string) =>
    calls
      .filter((call) => call.functionName === fn(functionLogicalId))
      .map((call) => call.records as DynamoDBRecord[]);

  beforeAll(async () => {
    const started = Date.now();
    [dynamodb, sqs] = await Promise.all([startDynamoDbLocal(), startSqsLocal()]);
    const options = { stackName: 'Test', sqsEndpoint: sqs.endpoint };
    const names = physicalNames(template, options);
    const [tables] = await Promise.all([
      createTablesFromTemplate(dynamodb.client, template, names),
      createQueuesFromTemplate(sqs.client, template, names),
    ]);
    ctx = createResolveContext(withAttributes(names, tableAttributes(tables)), { ...options, template });

    runner = createLambdaRunner({
      baseEnvironment: emulatorEnvironment({ dynamodb: dynamodb.endpoint, sqs: sqs.endpoint }),
    });
    for (const logicalId of ['SqsFn', 'OutboxFn', 'LedgerFn', 'RejectsFn']) {
      const handler = template.Resources[logicalId]?.Properties?.Handler;
      runner.register({
        logicalId,
        functionName: fn(logicalId),
        functionArn: ctx.resources[logicalId]?.attributes.Arn ?? '',
        bundleDir,
        handler: String(handler),
        environment: {},
        timeoutSeconds: 5,
        memoryMb: 128,
      });
    }
    await runner.prewarm();
    const invoker: LambdaInvoker = {
      invoke: async (functionName, payload) => {
        const records = (payload as { Records: unknown[] }).Records;
        calls.push({ functionName, records, at: Date.now() });
        const jobId = jobIdOf(payload) ?? '';
        const now = (inFlight.get(jobId) ?? 0) + 1;
        inFlight.set(jobId, now);
        maxInFlight.set(jobId, Math.max(now, maxInFlight.get(jobId) ?? 0));
        try {
          return await runner.invoke(functionName, payload);
        } finally {
          inFlight.set(jobId, (inFlight.get(jobId) ?? 1) - 1);
        }
      },
    };
    sources = await startEventSources({
      correlationIdOf: jobIdOf,
      template,
      ctx,
      invoker,
      sqsClient: sqs.client,
      dynamodbEndpoint: dynamodb.endpoint,
      // Stream retries 100 ms apart instead of 500.
      timeScale: 0.2,
      duplicateDelivery: (targets, jobId) => {
        hookCalls.push({ targets, jobId });
        const wanted =
          (targets.includes('DupQueue') && jobId === 'o-dup') ||
          (targets.includes('Outbox') && jobId === 'o-dup-stream');
        if (duplicatesArmed > 0 && wanted) {
          duplicatesArmed -= 1;
          return true;
        }
        return false;
      },
    });
    console.log(`emulators, runner and event sources ready in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    const stopping = Date.now();
    await sources?.stop();
    console.log(`event sources stopped in ${Date.now() - stopping} ms`);
    await runner?.stop();
    await Promise.all([sqs?.stop(), dynamodb?.stop()]);
  });

  it('reads the mappings with AWS defaults', () => {
    const byId = Object.fromEntries(sources.mappings.map((mapping) => [mapping.logicalId, mapping]));
    expect(byId.WorkMapping).toMatchObject({
      kind: 'sqs',
      functionName: 'Test-SqsFn',
      functionLogicalId: 'SqsFn',
      sourceLogicalId: 'WorkQueue',
      reportBatchItemFailures: true,
      maximumConcurrency: 2,
    });
    expect(byId.DupMapping).toMatchObject({ batchSize: 10, reportBatchItemFailures: false });
    expect(byId.OutboxMapping).toMatchObject({
      kind: 'dynamodb-stream',
      startingPosition: 'LATEST',
      sourceLogicalId: 'Outbox',
      filterPatterns: [OUTBOX_FILTER],
    });
    expect(byId.LedgerMapping).toMatchObject({
      maximumRetryAttempts: 2,
      bisectBatchOnFunctionError: true,
      onFailureDestination: ctx.resources.FailQueue?.attributes.Arn,
    });
    const streamOnly: CfnTemplate = {
      Resources: {
        M: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: { EventSourceArn: 'arn:aws:kinesis:us-east-1:0:stream/x', FunctionName: 'f' },
        },
      },
    };
    expect(eventSourceMappingsFromTemplate(streamOnly, ctx)[0]).toMatchObject({ kind: 'unsupported' });
  });

  it('delivers an SQS batch in the Lambda event shape and deletes it', async () => {
    await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl: url('WorkQueue'),
        Entries: ['a', 'b', 'c'].map((id) => ({
          Id: id,
          MessageBody: JSON.stringify({ jobId: `o-${id}` }),
          MessageAttributes: { kind: { DataType: 'String', StringValue: 'test' } },
        })),
      }),
    );
    const [batch] = await waitFor('the batch', () => {
      const batches = sqsRecordsOf('SqsFn').filter((records) => records.some((r) => r.body.includes('o-a')));
      return batches.length > 0 ? batches : undefined;
    });
    expect(batch?.map((record) => JSON.parse(record.body).jobId)).toEqual(['o-a', 'o-b', 'o-c']);
    const [first] = batch ?? [];
    expect(first).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: ctx.resources.WorkQueue?.attributes.Arn,
      awsRegion: 'us-east-1',
      messageAttributes: { kind: { stringValue: 'test', dataType: 'String' } },
      attributes: { ApproximateReceiveCount: '1' },
    });
    expect(first?.messageId).toBeTypeOf('string');
    expect(first?.receiptHandle).toBeTypeOf('string');
    expect(first?.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    expect(Number(first?.attributes.SentTimestamp)).toBeGreaterThan(0);
    expect(Number(first?.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThan(0);
    await waitFor('the queue to drain', async () => {
      const { Attributes: attributes } = await sqs.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: url('WorkQueue'),
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        attributes?.ApproximateNumberOfMessages === '0' &&
        attributes.ApproximateNumberOfMessagesNotVisible === '0'
      );
    });
  });

  it('keeps only the reported failure, which reaches the DLQ after maxReceiveCount', async () => {
    const started = Date.now();
    await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl: url('WorkQueue'),
        Entries: [
          { Id: 'ok1', MessageBody: JSON.stringify({ jobId: 'p-ok1' }) },
          { Id: 'bad', MessageBody: JSON.stringify({ jobId: 'p-bad', fail: true }) },
          { Id: 'ok2', MessageBody: JSON.stringify({ jobId: 'p-ok2' }) },
        ],
      }),
    );
    const dead = await waitFor('the DLQ message', async () => {
      const response = await sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: url('WorkDlq'), WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
      );
      return response.Messages;
    });
    console.log(`failed message in the DLQ after ${Date.now() - started} ms`);
    expect(dead.map((message) => JSON.parse(message.Body ?? '{}').jobId)).toEqual(['p-bad']);
    const deliveries = sqsRecordsOf('SqsFn')
      .flat()
      .filter((record) => record.body.includes('"p-'));
    const counts = (jobId: string) =>
      deliveries
        .filter((record) => record.body.includes(jobId))
        .map((record) => record.attributes.ApproximateReceiveCount);
    expect(counts('p-ok1')).toEqual(['1']);
    expect(counts('p-ok2')).toEqual(['1']);
    expect(counts('p-bad')).toEqual(['1', '2']);
  });

  it('delivers a batch twice when the duplicate-delivery hook says so', async () => {
    duplicatesArmed = 1;
    await sqs.client.send(
      new SendMessageCommand({
        QueueUrl: url('DupQueue'),
        MessageBody: JSON.stringify({ jobId: 'o-dup' }),
      }),
    );
    await waitFor('the second delivery', () => {
      const deliveries = sqsRecordsOf('SqsFn')
        .flat()
        .filter((record) => record.body.includes('o-dup'));
      return deliveries.length >= 2 ? deliveries : undefined;
    });
    await waitFor('the delete', () => (sources.stats().DupMapping?.deletedMessages ?? 0) >= 1);
    const deliveries = sqsRecordsOf('SqsFn')
      .flat()
      .filter((record) => record.body.includes('o-dup'));
    expect(deliveries).toHaveLength(2);
    expect(deliveries[0]?.messageId).toBe(deliveries[1]?.messageId);
    expect(maxInFlight.get('o-dup')).toBe(2);
    expect(sources.stats().DupMapping).toMatchObject({
      invocations: 2,
      duplicatedBatches: 1,
      deletedMessages: 1,
    });
    expect(hookCalls.find((call) => call.jobId === 'o-dup')?.targets).toEqual([
      'Test-SqsFn',
      'SqsFn',
      'Test-DupQueue',
      'DupQueue',
      'DupMapping',
    ]);
    expect(duplicatesArmed).toBe(0);
    // The catalogue offers exactly the names the hook is asked with, for duplicate-delivery.
    const catalogue = eventSourceFaultTargets(sources.mappings);
    expect(catalogue).toContainEqual({ target: 'DupQueue', modes: ['duplicate-delivery'] });
    const catalogued = catalogue.map(({ target }) => target);
    for (const call of hookCalls) expect(catalogued).toEqual(expect.arrayContaining([...call.targets]));
  });

  it('passes a stream INSERT that matches the filter and drops a MODIFY that does not', async () => {
    const tableName = ctx.resources.Outbox?.ref ?? '';
    const started = Date.now();
    await dynamodb.client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { pk: { S: 'evt-1' }, kind: { S: 'outbox' }, jobId: { S: 'o-1' } },
      }),
    );
    await dynamodb.client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'evt-1' } },
        UpdateExpression: 'SET sent = :true',
        ExpressionAttributeValues: { ':true': { BOOL: true } },
      }),
    );
    await dynamodb.client.send(
      new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'evt-2' }, kind: { S: 'audit' } } }),
    );
    await waitFor('the filtered-out records', () => (sources.stats().OutboxMapping?.filteredOut ?? 0) >= 2);
    await waitFor('the matching INSERT', () => streamRecordsOf('OutboxFn').length > 0);
    console.log(`stream record delivered after ${Date.now() - started} ms`);
    const records = streamRecordsOf('OutboxFn').flat();
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record).toMatchObject({
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: ctx.resources.Outbox?.attributes.StreamArn,
      dynamodb: {
        Keys: { pk: { S: 'evt-1' } },
        NewImage: { pk: { S: 'evt-1' }, kind: { S: 'outbox' }, jobId: { S: 'o-1' } },
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    expect(record?.eventID).toBeTypeOf('string');
    expect(record?.dynamodb?.SequenceNumber).toMatch(/^\d+$/);
    expect(record?.dynamodb?.SizeBytes).toBeGreaterThan(0);
    // DynamoDB Local stamps records to the minute (AWS to the second): a minute late is not late.
    expect(Math.abs((record?.dynamodb?.ApproximateCreationDateTime ?? 0) - Date.now() / 1000)).toBeLessThan(
      120,
    );
    expect(record?.dynamodb?.OldImage).toBeUndefined();
  });

  it('retries a failing stream batch, bisects it, then sends an on-failure record to SQS', async () => {
    const tableName = ctx.resources.Ledger?.ref ?? '';
    const started = Date.now();
    await dynamodb.client.send(
      new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'l-poison' }, kind: { S: 'poison' } } }),
    );
    await dynamodb.client.send(
      new PutItemCommand({ TableName: tableName, Item: { pk: { S: 'l-good' }, kind: { S: 'entry' } } }),
    );
    const [message] = await waitFor('the on-failure record', async () => {
      const response = await sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: url('FailQueue'), WaitTimeSeconds: 1 }),
      );
      return response.Messages;
    });
    console.log(`on-failure record after ${Date.now() - started} ms`);
    const body = JSON.parse(message?.Body ?? '{}');
    expect(body).toMatchObject({
      requestContext: {
        functionArn: ctx.resources.LedgerFn?.attributes.Arn,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      DDBStreamBatchInfo: { batchSize: 1, streamArn: ctx.resources.Ledger?.attributes.StreamArn },
    });
    const batches = streamRecordsOf('LedgerFn');
    const poisonSequence = batches.flat().find((record) => record.dynamodb?.Keys?.pk?.S === 'l-poison')
      ?.dynamodb?.SequenceNumber;
    expect(body.DDBStreamBatchInfo.startSequenceNumber).toBe(poisonSequence);
    expect(body.DDBStreamBatchInfo.endSequenceNumber).toBe(poisonSequence);
    expect(body.DDBStreamBatchInfo.shardId).toMatch(/^shardId-/);
    // The good record still gets through after the poison one, whether it shared its first batch or not.
    await waitFor('the good record', () =>
      batches.some((records) => records.length === 1 && records[0]?.dynamodb?.Keys?.pk?.S === 'l-good'),
    );
    const poisonAlone = batches.filter(
      (records) => records.length === 1 && records[0]?.dynamodb?.Keys?.pk?.S === 'l-poison',
    );
    expect(poisonAlone).toHaveLength(3);
  });

  it('retries a stream batch from the first reported failure', async () => {
    const tableName = ctx.resources.Rejects?.ref ?? '';
    await dynamodb.client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [tableName]: [
            ['r-1', 'entry'],
            ['r-2', 'reject'],
            ['r-3', 'entry'],
          ].map(([pk, kind]) => ({ PutRequest: { Item: { pk: { S: pk ?? '' }, kind: { S: kind ?? '' } } } })),
        },
      }),
    );
    const [message] = await waitFor('the on-failure record', async () => {
      const response = await sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: url('FailQueue'), WaitTimeSeconds: 1 }),
      );
      return response.Messages;
    });
    const info = JSON.parse(message?.Body ?? '{}');
    const records = streamRecordsOf('RejectsFn');
    const sequenceOf = (pk: string) =>
      records.flat().find((record) => record.dynamodb?.Keys?.pk?.S === pk)?.dynamodb?.SequenceNumber;
    expect(info.DDBStreamBatchInfo).toMatchObject({
      startSequenceNumber: sequenceOf('r-2'),
      streamArn: ctx.resources.Rejects?.attributes.StreamArn,
    });
    // A handled partial failure: no functionError in the on-failure record.
    expect(info.responseContext.functionError).toBeUndefined();
    const keys = records.map((batch) => batch.map((record) => record.dynamodb?.Keys?.pk?.S));
    expect(keys.flat().filter((key) => key === 'r-1')).toHaveLength(1);
    // One attempt and one retry (MaximumRetryAttempts: 1); the retry resumes at the reported record.
    const withReject = keys.filter((batch) => batch.includes('r-2'));
    expect(withReject).toHaveLength(2);
    expect(withReject[1]?.[0]).toBe('r-2');
  });

  it('delivers a stream batch twice at once when the duplicate-delivery hook says so', async () => {
    duplicatesArmed = 1;
    await dynamodb.client.send(
      new PutItemCommand({
        TableName: ctx.resources.Outbox?.ref ?? '',
        Item: { pk: { S: 'evt-dup' }, kind: { S: 'outbox' }, jobId: { S: 'o-dup-stream' } },
      }),
    );
    const deliveries = () =>
      streamRecordsOf('OutboxFn')
        .flat()
        .filter((record) => record.dynamodb?.Keys?.pk?.S === 'evt-dup');
    await waitFor('the second delivery', () => (deliveries().length >= 2 ? true : undefined));
    expect(deliveries()).toHaveLength(2);
    expect(maxInFlight.get('o-dup-stream')).toBe(2);
    expect(duplicatesArmed).toBe(0);
  });
});

describe('filter patterns', () => {
  const record = {
    eventName: 'MODIFY',
    dynamodb: {
      NewImage: { kind: { S: 'outbox' }, status: { S: 'PAYMENT_FAILED' }, amount: { N: '42' } },
      OldImage: { kind: { S: 'outbox' } },
    },
    tags: ['a', 'b'],
    nothing: null,
  };

  it.each([
    [{ eventName: ['INSERT', 'MODIFY'] }, true],
    [{ eventName: ['INSERT'] }, false],
    [{ dynamodb: { NewImage: { kind: { S: ['outbox'] } } } }, true],
    [{ dynamodb: { NewImage: { status: { S: [{ prefix: 'PAYMENT_' }] } } } }, true],
    [{ dynamodb: { NewImage: { status: { S: [{ suffix: '_OK' }] } } } }, false],
    [{ dynamodb: { NewImage: { status: { S: [{ 'equals-ignore-case': 'payment_failed' }] } } } }, true],
    [{ dynamodb: { NewImage: { status: { S: [{ 'anything-but': ['PAYMENT_FAILED'] }] } } } }, false],
    [{ dynamodb: { NewImage: { status: { S: [{ 'anything-but': 'SHIPPED' }] } } } }, true],
    [{ dynamodb: { NewImage: { status: { S: [{ 'anything-but': { prefix: 'PAY' } }] } } } }, false],
    [{ dynamodb: { NewImage: { amount: { N: [{ numeric: ['>', 0, '<=', 42] }] } } } }, true],
    [{ dynamodb: { NewImage: { amount: { N: [{ numeric: ['=', 41] }] } } } }, false],
    [{ dynamodb: { NewImage: { missing: [{ exists: false }] } } }, true],
    [{ dynamodb: { NewImage: { kind: [{ exists: true }] } } }, true],
    [{ dynamodb: { NewImage: { missing: [{ exists: true }] } } }, false],
    [{ dynamodb: { NewImage: { missing: { S: [{ 'anything-but': 'x' }] } } } }, false],
    [{ tags: ['b'] }, true],
    [{ nothing: [null] }, true],
    [{ eventName: [{ wildcard: 'MOD*' }] }, true],
    [{ $or: [{ eventName: ['INSERT'] }, { tags: ['a'] }] }, true],
  ])('%j matches: %s', (pattern, expected) => {
    expect(matchesFilterPattern(pattern, record)).toBe(expected);
  });
});
