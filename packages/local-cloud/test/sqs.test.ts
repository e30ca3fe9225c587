import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaRunner, emulatorEnvironment } from '../src/lambda-runner.js';
import { createQueuesFromTemplate, type SqsLocal, startSqsLocal } from '../src/sqs.js';
import { type CfnTemplate, physicalNames } from '../src/template.js';

const template: CfnTemplate = {
  Resources: {
    // Declared before its DLQ on purpose: queues are created after the queue their redrive names.
    Work: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        VisibilityTimeout: 1,
        MessageRetentionPeriod: 3600,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['WorkDlq', 'Arn'] }, maxReceiveCount: 1 },
      },
    },
    WorkDlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600 } },
    Jobed: {
      Type: 'AWS::SQS::Queue',
      Properties: { QueueName: 'ordered.fifo', FifoQueue: true, ContentBasedDeduplication: true },
    },
  },
};

describe('fauxqs', () => {
  let sqs: SqsLocal;

  beforeAll(async () => {
    sqs = await startSqsLocal();
    console.log(`fauxqs ready in ${sqs.startupMs} ms on port ${sqs.port}`);
  });

  afterAll(async () => {
    await sqs?.stop();
  });

  it('creates queues with attributes, FIFO and redrive to the local DLQ', async () => {
    const names = physicalNames(template, { stackName: 'Test', sqsEndpoint: sqs.endpoint });
    const created = await createQueuesFromTemplate(sqs.client, template, names);
    expect(created.map((queue) => queue.logicalId)).toEqual(['WorkDlq', 'Work', 'Jobed']);

    const work = names.Work?.ref ?? '';
    const { Attributes: attributes } = await sqs.client.send(
      new GetQueueAttributesCommand({ QueueUrl: work, AttributeNames: ['All'] }),
    );
    expect(attributes?.VisibilityTimeout).toBe('1');
    expect(attributes?.MessageRetentionPeriod).toBe('3600');
    expect(JSON.parse(attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:Test-WorkDlq',
      maxReceiveCount: 1,
    });
    const fifo = await sqs.client.send(
      new GetQueueAttributesCommand({ QueueUrl: names.Jobed?.ref, AttributeNames: ['All'] }),
    );
    expect(fifo.Attributes).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true' });

    // One receive without delete, visibility expires, the second receive moves it to the DLQ.
    await sqs.client.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'poison' }));
    const first = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: work, WaitTimeSeconds: 1 }));
    expect(first.Messages).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: work, WaitTimeSeconds: 0 }));
    const dead = await sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: names.WorkDlq?.ref, WaitTimeSeconds: 1 }),
    );
    expect(dead.Messages?.[0]?.Body).toBe('poison');
  });

  it('is reachable from a Lambda worker through AWS_ENDPOINT_URL_SQS only', async () => {
    const names = physicalNames(template, { stackName: 'Test', sqsEndpoint: sqs.endpoint });
    const queueUrl = names.WorkDlq?.ref ?? '';
    const runner = createLambdaRunner({
      baseEnvironment: emulatorEnvironment({ sqs: sqs.handlerEnvironment.AWS_ENDPOINT_URL_SQS }),
    });
    runner.register({
      functionName: 'sender',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:sender',
      bundleDir: new URL('./fixtures/lambda-aws', import.meta.url).pathname,
      handler: 'index.send',
      environment: { QUEUE_URL: queueUrl },
      timeoutSeconds: 10,
      memoryMb: 256,
    });
    try {
      const sent = await runner.invoke('sender', { hello: 'queue' });
      expect(sent.ok).toBe(true);
      const received = await sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }),
      );
      expect(JSON.parse(received.Messages?.[0]?.Body ?? '{}')).toEqual({ hello: 'queue' });
      await sqs.client.send(
        new DeleteMessageCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: received.Messages?.[0]?.ReceiptHandle,
        }),
      );
    } finally {
      await runner.stop();
    }
  });
});
