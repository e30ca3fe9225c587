import { describe, expect, it } from 'vitest';
import { sqsTaskFailure } from '../src/stepfunctions/integrations.js';

const answered = (name: string, status: number) =>
  Object.assign(new Error(`${name} answered`), { name, $metadata: { httpStatusCode: status } });

describe('an SQS integration failure, named as Step Functions names it', () => {
  it('is SQS.AmazonSQSException for SQS throttling and 5xx answers, which a saga can retry', () => {
    expect(sqsTaskFailure(answered('RequestThrottled', 400)).name).toBe('SQS.AmazonSQSException');
    expect(sqsTaskFailure(answered('InternalFailure', 500)).name).toBe('SQS.AmazonSQSException');
  });

  it('keeps a modeled error as its exception class, and a failure to reach SQS is SdkClientException', () => {
    expect(sqsTaskFailure(answered('QueueDoesNotExist', 400)).name).toBe('SQS.QueueDoesNotExistException');
    expect(sqsTaskFailure(new Error('connect ECONNREFUSED')).name).toBe('SQS.SdkClientException');
  });
});
