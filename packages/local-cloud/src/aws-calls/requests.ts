import type { IncomingHttpHeaders } from 'node:http';

export const AWS_CALL_SERVICES = ['dynamodb', 'sqs', 'states', 'secretsmanager'] as const;
export type AwsCallService = (typeof AWS_CALL_SERVICES)[number];

/** The JSON protocols' X-Amz-Target prefixes: `DynamoDB_20120810.PutItem` is dynamodb:PutItem. */
const SERVICE_BY_TARGET_PREFIX: Record<string, AwsCallService> = {
  DynamoDB_20120810: 'dynamodb',
  AmazonSQS: 'sqs',
  AWSStepFunctions: 'states',
  secretsmanager: 'secretsmanager',
};

/** One AWS API call as the emulators receive it. */
export interface AwsCall {
  service: AwsCallService;
  operation: string;
  /**
   * The resources it names, by name: table names, queue names, state machine names. For a transaction, in
   * the order of its items (a name repeats when two items touch one table), so a fault can answer at an
   * item's position.
   */
  resources: string[];
  /** The access key it was signed with: who made it. */
  accessKeyId?: string;
  body: Record<string, unknown>;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/dynamodb/aws4_request, …` names the signer's key. */
export function accessKeyIdOf(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  const match = typeof authorization === 'string' ? /Credential=([^/,\s]+)\//.exec(authorization) : null;
  return match?.[1];
}

const lastSegment = (value: string, separator: string) => value.split(separator).at(-1) ?? value;

/** The queue a URL names; URLs of one queue differ in host form (sqs.<region>.localhost vs 127.0.0.1). */
export const queueNameOfUrl = (queueUrl: string) => lastSegment(queueUrl.replace(/\/+$/, ''), '/');

/** `…:stateMachine:<name>[:<version or alias>]` and `…:execution:<name>:<execution>` both name the machine. */
export function stateMachineNameOfArn(arn: string): string | undefined {
  const [, , , , , kind, name] = arn.split(':');
  return (kind === 'stateMachine' || kind === 'execution') && name ? name : undefined;
}

/** `…:secret:<name>-AbCdEf` and `<name>` both name the secret `<name>`. */
export function secretNameOf(secretId: string): string {
  const [, , , , , kind, name] = secretId.split(':');
  return kind === 'secret' && name ? name.replace(/-[A-Za-z0-9]{6}$/, '') : secretId;
}

function dynamodbTables(body: Record<string, unknown>): string[] {
  if (typeof body.TableName === 'string') return [body.TableName];
  if (isRecord(body.RequestItems)) return Object.keys(body.RequestItems);
  if (Array.isArray(body.TransactItems)) {
    return body.TransactItems.flatMap((item) => {
      const action = isRecord(item) ? Object.values(item).find(isRecord) : undefined;
      return typeof action?.TableName === 'string' ? [action.TableName] : [];
    });
  }
  return [];
}

function resourcesOf(service: AwsCallService, body: Record<string, unknown>): string[] {
  switch (service) {
    case 'dynamodb':
      return dynamodbTables(body);
    case 'sqs':
      return typeof body.QueueUrl === 'string' ? [queueNameOfUrl(body.QueueUrl)] : [];
    case 'states': {
      const arn = [body.stateMachineArn, body.executionArn].find((value) => typeof value === 'string');
      const name = typeof arn === 'string' ? stateMachineNameOfArn(arn) : undefined;
      return name ? [name] : [];
    }
    case 'secretsmanager':
      return typeof body.SecretId === 'string' ? [secretNameOf(body.SecretId)] : [];
  }
}

/**
 * Reads a call of the JSON protocols (DynamoDB, SQS, Step Functions), or undefined for anything else
 * (SQS's legacy query protocol among them, which the SDK v3 no longer sends).
 */
export function parseAwsCall(headers: IncomingHttpHeaders, rawBody: string): AwsCall | undefined {
  const target = headers['x-amz-target'];
  if (typeof target !== 'string') return undefined;
  const [prefix = '', operation = ''] = target.split('.');
  const service = SERVICE_BY_TARGET_PREFIX[prefix];
  if (!service || !operation) return undefined;
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = rawBody ? JSON.parse(rawBody) : {};
    if (isRecord(parsed)) body = parsed;
  } catch {
    // A malformed body is the emulator's to refuse; it still counts as a call of this operation.
  }
  return {
    service,
    operation,
    resources: resourcesOf(service, body),
    accessKeyId: accessKeyIdOf(headers),
    body,
  };
}
