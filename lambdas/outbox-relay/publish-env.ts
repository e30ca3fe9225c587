import { SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import type { PublishDeps } from './publish.js';

/** What the relay and the republisher publish with, read once at cold start. */
export function publishDepsFromEnv(publisher: PublishDeps['publisher']): PublishDeps {
  return {
    sqs: new SQSClient({}),
    db: documentClient,
    queueUrl: requireEnv('ORDER_EVENTS_QUEUE_URL'),
    tableName: requireEnv('TABLE_NAME'),
    publisher,
  };
}
