import type { AwsCall } from '../aws-calls/requests.js';
import { queueNameOfUrl } from '../aws-calls/requests.js';

/** One question IAM is asked about a call: an action on a resource, with the request's condition keys. */
export interface AuthorizationRequest {
  action: string;
  resource: string;
  context?: Record<string, string[]>;
}

export interface ArnScope {
  region: string;
  accountId: string;
  /** The execution a task token belongs to (see TaskTokenRegistry.executionOf). */
  executionOfTaskToken?: (token: string) => string | undefined;
  /** The ARN of a secret named by its name. */
  secretArnOf?: (name: string) => string | undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// A transaction is authorized item by item, each as the single-item action it stands for.
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
  Get: 'dynamodb:GetItem',
};

// SQS authorizes a batch as the single-message action: there is no sqs:SendMessageBatch permission.
const SQS_BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'sqs:SendMessage',
  DeleteMessageBatch: 'sqs:DeleteMessage',
  ChangeMessageVisibilityBatch: 'sqs:ChangeMessageVisibility',
};

export const tableArn = (scope: ArnScope, table: string) =>
  `arn:aws:dynamodb:${scope.region}:${scope.accountId}:table/${table}`;
export const queueArn = (scope: ArnScope, queue: string) =>
  `arn:aws:sqs:${scope.region}:${scope.accountId}:${queue}`;

function dynamodbRequests(call: AwsCall, scope: ArnScope): AuthorizationRequest[] {
  const { body, operation } = call;
  if (Array.isArray(body.TransactItems)) {
    return body.TransactItems.flatMap((item) => {
      if (!isRecord(item)) return [];
      return Object.entries(item).flatMap(([kind, action]) =>
        isRecord(action) && typeof action.TableName === 'string' && TRANSACT_ITEM_ACTIONS[kind]
          ? [{ action: TRANSACT_ITEM_ACTIONS[kind], resource: tableArn(scope, action.TableName) }]
          : [],
      );
    });
  }
  const action = `dynamodb:${operation}`;
  if (isRecord(body.RequestItems))
    return Object.keys(body.RequestItems).map((table) => ({ action, resource: tableArn(scope, table) }));
  if (typeof body.TableName !== 'string') return [{ action, resource: '*' }];
  const table = tableArn(scope, body.TableName);
  // A query or scan of an index is authorized on the index: a grant on the table alone does not cover it.
  const resource = typeof body.IndexName === 'string' ? `${table}/index/${body.IndexName}` : table;
  return [{ action, resource }];
}

function sqsRequests(call: AwsCall, scope: ArnScope): AuthorizationRequest[] {
  const { body, operation } = call;
  const action = SQS_BATCH_ACTIONS[operation] ?? `sqs:${operation}`;
  if (typeof body.QueueUrl === 'string')
    return [{ action, resource: queueArn(scope, queueNameOfUrl(body.QueueUrl)) }];
  if (typeof body.QueueName === 'string') return [{ action, resource: queueArn(scope, body.QueueName) }];
  if (typeof body.SourceArn === 'string') return [{ action, resource: body.SourceArn }];
  return [{ action, resource: '*' }];
}

/**
 * A state machine ARN as Step Functions authorizes it: a version or alias ARN (`…:stateMachine:name:qualifier`)
 * on the unqualified state machine ARN, with the qualifier in `states:StateMachineQualifier`.
 */
export function stateMachineAuthorization(arn: string): Pick<AuthorizationRequest, 'resource' | 'context'> {
  const parts = arn.split(':');
  if (parts[5] !== 'stateMachine' || parts.length < 8) return { resource: arn };
  const qualifier = parts.slice(7).join(':');
  return {
    resource: parts.slice(0, 7).join(':'),
    context: { 'states:StateMachineQualifier': [qualifier] },
  };
}

/** `…:execution:<machine>:<name>` belongs to `…:stateMachine:<machine>`. */
function stateMachineOfExecution(executionArn: string): string {
  const parts = executionArn.split(':');
  return [...parts.slice(0, 5), 'stateMachine', parts[6] ?? ''].join(':');
}

function statesRequests(call: AwsCall, scope: ArnScope): AuthorizationRequest[] {
  const { body, operation } = call;
  const action = `states:${operation}`;
  if (typeof body.taskToken === 'string') {
    // IAM lists SendTaskSuccess and its kin without a resource type, yet Step Functions authorizes them on the
    // state machine whose execution issued the token (the resource CDK's grantTaskResponse names). A token it
    // never issued is the API's to refuse (InvalidToken), not IAM's.
    const execution = scope.executionOfTaskToken?.(body.taskToken);
    return execution ? [{ action, resource: stateMachineOfExecution(execution) }] : [];
  }
  if (typeof body.executionArn === 'string') return [{ action, resource: body.executionArn }];
  if (typeof body.stateMachineArn === 'string')
    return [{ action, ...stateMachineAuthorization(body.stateMachineArn) }];
  return [{ action, resource: '*' }];
}

/** The questions IAM asks for one call of a function or a state machine to DynamoDB, SQS or Step Functions. */
export function authorizationRequestsOf(call: AwsCall, scope: ArnScope): AuthorizationRequest[] {
  switch (call.service) {
    case 'dynamodb':
      return dynamodbRequests(call, scope);
    case 'sqs':
      return sqsRequests(call, scope);
    case 'states':
      return statesRequests(call, scope);
    case 'secretsmanager':
      return secretsRequests(call, scope);
  }
}

/**
 * A secret is authorized on its full ARN, random suffix included; a caller naming it by name is authorized on
 * the ARN the local cloud gave that name (ArnScope.secretArnOf).
 */
function secretsRequests(call: AwsCall, scope: ArnScope): AuthorizationRequest[] {
  const secretId = typeof call.body.SecretId === 'string' ? call.body.SecretId : '';
  const resource = secretId.startsWith('arn:') ? secretId : (scope.secretArnOf?.(secretId) ?? secretId);
  return [{ action: `secretsmanager:${call.operation}`, resource }];
}

/**
 * The ARN lambda:InvokeFunction is authorized on for what a Task names: a name, a `name:qualifier`, or an ARN,
 * qualified or not. A qualified one stays qualified: a grant on `function:name:*` covers it, one on the bare
 * function ARN does not.
 */
export function functionInvokeArn(functionNameOrArn: string, scope: ArnScope): string {
  if (functionNameOrArn.startsWith('arn:')) return functionNameOrArn;
  return `arn:aws:lambda:${scope.region}:${scope.accountId}:function:${functionNameOrArn}`;
}
