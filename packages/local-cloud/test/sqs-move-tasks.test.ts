import {
  CancelMessageMoveTaskCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSqsClient, type SqsLocal, startSqsLocal } from '../src/sqs.js';
import { type SqsMoveTaskProxy, startSqsMoveTaskProxy } from '../src/sqs-move-tasks.js';

describe('SQS message move tasks (DLQ redrive) in front of fauxqs', () => {
  let sqs: SqsLocal;
  let proxy: SqsMoveTaskProxy;
  let viaProxy: SQSClient;

  beforeAll(async () => {
    sqs = await startSqsLocal();
    proxy = await startSqsMoveTaskProxy({ sqsEndpoint: sqs.endpoint, client: sqs.client });
    viaProxy = createSqsClient(proxy.endpoint);
  });

  afterAll(async () => {
    viaProxy?.destroy();
    await proxy?.stop();
    await sqs?.stop();
  });

  async function queuePair(client: SQSClient, prefix: string) {
    const dlq = await client.send(new CreateQueueCommand({ QueueName: `${prefix}-dlq` }));
    const dlqUrl = dlq.QueueUrl ?? '';
    const dlqArn = await arnOf(client, dlqUrl);
    const work = await client.send(
      new CreateQueueCommand({
        QueueName: `${prefix}-work`,
        Attributes: {
          VisibilityTimeout: '1',
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }),
        },
      }),
    );
    const workUrl = work.QueueUrl ?? '';
    return { dlqUrl, dlqArn, workUrl, workArn: await arnOf(client, workUrl) };
  }

  async function arnOf(client: SQSClient, queueUrl: string): Promise<string> {
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    return Attributes?.QueueArn ?? '';
  }

  // Received once and never deleted: with maxReceiveCount 1 the next receive moves it to the DLQ.
  async function failToDlq(client: SQSClient, workUrl: string, dlqUrl: string, count: number) {
    for (let index = 0; index < count; index += 1) {
      await client.send(
        new SendMessageCommand({
          QueueUrl: workUrl,
          MessageBody: JSON.stringify({ jobId: `o-${index}` }),
          MessageAttributes: { kind: { DataType: 'String', StringValue: 'payment' } },
        }),
      );
    }
    const first = await client.send(
      new ReceiveMessageCommand({ QueueUrl: workUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
    );
    expect(first.Messages).toHaveLength(count);
    const second = await client.send(new ReceiveMessageCommand({ QueueUrl: workUrl, WaitTimeSeconds: 0 }));
    expect(second.Messages ?? []).toHaveLength(0);
    await vi.waitFor(async () => expect(await depth(client, dlqUrl)).toBe(count));
  }

  async function depth(client: SQSClient, queueUrl: string): Promise<number> {
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? -1);
  }

  it('redrives a DLQ back to its source queue, keeping body and attributes', async () => {
    // Created through the proxy, so the queue URLs carry the proxy's port and every call goes through it.
    const { dlqUrl, dlqArn, workUrl, workArn } = await queuePair(viaProxy, 'jobs');
    expect(new URL(workUrl).port).toBe(String(proxy.port));
    await failToDlq(viaProxy, workUrl, dlqUrl, 3);

    const started = performance.now();
    const { TaskHandle } = await viaProxy.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
    expect(TaskHandle).toBeTruthy();
    await vi.waitFor(async () => {
      const { Results = [] } = await viaProxy.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn }));
      expect(Results[0]).toMatchObject({
        Status: 'COMPLETED',
        SourceArn: dlqArn,
        ApproximateNumberOfMessagesMoved: 3,
        ApproximateNumberOfMessagesToMove: 3,
      });
    });
    console.log(`3 messages redriven in ${(performance.now() - started).toFixed(0)} ms`);
    expect(proxy.tasks()[0]?.resolvedDestinationArn).toBe(workArn);
    expect(await depth(viaProxy, dlqUrl)).toBe(0);

    const back = await viaProxy.send(
      new ReceiveMessageCommand({
        QueueUrl: workUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    expect(back.Messages?.map((message) => JSON.parse(message.Body ?? '{}').jobId).sort()).toEqual([
      'o-0',
      'o-1',
      'o-2',
    ]);
    expect(back.Messages?.[0]?.MessageAttributes).toEqual({
      kind: { DataType: 'String', StringValue: 'payment' },
    });
  });

  it('works for queues made directly on fauxqs, honours DestinationArn and cancels', async () => {
    const { dlqUrl, dlqArn, workUrl } = await queuePair(sqs.client, 'direct');
    const parking = await sqs.client.send(new CreateQueueCommand({ QueueName: 'direct-parking' }));
    const parkingUrl = parking.QueueUrl ?? '';
    await failToDlq(sqs.client, workUrl, dlqUrl, 2);

    const parkingArn = await arnOf(viaProxy, parkingUrl);
    // A throttled task is still running when cancelled: 1 message/s moves one, then stops.
    const { TaskHandle } = await viaProxy.send(
      new StartMessageMoveTaskCommand({
        SourceArn: dlqArn,
        DestinationArn: parkingArn,
        MaxNumberOfMessagesPerSecond: 1,
      }),
    );
    await expect(viaProxy.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }))).rejects.toMatchObject(
      {
        name: 'UnsupportedOperation',
      },
    );
    const cancelled = await viaProxy.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
    expect(cancelled.ApproximateNumberOfMessagesMoved).toBe(1);
    const { Results = [] } = await viaProxy.send(
      new ListMessageMoveTasksCommand({ SourceArn: dlqArn, MaxResults: 10 }),
    );
    expect(Results).toEqual([
      expect.objectContaining({
        Status: 'CANCELLED',
        DestinationArn: parkingArn,
        ApproximateNumberOfMessagesMoved: 1,
      }),
    ]);
    expect(Results[0]?.TaskHandle).toBeUndefined();
    expect(await depth(sqs.client, parkingUrl)).toBe(1);
    expect(await depth(sqs.client, dlqUrl)).toBe(1);
  });

  it('answers AWS-named errors', async () => {
    await expect(
      viaProxy.send(
        new StartMessageMoveTaskCommand({ SourceArn: 'arn:aws:sqs:us-east-1:000000000000:nope' }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const lonely = await viaProxy.send(new CreateQueueCommand({ QueueName: 'lonely-dlq' }));
    await expect(
      viaProxy.send(
        new StartMessageMoveTaskCommand({ SourceArn: await arnOf(viaProxy, lonely.QueueUrl ?? '') }),
      ),
    ).rejects.toThrow(/No queue has .* as its dead-letter queue/);
    await expect(
      viaProxy.send(new CancelMessageMoveTaskCommand({ TaskHandle: 'bm9wZQ==' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    // Errors of fauxqs itself still come through the forwarding path intact.
    await expect(
      viaProxy.send(new GetQueueAttributesCommand({ QueueUrl: `${proxy.endpoint}/000000000000/missing` })),
    ).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
  });
});
