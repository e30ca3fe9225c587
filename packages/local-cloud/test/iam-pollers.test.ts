import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEventSources, startEventSources } from '../src/event-sources.js';
import { AccessDeniedError } from '../src/iam/enforcement.js';
import { createQueuesFromTemplate, type SqsLocal, startSqsLocal } from '../src/sqs.js';
import type { LambdaInvoker } from '../src/stepfunctions-engine.js';
import {
  type CfnTemplate,
  createResolveContext,
  physicalNames,
  type ResolveContext,
} from '../src/template.js';

// Two queues, each read by its own function: the one role may receive from its queue, the other may not.
const template: CfnTemplate = {
  Resources: {
    Allowed: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'allowed', VisibilityTimeout: 1 } },
    Denied: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'denied', VisibilityTimeout: 1 } },
    Reader: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'reader' } },
    Stranger: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'stranger' } },
    ReaderMapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: { EventSourceArn: { 'Fn::GetAtt': ['Allowed', 'Arn'] }, FunctionName: { Ref: 'Reader' } },
    },
    StrangerMapping: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: { EventSourceArn: { 'Fn::GetAtt': ['Denied', 'Arn'] }, FunctionName: { Ref: 'Stranger' } },
    },
  },
};

describe('event-source pollers acting as their function’s role', () => {
  let sqs: SqsLocal;
  let ctx: ResolveContext;
  let sources: RunningEventSources;
  const asked: string[] = [];
  const delivered: string[] = [];
  const traces: string[] = [];

  beforeAll(async () => {
    sqs = await startSqsLocal();
    const options = { stackName: 'Test', sqsEndpoint: sqs.endpoint };
    const names = physicalNames(template, options);
    await createQueuesFromTemplate(sqs.client, template, names);
    ctx = createResolveContext(names, { ...options, template });
    const invoker: LambdaInvoker = {
      invoke: async (functionName, payload) => {
        delivered.push(`${functionName}: ${(payload as { Records: { body: string }[] }).Records[0]?.body}`);
        return { ok: true, payload: {} };
      },
    };
    sources = await startEventSources({
      template,
      ctx,
      invoker,
      sqsClient: sqs.client,
      sqsWaitTimeSeconds: 0,
      onTrace: ({ mapping, message }) => traces.push(`${mapping} ${message}`),
      authorize: async (functionName, action, resource) => {
        asked.push(`${functionName} ${action} ${resource.split(':').at(-1)}`);
        if (functionName === 'stranger' && action === 'sqs:ReceiveMessage')
          throw new AccessDeniedError(`stranger may not ${action}`);
      },
    });
  });

  afterAll(async () => {
    await sources?.stop();
    await sqs?.stop();
  });

  it('asks for each call Lambda makes, and polls only where the role allows it', async () => {
    for (const name of ['allowed', 'denied'])
      await sqs.client.send(
        new SendMessageCommand({
          QueueUrl: ctx.resources[name === 'allowed' ? 'Allowed' : 'Denied']?.ref,
          MessageBody: name,
        }),
      );
    const deadline = Date.now() + 8000;
    while (!asked.includes('reader sqs:DeleteMessage allowed') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 25));

    expect(delivered).toEqual(['reader: allowed']);
    expect(asked).toEqual(
      expect.arrayContaining([
        'reader sqs:GetQueueAttributes allowed',
        'reader sqs:ReceiveMessage allowed',
        'reader sqs:DeleteMessage allowed',
        'stranger sqs:ReceiveMessage denied',
      ]),
    );
    expect(traces.some((line) => /^Stranger polling denied failed: AccessDeniedException/.test(line))).toBe(
      true,
    );
    // The refused poller took nothing: the message waits on its queue.
    const { Attributes } = await sqs.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: ctx.resources.Denied?.ref,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    expect(Attributes?.ApproximateNumberOfMessages).toBe('1');
  });
});
