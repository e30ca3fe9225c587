import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * One client per execution environment, reused across invocations (connection reuse is most of a
 * warm invoke's latency). Endpoints come from AWS_ENDPOINT_URL_* so the same bundle runs against
 * DynamoDB Local without a code path of its own.
 */
export const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
