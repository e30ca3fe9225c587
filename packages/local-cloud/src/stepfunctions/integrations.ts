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

function awsErrorName(prefix: string, error: unknown): TaskFailure {
  const { error: name, cause } = errorText(error);
  return new TaskFailure(`${prefix}.${name}`, cause);
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
      throw awsErrorName('SQS', error);
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
