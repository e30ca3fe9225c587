import {
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler } from '../../lambdas/orders-api/handler.js';
import { stepsFromHistory } from '../../lambdas/orders-api/history.js';
import { deriveOrderId, requestHash } from '../../lambdas/orders-api/identity.js';
import { ORDER_BODY, postEvent } from './api-events.js';
import { cancelled } from './aws-fakes.js';
import { TEST_ORDER_ID_KEY } from './order-id-key.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);

const order = ORDER_BODY;
const ORDER_ID = deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'key-1');
const SAGA_ARN = `arn:aws:states:us-east-1:111111111111:execution:OrderSaga:${ORDER_ID}`;

const post = postEvent;

function get(orderId: string, include?: string): APIGatewayProxyEvent {
  return {
    resource: '/orders/{orderId}',
    path: `/orders/${orderId}`,
    httpMethod: 'GET',
    headers: {},
    body: null,
    pathParameters: { orderId },
    queryStringParameters: include === undefined ? null : { include },
  } as unknown as APIGatewayProxyEvent;
}

const parse = (body: string) => JSON.parse(body) as Record<string, unknown>;

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  sfn.on(StartExecutionCommand).resolves({ executionArn: SAGA_ARN, startDate: new Date() });
});

describe('POST /orders', () => {
  it('writes the PENDING order once and starts its saga under the order id', async () => {
    const response = await handler(post(order));

    expect(response.statusCode).toBe(202);
    expect(parse(response.body)).toEqual({
      orderId: ORDER_ID,
      status: 'PENDING',
      links: { self: `/orders/${ORDER_ID}` },
    });
    expect(response.headers?.location).toBe(`/orders/${ORDER_ID}`);
    const [put, outbox] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(put?.Put).toMatchObject({
      TableName: 'service-table',
      Item: {
        pk: `ORDER#${ORDER_ID}`,
        sk: 'ORDER',
        status: 'PENDING',
        version: 1,
        customerId: 'c-1',
        requestHash: requestHash(order),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(outbox?.Put).toMatchObject({
      Item: {
        pk: `OUTBOX#${ORDER_ID}`,
        sk: 'OrderPlaced#1',
        kind: 'outbox',
        eventId: `${ORDER_ID}#OrderPlaced#1`,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    const start = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(start?.name).toBe(ORDER_ID);
    expect(start?.stateMachineArn).toBe('arn:aws:states:us-east-1:111111111111:stateMachine:OrderSaga:live');
    expect(JSON.parse(start?.input ?? '{}')).toMatchObject({
      orderId: ORDER_ID,
      customerId: 'c-1',
      items: order.items,
    });
  });

  it('records the execution on the order once its start succeeded', async () => {
    await handler(post(order));

    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `ORDER#${ORDER_ID}`, sk: 'ORDER' },
      UpdateExpression: 'ADD executionArns :arn',
      ExpressionAttributeValues: { ':arn': new Set([SAGA_ARN]) },
    });
  });

  it('carries every address field into the saga, line2 included', async () => {
    const withLine2 = { ...order, shippingAddress: { ...order.shippingAddress, line2: 'Apt 4B' } };
    await handler(post(withLine2));

    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(input.shippingAddress).toEqual(withLine2.shippingAddress);
  });

  it('answers concurrent requests with one key with the order the winner wrote, never 500', async () => {
    const stored = {
      orderId: ORDER_ID,
      status: 'PENDING',
      requestHash: requestHash(order),
      traceId: 't',
      ...order,
    };
    // DynamoDB cancels one of two transactions that touch one item at once; the winner's order is then readable.
    ddb.on(TransactWriteCommand).rejects(cancelled({ code: 'TransactionConflict' }, { code: 'None' }));
    ddb.on(GetCommand).resolves({ Item: { ...stored, executionArns: new Set([SAGA_ARN]) } });

    const response = await handler(post(order));

    expect(response.statusCode).toBe(202);
    expect(parse(response.body).orderId).toBe(ORDER_ID);
    // The winner recorded its execution: the loser starts nothing.
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('answers 409 with Retry-After when the racing order is not readable yet', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled({ code: 'TransactionConflict' }, { code: 'None' }));
    ddb.on(GetCommand).resolves({});

    const response = await handler(post(order));

    expect(response.statusCode).toBe(409);
    expect(response.headers?.['retry-after']).toBe('1');
    expect(parse(response.body)).toMatchObject({ error: { code: 'ConcurrentRequest' } });
  });

  it('never starts a recorded saga again on a replay', async () => {
    const stored = {
      orderId: ORDER_ID,
      status: 'PENDING',
      requestHash: requestHash(order),
      traceId: 't',
      executionArns: new Set([SAGA_ARN]),
      ...order,
    };
    ddb.on(TransactWriteCommand).rejects(cancelled({ code: 'ConditionalCheckFailed', item: stored }));

    expect((await handler(post(order))).statusCode).toBe(202);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('starts a replay whose first start was never recorded, idempotently, and records it', async () => {
    const stored = {
      orderId: ORDER_ID,
      status: 'PENDING',
      requestHash: requestHash(order),
      traceId: 't',
      ...order,
    };
    ddb.on(TransactWriteCommand).rejects(cancelled({ code: 'ConditionalCheckFailed', item: stored }));
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));

    const response = await handler(post({ ...order, items: [{ quantity: 2, sku: 'SKU-1' }] }));

    expect(response.statusCode).toBe(202);
    expect(parse(response.body).orderId).toBe(ORDER_ID);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: ORDER_ID });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ExpressionAttributeValues: { ':arn': new Set([SAGA_ARN]) },
    });
  });

  it('answers a replay of a finished order with 200 and its status, starting nothing', async () => {
    const stored = {
      orderId: ORDER_ID,
      status: 'CONFIRMED',
      requestHash: requestHash(order),
      traceId: 't',
      ...order,
    };
    ddb.on(TransactWriteCommand).rejects(cancelled({ code: 'ConditionalCheckFailed', item: stored }));

    const response = await handler(post(order));

    expect(response.statusCode).toBe(200);
    expect(parse(response.body).status).toBe('CONFIRMED');
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('refuses the same key with another body with 422 and starts nothing', async () => {
    const stored = { orderId: ORDER_ID, status: 'PENDING', requestHash: requestHash(order), ...order };
    ddb.on(TransactWriteCommand).rejects(cancelled({ code: 'ConditionalCheckFailed', item: stored }));

    const response = await handler(post({ ...order, items: [{ sku: 'SKU-1', quantity: 3 }] }));

    expect(response.statusCode).toBe(422);
    expect(parse(response.body)).toMatchObject({ error: { code: 'IdempotencyKeyReused' } });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('still answers 202 when the start fails after the write: the sweeper starts the saga', async () => {
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));

    expect((await handler(post(order))).statusCode).toBe(202);
  });

  it.each([
    ['missing', { 'Idempotency-Key': undefined }, 'InvalidIdempotencyKey'],
    ['too long', { 'Idempotency-Key': 'k'.repeat(65) }, 'InvalidIdempotencyKey'],
    ['with a space', { 'Idempotency-Key': 'a b' }, 'InvalidIdempotencyKey'],
  ])('rejects an Idempotency-Key that is %s with 400, writing nothing', async (_case, headers, code) => {
    const response = await handler(post(order, headers));

    expect(response.statusCode).toBe(400);
    expect(parse(response.body)).toMatchObject({ error: { code } });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it.each([
    ['a non-JSON content type', post(order, { 'Content-Type': 'text/plain' }), 415, 'UnsupportedMediaType'],
    ['a body over 16 KiB', post({ ...order, pad: 'x'.repeat(17_000) }), 413, 'PayloadTooLarge'],
    ['invalid JSON', post('{"customerId":'), 400, 'MalformedJson'],
    ['a missing field', post({ customerId: 'c-1', items: order.items }), 400, 'ValidationFailed'],
    ['an unknown field', post({ ...order, coupon: 'FREE' }), 400, 'ValidationFailed'],
    ['a quantity of 101', post({ ...order, items: [{ sku: 'S', quantity: 101 }] }), 400, 'ValidationFailed'],
    [
      'a lower-case country',
      post({ ...order, shippingAddress: { ...order.shippingAddress, country: 'us' } }),
      400,
      'ValidationFailed',
    ],
    [
      'a lone surrogate',
      post(
        `{"customerId":"c-1","items":[{"sku":"S","quantity":1}],"shippingAddress":{"line1":"\\ud800","city":"c","postalCode":"p","country":"US"}}`,
      ),
      400,
      'ValidationFailed',
    ],
  ])('rejects %s, writing nothing', async (_case, event, status, code) => {
    const response = await handler(event);

    expect(response.statusCode).toBe(status);
    expect(parse(response.body)).toMatchObject({ error: { code } });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('names every problem of a bad order with its path', async () => {
    const response = await handler(
      post({
        customerId: '',
        items: [
          { sku: 'A', quantity: 1 },
          { sku: 'A', quantity: 0 },
        ],
        shippingAddress: order.shippingAddress,
      }),
    );

    const details = (parse(response.body).error as { details: { path: string; message: string }[] }).details;
    expect(details.map((detail) => detail.path)).toEqual(
      expect.arrayContaining(['/customerId', '/items/1/quantity']),
    );
  });

  it('names an unknown field and a missing one by their own paths', async () => {
    const { shippingAddress, ...withoutAddress } = order;
    const response = await handler(
      post({ ...withoutAddress, coupon: 'FREE', shippingAddress: { ...shippingAddress, floor: 3 } }),
    );

    expect((parse(response.body).error as { details: unknown[] }).details).toEqual(
      expect.arrayContaining([
        { path: '/coupon', message: 'unknown field "coupon"' },
        { path: '/shippingAddress/floor', message: 'unknown field "floor"' },
      ]),
    );
    const missing = await handler(post(withoutAddress));
    expect((parse(missing.body).error as { details: unknown[] }).details).toEqual([
      { path: '/shippingAddress', message: 'missing field "shippingAddress"' },
    ]);
  });

  it('rejects a repeated sku with the path of the repeat', async () => {
    const response = await handler(
      post({
        ...order,
        items: [
          { sku: 'A', quantity: 1 },
          { sku: 'A', quantity: 2 },
        ],
      }),
    );

    expect(response.statusCode).toBe(400);
    expect(parse(response.body)).toMatchObject({
      error: { details: [{ path: '/items/1/sku', message: 'repeats the sku of /items/0' }] },
    });
  });

  it('answers DynamoDB throttling with 429 and Retry-After', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(Object.assign(new Error('slow'), { name: 'ProvisionedThroughputExceededException' }));

    const response = await handler(post(order));
    expect(response.statusCode).toBe(429);
    expect(response.headers?.['retry-after']).toBe('1');
  });

  it('answers an unexpected failure with a 500 that leaks no stack', async () => {
    ddb.on(TransactWriteCommand).rejects(new Error('connection reset at socket.js:42'));

    const response = await handler(post(order));
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('socket.js');
  });
});

describe('GET /orders/{orderId}', () => {
  it('answers 404 for an unknown or malformed id without reading history', async () => {
    ddb.on(GetCommand).resolves({});

    expect((await handler(get(ORDER_ID))).statusCode).toBe(404);
    expect((await handler(get('../../etc'))).statusCode).toBe(404);
    expect(sfn).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 0);
  });

  it('shows status, total and failure from the order record alone, with no Step Functions call', async () => {
    ddb.on(GetCommand).resolves({
      Item: {
        orderId: ORDER_ID,
        status: 'CANCELLED',
        ...order,
        totalCents: 2598,
        failure: {
          step: 'ChargePayment',
          error: 'InsufficientFunds',
          cause: 'Balance 4999 cents is below the 100000 cents due',
        },
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:01.000Z',
      },
    });

    const response = await handler(get(ORDER_ID));
    const body = parse(response.body);

    expect(response.statusCode).toBe(200);
    expect(body).toMatchObject({
      orderId: ORDER_ID,
      status: 'CANCELLED',
      totalCents: 2598,
      failure: { step: 'ChargePayment' },
    });
    expect(body).not.toHaveProperty('steps');
    expect(sfn).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 0);
  });

  it('refuses an include it does not know, before reading anything', async () => {
    const response = await handler(get(ORDER_ID, 'everything'));
    expect(response.statusCode).toBe(400);
    expect(parse(response.body)).toMatchObject({ error: { code: 'InvalidInclude' } });
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 0);
  });

  it('adds the step history with include=steps', async () => {
    ddb.on(GetCommand).resolves({
      Item: {
        orderId: ORDER_ID,
        status: 'CANCELLED',
        ...order,
        failure: { step: 'ChargePayment', error: 'InsufficientFunds', cause: 'short' },
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:01.000Z',
      },
    });
    const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second));
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 1,
          timestamp: at(0),
          type: 'TaskStateEntered',
          stateEnteredEventDetails: { name: 'ReserveInventory' },
        },
        { id: 2, timestamp: at(0), type: 'LambdaFunctionScheduled' },
        {
          id: 3,
          timestamp: at(1),
          type: 'LambdaFunctionSucceeded',
          lambdaFunctionSucceededEventDetails: { output: '{"totalCents":2598}' },
        },
        {
          id: 4,
          timestamp: at(1),
          type: 'TaskStateEntered',
          stateEnteredEventDetails: { name: 'ChargePayment' },
        },
        { id: 5, timestamp: at(1), type: 'LambdaFunctionScheduled' },
        {
          id: 6,
          timestamp: at(2),
          type: 'LambdaFunctionFailed',
          lambdaFunctionFailedEventDetails: {
            error: 'InsufficientFunds',
            cause: '{"errorMessage":"Balance 4999 cents is below the 100000 cents due","trace":["x"]}',
          },
        },
      ],
    });

    const response = await handler(get(ORDER_ID, 'steps'));
    const body = parse(response.body);

    expect(response.statusCode).toBe(200);
    expect(body).toMatchObject({
      orderId: ORDER_ID,
      status: 'CANCELLED',
      failure: { step: 'ChargePayment', error: 'InsufficientFunds', cause: 'The payment was not accepted' },
    });
    // The step's own text names the customer's balance: it stays in the logs and the execution history.
    expect(response.body).not.toContain('4999');
    expect(body.steps).toEqual([
      {
        step: 'ReserveInventory',
        outcome: 'succeeded',
        attempts: 1,
        startedAt: at(0).toISOString(),
        endedAt: at(1).toISOString(),
      },
      {
        step: 'ChargePayment',
        outcome: 'failed',
        attempts: 1,
        startedAt: at(1).toISOString(),
        endedAt: at(2).toISOString(),
        error: { error: 'InsufficientFunds', cause: 'The payment was not accepted' },
      },
    ]);
    expect(sfn).toHaveReceivedCommandWith(GetExecutionHistoryCommand, {
      executionArn: `arn:aws:states:us-east-1:111111111111:execution:OrderSaga:${ORDER_ID}`,
    });
  });
});

describe('step history', () => {
  it('marks a step that was running when the execution stopped, and shows its redriven run after it', () => {
    const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second));
    const { steps } = stepsFromHistory([
      { type: 'TaskStateEntered', timestamp: at(0), stateEnteredEventDetails: { name: 'CreateShipment' } },
      { type: 'TaskScheduled', timestamp: at(0) },
      { type: 'ExecutionAborted', timestamp: at(5) },
      { type: 'TaskStateEntered', timestamp: at(9), stateEnteredEventDetails: { name: 'CreateShipment' } },
      { type: 'TaskScheduled', timestamp: at(9) },
      { type: 'TaskSucceeded', timestamp: at(10), taskSucceededEventDetails: { output: '{}' } },
    ]);
    expect(steps.map((step) => [step.step, step.outcome, step.endedAt])).toEqual([
      ['CreateShipment', 'stopped', at(5).toISOString()],
      ['CreateShipment', 'succeeded', at(10).toISOString()],
    ]);
  });
});

describe('order identity', () => {
  it('derives the same id for the same customer and key, and different ones otherwise', () => {
    expect(deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'k')).toBe(deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'k'));
    expect(deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'k')).not.toBe(
      deriveOrderId(TEST_ORDER_ID_KEY, 'c-2', 'k'),
    );
    expect(deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'k')).toMatch(/^ord_[0-9a-f]{32}$/);
  });

  it('hashes a request by meaning, not by key order', () => {
    expect(requestHash({ a: 1, b: [{ x: 1, y: 2 }] })).toBe(requestHash({ b: [{ y: 2, x: 1 }], a: 1 }));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
  });
});

describe('the trace id an order carries', () => {
  const traceOf = () =>
    JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}').traceId as string;

  it("is API Gateway's X-Ray root when the header holds a well-formed one", async () => {
    await handler(post(order, { 'X-Amzn-Trace-Id': 'Root=1-5f84c7a1-0123456789abcdef01234567;Sampled=1' }));
    expect(traceOf()).toBe('1-5f84c7a1-0123456789abcdef01234567');
  });

  it.each([
    ['text of the caller’s choosing', 'Root=<script>alert(1)</script>'],
    ['an overlong root', `Root=1-5f84c7a1-${'0'.repeat(5000)}`],
  ])('is a fresh id when the header holds %s', async (_case, value) => {
    await handler(post(order, { 'X-Amzn-Trace-Id': value }));
    expect(traceOf()).toMatch(/^[0-9a-f-]{36}$/);
  });
});
