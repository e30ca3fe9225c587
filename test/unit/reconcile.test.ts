import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { deriveOrderId } from '../../lambdas/orders-api/identity.js';
import { planReconcile } from '../../lambdas/orders-api/reconcile.js';
import { handler } from '../../lambdas/orders-api/reconcile-handler.js';
import { CONDITION_FAILED, cancelled, NONE } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const ORDER_ID = deriveOrderId('c-1', 'k');
const storedOrder = (status: string) => ({
  orderId: ORDER_ID,
  status,
  customerId: 'c-1',
  traceId: 't',
  items: [{ sku: 'S', quantity: 1 }],
  shippingAddress: { line1: 'a', city: 'b', postalCode: 'c', country: 'US' },
});
const reconcile = (orderId = ORDER_ID) =>
  handler({
    resource: '/orders/{orderId}/reconcile',
    path: `/orders/${orderId}/reconcile`,
    httpMethod: 'POST',
    headers: {},
    pathParameters: { orderId },
  } as unknown as APIGatewayProxyEvent);

beforeEach(() => {
  ddb.reset();
  sfn.reset();
});

describe('planReconcile', () => {
  it.each([
    ['PENDING', { status: 'NONE' }, 'start-execution', false],
    ['PENDING', { status: 'RUNNING' }, 'none', true],
    ['PENDING', { status: 'SUCCEEDED' }, 'set-status', false],
    ['CONFIRMED', { status: 'SUCCEEDED' }, 'none', true],
    ['PENDING', { status: 'FAILED', error: 'OrderCancelled' }, 'set-status', false],
    ['CANCELLED', { status: 'FAILED', error: 'OrderCancelled' }, 'none', true],
    ['CANCELLED', { status: 'FAILED', error: 'CompensationFailed' }, 'set-status', false],
    ['PENDING', { status: 'TIMED_OUT' }, 'redrive-execution', false],
    ['PENDING', { status: 'FAILED', error: 'States.Runtime' }, 'redrive-execution', false],
    ['CONFIRMED', { status: 'FAILED', error: 'OrderCancelled' }, 'none', false],
    ['CANCELLED', { status: 'NONE' }, 'none', false],
  ] as const)('an order %s with an execution %j needs %s', (orderStatus, execution, action, consistent) => {
    const plan = planReconcile(orderStatus, execution);
    expect(plan.repair.action).toBe(action);
    expect(plan.consistent).toBe(consistent);
  });

  it('aligns the record with how the execution ended', () => {
    expect(planReconcile('PENDING', { status: 'SUCCEEDED' }).repair).toEqual({
      action: 'set-status',
      to: 'CONFIRMED',
    });
    expect(planReconcile('PENDING', { status: 'FAILED', error: 'OrderCancelled' }).repair).toEqual({
      action: 'set-status',
      to: 'CANCELLED',
    });
  });
});

describe('POST /orders/{orderId}/reconcile', () => {
  it('starts the missing execution of a PENDING order', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'no', $metadata: {} }));
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });

    const response = await reconcile();

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({
      found: { orderStatus: 'PENDING', executionStatus: 'NONE' },
      consistent: false,
      action: 'started-execution',
    });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: ORDER_ID });
  });

  it('redrives an execution that died before finishing', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'TIMED_OUT' } as never);
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date() });

    expect(JSON.parse((await reconcile()).body).action).toBe('redrove-execution');
    expect(sfn).toHaveReceivedCommandWith(RedriveExecutionCommand, {
      executionArn: `arn:aws:states:us-east-1:111111111111:execution:OrderSaga:${ORDER_ID}`,
    });
  });

  it('aligns a PENDING record with a succeeded execution, conditionally on what it read', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    ddb.on(GetCommand, { Key: { pk: `OUTBOX#${ORDER_ID}`, sk: 'OrderConfirmed' } }).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);

    expect(JSON.parse((await reconcile()).body).action).toBe('set-status-CONFIRMED');
    const [update, outbox] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(update?.Update).toMatchObject({
      ConditionExpression: '#status = :from',
      ExpressionAttributeValues: expect.objectContaining({ ':from': 'PENDING', ':to': 'CONFIRMED' }),
    });
    // The change is announced like any other: its event commits with it.
    expect(outbox?.Put?.Item).toMatchObject({
      pk: `OUTBOX#${ORDER_ID}`,
      sk: 'OrderConfirmed',
      kind: 'outbox',
    });
  });

  it('does not announce again an event the saga already announced', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    ddb
      .on(GetCommand, { Key: { pk: `OUTBOX#${ORDER_ID}`, sk: 'OrderConfirmed' } })
      .resolves({ Item: { pk: `OUTBOX#${ORDER_ID}` } });
    ddb.on(TransactWriteCommand).resolves({});
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);

    expect(JSON.parse((await reconcile()).body).action).toBe('set-status-CONFIRMED');
    expect(ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems).toHaveLength(1);
  });

  it('answers 409 when the order changed while reconciling', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    ddb.on(TransactWriteCommand).rejects(cancelled(CONDITION_FAILED, NONE));
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);

    const response = await reconcile();
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'ReconcileConflict' } });
  });

  it('does nothing to a consistent order', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('CONFIRMED') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);

    expect(JSON.parse((await reconcile()).body)).toMatchObject({ consistent: true, action: 'none' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('answers 404 for an unknown order', async () => {
    ddb.on(GetCommand).resolves({});
    expect((await reconcile()).statusCode).toBe(404);
  });
});
