import type { HistoryEvent, JsonValue } from '../stepfunctions-engine.js';

export const epochSeconds = (date: Date | string) => new Date(date).getTime() / 1000;
export const jsonText = (value: JsonValue | undefined) =>
  value === undefined ? undefined : JSON.stringify(value);
const isLambdaArn = (resource: string | undefined) => /^arn:[^:]+:lambda:/.test(resource ?? '');

/**
 * How AWS names a service integration in task events: arn:aws:states:::sqs:sendMessage.waitForTaskToken is
 * resourceType sqs, resource sendMessage.waitForTaskToken; arn:aws:states:::aws-sdk:dynamodb:putItem is
 * aws-sdk:dynamodb and putItem.
 */
export function taskResourceOf(resource: string | undefined): { resourceType: string; resource: string } {
  const [service = 'unknown', ...rest] = (resource ?? '').split(':').slice(5);
  if (service === 'aws-sdk' && rest.length > 1) {
    return { resourceType: `aws-sdk:${rest[0]}`, resource: rest.slice(1).join(':') };
  }
  return { resourceType: service, resource: rest.join(':') };
}

/** Maps the engine's history to AWS's event shapes; Lambda-ARN tasks report LambdaFunction* events as on AWS. */
export function toAwsHistoryEvent(event: HistoryEvent): Record<string, unknown> | undefined {
  const base = {
    id: event.id,
    previousEventId: event.previousEventId,
    timestamp: epochSeconds(event.timestamp),
  };
  const lambda = isLambdaArn(event.resource);
  const taskResource = taskResourceOf(event.resource);
  const errorDetails = { error: event.error, ...(event.cause ? { cause: event.cause } : {}) };
  if (event.type.endsWith('StateEntered')) {
    return {
      ...base,
      type: event.type,
      stateEnteredEventDetails: { name: event.stateName, input: jsonText(event.input) },
    };
  }
  if (event.type.endsWith('StateExited')) {
    return {
      ...base,
      type: event.type,
      stateExitedEventDetails: { name: event.stateName, output: jsonText(event.output) },
    };
  }
  switch (event.type) {
    case 'ExecutionStarted':
      return { ...base, type: event.type, executionStartedEventDetails: { input: jsonText(event.input) } };
    case 'ExecutionSucceeded':
      return {
        ...base,
        type: event.type,
        executionSucceededEventDetails: { output: jsonText(event.output) },
      };
    case 'ExecutionFailed':
      return {
        ...base,
        type: event.type,
        executionFailedEventDetails: { error: event.error, cause: event.cause },
      };
    case 'ExecutionTimedOut':
      return {
        ...base,
        type: event.type,
        executionTimedOutEventDetails: { error: event.error, cause: event.cause },
      };
    case 'ExecutionAborted':
      return {
        ...base,
        type: event.type,
        executionAbortedEventDetails: { error: event.error, cause: event.cause },
      };
    case 'ExecutionRedriven':
      return {
        ...base,
        type: event.type,
        executionRedrivenEventDetails: { redriveCount: event.redriveCount },
      };
    case 'TaskScheduled':
      return lambda
        ? {
            ...base,
            type: 'LambdaFunctionScheduled',
            lambdaFunctionScheduledEventDetails: { resource: event.resource, input: jsonText(event.input) },
          }
        : {
            ...base,
            type: event.type,
            taskScheduledEventDetails: { ...taskResource, parameters: jsonText(event.input) },
          };
    case 'TaskStarted':
      return lambda
        ? { ...base, type: 'LambdaFunctionStarted' }
        : { ...base, type: event.type, taskStartedEventDetails: taskResource };
    case 'TaskSubmitted':
      return {
        ...base,
        type: event.type,
        taskSubmittedEventDetails: { ...taskResource, output: jsonText(event.output) },
      };
    case 'TaskSucceeded':
      return lambda
        ? {
            ...base,
            type: 'LambdaFunctionSucceeded',
            lambdaFunctionSucceededEventDetails: { output: jsonText(event.output) },
          }
        : {
            ...base,
            type: event.type,
            taskSucceededEventDetails: { ...taskResource, output: jsonText(event.output) },
          };
    case 'TaskFailed':
      return lambda
        ? {
            ...base,
            type: 'LambdaFunctionFailed',
            lambdaFunctionFailedEventDetails: { error: event.error, cause: event.cause },
          }
        : {
            ...base,
            type: event.type,
            taskFailedEventDetails: { ...taskResource, error: event.error, cause: event.cause },
          };
    case 'TaskTimedOut':
      return lambda
        ? { ...base, type: 'LambdaFunctionTimedOut', lambdaFunctionTimedOutEventDetails: errorDetails }
        : { ...base, type: event.type, taskTimedOutEventDetails: { ...taskResource, ...errorDetails } };
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed': {
      const key = `${event.type.charAt(0).toLowerCase()}${event.type.slice(1)}EventDetails`;
      return { ...base, type: event.type, [key]: { name: event.stateName, index: event.index } };
    }
    default:
      return undefined;
  }
}
