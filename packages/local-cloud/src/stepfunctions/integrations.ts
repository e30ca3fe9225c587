import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isRecord } from '../template.js';

import {
  type JsonValue,
  type LambdaInvoker,
  type ServiceIntegration,
  TaskFailure,
  taskFailureFromLambdaError,
} from './tasks.js';

export function errorText(error: unknown): { error: string; cause: string } {
  if (error instanceof Error) {
    return { error: error.name, cause: error.message };
  }
  return { error: 'Error', cause: String(error) };
}

/** Unmodeled answers of SQS (throttling, 5xx): the Java SDK Step Functions calls with reports them so. */
const SQS_UNMODELED = new Set(['RequestThrottled', 'InternalFailure', 'InternalError', 'ServiceUnavailable']);

/**
 * How Step Functions names an SQS integration's failure: it calls SQS with the AWS SDK for Java, so a modeled
 * error keeps its exception name (`SQS.QueueDoesNotExistException`), any other answer of the service (throttling,
 * a 500) is `SQS.AmazonSQSException`, and a failure to reach it at all is `SQS.SdkClientException`.
 */
export function sqsTaskFailure(error: unknown): TaskFailure {
  const { error: name, cause } = errorText(error);
  const answered =
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== undefined;
  if (!answered) return new TaskFailure('SQS.SdkClientException', cause);
  if (SQS_UNMODELED.has(name)) return new TaskFailure('SQS.AmazonSQSException', cause);
  return new TaskFailure(`SQS.${name.endsWith('Exception') ? name : `${name}Exception`}`, cause);
}

/** sqs:sendMessage as Step Functions calls it: an object MessageBody is sent as JSON text. */
export function sqsSendMessageIntegration(client: SQSClient): ServiceIntegration {
  return async (parameters) => {
    if (!isRecord(parameters) || typeof parameters.QueueUrl !== 'string') {
      throw new TaskFailure('States.Runtime', 'sqs:sendMessage needs Parameters.QueueUrl');
    }
    const body = parameters.MessageBody;
    try {
      const response = await client.send(
        new SendMessageCommand({
          ...(parameters as Record<string, never>),
          QueueUrl: parameters.QueueUrl,
          MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      );
      return { MessageId: response.MessageId ?? '', MD5OfMessageBody: response.MD5OfMessageBody ?? '' };
    } catch (error) {
      throw sqsTaskFailure(error);
    }
  };
}

export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';

export function lambdaIntegration(lambda: LambdaInvoker): ServiceIntegration {
  return async (parameters, task): Promise<JsonValue> => {
    if (!isRecord(parameters) || typeof parameters.FunctionName !== 'string') {
      throw new TaskFailure('States.Runtime', 'lambda:invoke needs Parameters.FunctionName');
    }
    const outcome = lambda.invoke(parameters.FunctionName, parameters.Payload ?? {}, task);
    if (parameters.InvocationType === 'Event') {
      void outcome;
      return { StatusCode: 202, Payload: '' };
    }
    const result = await outcome;
    if (!result.ok) {
      throw taskFailureFromLambdaError(result.error);
    }
    return { ExecutedVersion: '$LATEST', Payload: (result.payload ?? null) as JsonValue, StatusCode: 200 };
  };
}
