import { randomUUID } from 'node:crypto';
import type { AwsCallFaultMode } from '../faults.js';
import type { AwsCall, AwsCallService } from './requests.js';

/** An HTTP answer sent in place of the emulator's. */
export interface FaultAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The operations each service's faults may target; `conflict` only fits DynamoDB's writes. */
export const FAULTABLE_OPERATIONS: Record<AwsCallService, readonly string[]> = {
  dynamodb: [
    'GetItem',
    'PutItem',
    'UpdateItem',
    'DeleteItem',
    'Query',
    'Scan',
    'BatchGetItem',
    'BatchWriteItem',
    'TransactGetItems',
    'TransactWriteItems',
  ],
  sqs: [
    'SendMessage',
    'SendMessageBatch',
    'ReceiveMessage',
    'DeleteMessage',
    'DeleteMessageBatch',
    'ChangeMessageVisibility',
    'GetQueueAttributes',
    'StartMessageMoveTask',
  ],
  states: [
    'StartExecution',
    'DescribeExecution',
    'StopExecution',
    'RedriveExecution',
    'ListExecutions',
    'GetExecutionHistory',
    'SendTaskSuccess',
    'SendTaskFailure',
    'SendTaskHeartbeat',
  ],
  secretsmanager: ['GetSecretValue'],
};

const CONFLICTING_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems']);

export function faultModesOf(service: AwsCallService, operation: string): AwsCallFaultMode[] {
  return service === 'dynamodb' && CONFLICTING_WRITES.has(operation)
    ? ['throttle', 'conflict', 'unavailable']
    : ['throttle', 'unavailable'];
}

const DYNAMODB_ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';

function json(
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): FaultAnswer {
  return {
    status,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': randomUUID(),
      ...headers,
    },
    body: JSON.stringify(body),
  };
}

/**
 * DynamoDB cancels a whole transaction when one item is being written by another transaction, and says
 * which: one reason per item, `TransactionConflict` at that item's position, `None` elsewhere.
 */
function transactionConflict(call: AwsCall, conflictingTable: string | undefined): FaultAnswer {
  const position = Math.max(0, conflictingTable ? call.resources.indexOf(conflictingTable) : 0);
  const reasons = call.resources.map((_table, index) =>
    index === position
      ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }
      : { Code: 'None' },
  );
  const codes = reasons.map((reason) => reason.Code).join(', ');
  return json(400, {
    __type: `${DYNAMODB_ERROR_PREFIX}TransactionCanceledException`,
    Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
    CancellationReasons: reasons,
  });
}

function dynamodbAnswer(call: AwsCall, mode: AwsCallFaultMode, table: string | undefined): FaultAnswer {
  switch (mode) {
    case 'throttle':
      return json(400, {
        __type: `${DYNAMODB_ERROR_PREFIX}ProvisionedThroughputExceededException`,
        message:
          'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
      });
    case 'conflict':
      return call.operation === 'TransactWriteItems'
        ? transactionConflict(call, table)
        : json(400, {
            __type: `${DYNAMODB_ERROR_PREFIX}TransactionConflictException`,
            message: 'Transaction is ongoing for the item',
          });
    case 'unavailable':
      return json(500, {
        __type: `${DYNAMODB_ERROR_PREFIX}InternalServerError`,
        message: 'Internal server error',
      });
  }
}

/** SQS speaks JSON with query-compatible errors: the SDK reads the code from x-amzn-query-error first. */
function sqsAnswer(mode: AwsCallFaultMode): FaultAnswer {
  const [status, code, fault, message] =
    mode === 'throttle'
      ? [400, 'RequestThrottled', 'Sender', 'Request is throttled.']
      : [
          500,
          'InternalFailure',
          'Receiver',
          'The request processing has failed because of an unknown error.',
        ];
  return json(
    status,
    { __type: `com.amazonaws.sqs#${code}`, message },
    { 'x-amzn-query-error': `${code};${fault}` },
  );
}

/** Step Functions and Secrets Manager answer alike: ThrottlingException, or a 500 InternalFailure. */
function statesAnswer(mode: AwsCallFaultMode): FaultAnswer {
  return mode === 'throttle'
    ? json(400, { __type: 'ThrottlingException', message: 'Rate exceeded' })
    : json(500, { __type: 'InternalFailure', message: 'Internal Failure' });
}

/**
 * What the service itself answers for a fault, shaped as the SDK expects it, so the caller's own error
 * handling (and the SDK's retries: throttling and 5xx are retried, a cancelled transaction is not) is what
 * runs. `resource` is the table the fault targets, for a conflict's position.
 */
export function faultAnswer(call: AwsCall, mode: AwsCallFaultMode, resource?: string): FaultAnswer {
  switch (call.service) {
    case 'dynamodb':
      return dynamodbAnswer(call, mode, resource);
    case 'sqs':
      return sqsAnswer(mode);
    case 'states':
    case 'secretsmanager':
      return statesAnswer(mode);
  }
}
