import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CfnTemplate, isRecord, type PhysicalNames, resourcesOfType } from './template.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** What GenerateSecretString draws from, as Secrets Manager reads its flags (32 characters by default). */
function generatedSecret(spec: Record<string, unknown>): string {
  const length = typeof spec.PasswordLength === 'number' ? spec.PasswordLength : 32;
  const excluded = typeof spec.ExcludeCharacters === 'string' ? spec.ExcludeCharacters : '';
  const alphabet = [
    spec.ExcludeLowercase === true ? '' : LETTERS.slice(0, 26),
    spec.ExcludeUppercase === true ? '' : LETTERS.slice(26),
    spec.ExcludeNumbers === true ? '' : DIGITS,
    spec.ExcludePunctuation === true ? '' : PUNCTUATION,
    spec.IncludeSpace === true ? ' ' : '',
  ]
    .join('')
    .split('')
    .filter((character) => !excluded.includes(character));
  if (alphabet.length === 0) throw new Error('GenerateSecretString excludes every character');
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % alphabet.length);
  let secret = '';
  while (secret.length < length)
    for (const byte of randomBytes(length * 2))
      if (byte < limit && secret.length < length) secret += alphabet[byte % alphabet.length];
  return secret;
}

interface LocalSecret {
  arn: string;
  name: string;
  value: string;
  versionId: string;
  createdDate: number;
}

/**
 * The template's Secrets Manager secrets, with their values made at boot as Secrets Manager makes them at the
 * first deploy (a literal SecretString, or GenerateSecretString's draw), answering GetSecretValue and
 * DescribeSecret by name or ARN in Secrets Manager's JSON protocol.
 */
export class LocalSecrets {
  private readonly secrets: LocalSecret[] = [];

  constructor(template: CfnTemplate, names: PhysicalNames) {
    for (const [logicalId, resource] of resourcesOfType(template, 'AWS::SecretsManager::Secret')) {
      const physical = names[logicalId];
      if (!physical) continue;
      const properties = resource.Properties ?? {};
      const generate = properties.GenerateSecretString;
      const value =
        typeof properties.SecretString === 'string'
          ? properties.SecretString
          : generatedSecret(isRecord(generate) ? generate : {});
      this.secrets.push({
        arn: physical.ref,
        name: physical.attributes.Name ?? physical.ref,
        value,
        versionId: randomUUID(),
        createdDate: Date.now() / 1000,
      });
    }
  }

  /** Every secret with its value: the local cloud's own view, for tests and `GET /_local/secrets`. */
  list(): { name: string; arn: string; value: string }[] {
    return this.secrets.map(({ name, arn, value }) => ({ name, arn, value }));
  }

  /** By ARN, by name, or by an ARN without its random suffix, as Secrets Manager finds a SecretId. */
  find(secretId: string): LocalSecret | undefined {
    return this.secrets.find(
      (secret) =>
        secret.arn === secretId || secret.name === secretId || secret.arn.startsWith(`${secretId}-`),
    );
  }

  /** Answers a call whose X-Amz-Target is `secretsmanager.<Operation>`. */
  handle(operation: string, rawBody: string, response: ServerResponse): void {
    const [status, body] = this.answer(operation, rawBody);
    response.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': randomUUID(),
    });
    response.end(JSON.stringify(body));
  }

  private answer(operation: string, rawBody: string): [number, unknown] {
    let input: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(rawBody || '{}');
      if (isRecord(parsed)) input = parsed;
    } catch {
      return [400, { __type: 'InvalidRequestException', message: 'The request body is not JSON' }];
    }
    if (operation !== 'GetSecretValue' && operation !== 'DescribeSecret')
      return [400, { __type: 'UnknownOperationException', message: `${operation} is not emulated locally` }];
    const secret = this.find(typeof input.SecretId === 'string' ? input.SecretId : '');
    if (!secret)
      return [
        400,
        { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." },
      ];
    const { arn, name, value, versionId, createdDate } = secret;
    if (operation === 'DescribeSecret')
      return [
        200,
        {
          ARN: arn,
          Name: name,
          CreatedDate: createdDate,
          VersionIdsToStages: { [versionId]: ['AWSCURRENT'] },
        },
      ];
    return [
      200,
      {
        ARN: arn,
        Name: name,
        SecretString: value,
        VersionId: versionId,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: createdDate,
      },
    ];
  }
}

/** `secretsmanager.GetSecretValue` is a Secrets Manager call: its operation, or undefined for anything else. */
export function secretsManagerOperation(request: IncomingMessage): string | undefined {
  const target = request.headers['x-amz-target'];
  return typeof target === 'string' && target.startsWith('secretsmanager.')
    ? target.slice('secretsmanager.'.length)
    : undefined;
}
