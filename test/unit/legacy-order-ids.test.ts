import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { deriveOrderId, legacyOrderId, requestHash } from '../../lambdas/orders-api/identity.js';
import { ORDER_BODY, postEvent } from './api-events.js';
import { TEST_ORDER_ID_KEY } from './order-id-key.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);

const body = ORDER_BODY;
const LEGACY_ID = legacyOrderId('c-1', 'key-1');
const KEYED_ID = deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'key-1');

const post = (payload: unknown) => postEvent(payload);

/** The API as configured with a cut-off: the handler reads it once, at cold start. */
async function handlerUntil(
  cutoff: string,
): Promise<(event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>> {
  vi.resetModules();
  process.env.LEGACY_ORDER_IDS_UNTIL = cutoff;
  try {
    return (await import('../../lambdas/orders-api/handler.js')).handler;
  } finally {
    delete process.env.LEGACY_ORDER_IDS_UNTIL;
  }
}

describe('a POST first sent before order ids were keyed', () => {
  let beforeCutoff: Awaited<ReturnType<typeof handlerUntil>>;
  let afterCutoff: Awaited<ReturnType<typeof handlerUntil>>;
  beforeAll(async () => {
    beforeCutoff = await handlerUntil('2999-01-01T00:00:00Z');
    afterCutoff = await handlerUntil('2000-01-01T00:00:00Z');
  });

  beforeEach(() => {
    ddb.reset();
    sfn.reset();
    ddb.on(TransactWriteCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    ddb.on(GetCommand, { Key: { pk: `ORDER#${LEGACY_ID}`, sk: 'ORDER' } }).resolves({
      Item: {
        orderId: LEGACY_ID,
        status: 'CONFIRMED',
        ...body,
        requestHash: requestHash(body),
        executions: ['arn:aws:states:us-east-1:111111111111:execution:OrderSaga:x'],
      },
    });
  });

  it('finds the order placed under the old id, until the cut-off: no second order, no second saga', async () => {
    const response = await beforeCutoff(post(body));
    // A settled order is answered 200, as any replay of it is.
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ orderId: LEGACY_ID, status: 'CONFIRMED' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('refuses another body under that key, as any replay', async () => {
    const response = await beforeCutoff(post({ ...body, items: [{ sku: 'SKU-1', quantity: 3 }] }));
    expect(response.statusCode).toBe(422);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('places a new order under the keyed id once the cut-off has passed, and never reads the old id', async () => {
    const response = await afterCutoff(post(body));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toMatchObject({ orderId: KEYED_ID });
    expect(ddb).not.toHaveReceivedCommandWith(GetCommand, { Key: { pk: `ORDER#${LEGACY_ID}`, sk: 'ORDER' } });
  });
});
