import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  GetExecutionHistoryCommand,
  type GetExecutionHistoryCommandOutput,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
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
import { deriveOrderId } from '../../lambdas/orders-api/identity.js';
import { handler } from '../../lambdas/orders-api/reconcile-handler.js';
import { CONDITION_FAILED, cancelled, NONE } from './aws-fakes.js';
import { TEST_ORDER_ID_KEY } from './order-id-key.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const ORDER_ID = deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'k');
const SAGA_ARN = `arn:aws:states:us-east-1:111111111111:execution:OrderSaga:${ORDER_ID}`;
const OPERATOR = 'arn:aws:iam::111111111111:user/ops';

function storedOrder(status: string, extra: Record<string, unknown> = {}) {
  return {
    pk: `ORDER#${ORDER_ID}`,
    sk: 'ORDER',
    orderId: ORDER_ID,
    status,
    version: 2,
    customerId: 'c-1',
    traceId: 't',
    items: [{ sku: 'S', quantity: 1 }],
    shippingAddress: { line1: 'a', line2: 'Apt 4', city: 'b', postalCode: 'c', country: 'US' },
    createdAt: new Date(Date.now() - 60_000).toISOString(),
    updatedAt: new Date().toISOString(),
    executionArns: new Set([SAGA_ARN]),
    ...extra,
  };
}

function reconcile(body?: unknown) {
  return handler({
    resource: '/orders/{orderId}/reconcile',
    path: `/orders/${ORDER_ID}/reconcile`,
    httpMethod: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    pathParameters: { orderId: ORDER_ID },
    requestContext: { identity: { userArn: OPERATOR, sourceIp: '10.0.0.1' } },
  } as unknown as APIGatewayProxyEvent);
}

/** What reconcile answers: its outcome, or an error. */
interface ReconcileAnswer {
  result?: string;
  action?: string;
  status?: string;
  error: { code: string; message: string };
}

const bodyOf = async (body?: unknown) => {
  const response = await reconcile(body);
  return { status: response.statusCode, body: JSON.parse(response.body) as ReconcileAnswer };
};

/** A history in which the pivot succeeded with the given shipment, as GetExecutionHistory returns it. */
function historyThroughPivot(): GetExecutionHistoryCommandOutput {
  return {
    $metadata: {},
    events: [
      {
        id: 1,
        type: 'TaskStateEntered',
        timestamp: new Date(),
        stateEnteredEventDetails: { name: 'CreateShipment' },
      },
      { id: 2, type: 'TaskScheduled', timestamp: new Date() },
      {
        id: 3,
        type: 'TaskSucceeded',
        timestamp: new Date(),
        taskSucceededEventDetails: {
          resourceType: 'sqs',
          resource: 'sendMessage.waitForTaskToken',
          output: JSON.stringify({ shipmentId: 'shp_1', country: 'US' }),
        },
      },
    ],
  };
}

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  ddb.on(UpdateCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
});

describe('POST /orders/{orderId}/reconcile without a body', () => {
  it('starts a lost saga and records it on the order', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING', { executionArns: undefined }) });
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'none', $metadata: {} }));
    sfn.on(StartExecutionCommand).resolves({ executionArn: SAGA_ARN, startDate: new Date() });

    const { status, body } = await bodyOf();

    expect(status).toBe(202);
    expect(body).toMatchObject({ result: 'started', action: 'started-execution' });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: ORDER_ID });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'ADD executionArns :arn',
      ExpressionAttributeValues: { ':arn': new Set([SAGA_ARN]) },
    });
  });

  it('finds a saga whose start succeeded but was never recorded, records it, and decides from it', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING', { executionArns: undefined }) });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);

    const { status, body } = await bodyOf();

    expect(status).toBe(200);
    expect(body).toMatchObject({ result: 'nothing', found: { executionStatus: 'RUNNING' } });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ExpressionAttributeValues: { ':arn': new Set([SAGA_ARN]) },
    });
  });

  it('never starts a second saga when the recorded one is gone: the order waits for a person', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    sfn.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'gone', $metadata: {} }));

    const { status, body } = await bodyOf();

    expect(status).toBe(200);
    expect(body).toMatchObject({ result: 'changed', action: 'set-status-NEEDS_ATTENTION' });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
    const update = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Update;
    expect(update?.ExpressionAttributeValues?.[':failure']).toEqual({ reason: 'execution-missing' });
  });

  it('counts an automatic redrive before redriving a timed-out saga, so two callers never both redrive', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING', { autoRedrives: 1 }) });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'TIMED_OUT', redriveStatus: 'REDRIVABLE' } as never);
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date() });

    const { status, body } = await bodyOf();

    expect(status).toBe(202);
    expect(body.action).toBe('redrove-execution');
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'SET autoRedrives = :next',
      ConditionExpression:
        '#status = :status AND autoRedrives = :seen AND attribute_not_exists(pendingAction)',
      ExpressionAttributeValues: { ':seen': 1, ':next': 2, ':status': 'PENDING' },
    });
    expect(sfn).toHaveReceivedCommandWith(RedriveExecutionCommand, { executionArn: SAGA_ARN });
  });

  it('answers 409, not 500, when another caller counted the redrive first', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error('no'), { name: 'ConditionalCheckFailedException' }));
    sfn.on(DescribeExecutionCommand).resolves({ status: 'TIMED_OUT', redriveStatus: 'REDRIVABLE' } as never);

    const { status, body } = await bodyOf();
    expect(status).toBe(409);
    expect(body.error.code).toBe('ReconcileConflict');
    expect(sfn).toHaveReceivedCommandTimes(RedriveExecutionCommand, 0);
  });

  it('leaves a stopped saga stopped and hands the order to a person at once', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED', redriveStatus: 'REDRIVABLE' } as never);

    const { body } = await bodyOf();
    expect(body).toMatchObject({ action: 'set-status-NEEDS_ATTENTION', status: 'PENDING' });
    expect(sfn).toHaveReceivedCommandTimes(RedriveExecutionCommand, 0);
  });

  it('answers 409 when the order changed while reconciling', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    ddb.on(TransactWriteCommand).rejects(cancelled(CONDITION_FAILED, NONE));
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', redriveStatus: 'NOT_REDRIVABLE' } as never);

    const { status, body } = await bodyOf();
    expect(status).toBe(409);
    expect(body.error.code).toBe('ReconcileConflict');
  });

  it('does nothing to a final order', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('CONFIRMED') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);

    const { status, body } = await bodyOf();
    expect(status).toBe(200);
    expect(body).toMatchObject({ result: 'nothing', action: 'none' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('answers 404 for an unknown order', async () => {
    ddb.on(GetCommand).resolves({});
    expect((await reconcile()).statusCode).toBe(404);
  });
});

describe('POST /orders/{orderId}/reconcile with an operator action', () => {
  it.each([
    ['{"action":"retry","reason":"x"}', 'an unknown action'],
    ['{"action":"cancel"}', 'a missing reason'],
    ['{"action":"cancel","reason":"   "}', 'a blank reason'],
    ['{"action":"cancel","reason":"x","force":true}', 'an unknown field'],
    ['not json', 'a body that is not JSON'],
  ])('answers 400 with a JSON error for %s (%s), writing nothing', async (body) => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('NEEDS_ATTENTION') });
    const { status, body: answer } = await bodyOf(body);
    expect(status).toBe(400);
    expect(answer.error.code).toMatch(/ValidationFailed|MalformedJson/);
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it('cancels before the pivot: records the action, stops the running saga, starts the unwind under a name unique to the attempt', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 1,
          type: 'TaskStateEntered',
          timestamp: new Date(),
          stateEnteredEventDetails: { name: 'ChargePayment' },
        },
      ],
    });
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:unwind', startDate: new Date() });

    const { status, body } = await bodyOf({ action: 'cancel', reason: 'customer called' });

    expect(status).toBe(202);
    expect(body).toMatchObject({ result: 'started', action: 'started-cancel' });
    const begin = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(begin).toMatchObject({
      UpdateExpression: 'SET pendingAction = :action, autoRedrives = :zero, updatedAt = :at',
      ConditionExpression:
        '#status = :status AND #version = :version AND (attribute_not_exists(autoRedrives) OR autoRedrives = :seen) AND attribute_not_exists(pendingAction)',
    });
    expect(begin?.ExpressionAttributeValues?.[':action']).toMatchObject({
      action: 'cancel',
      actor: OPERATOR,
      reason: 'customer called',
    });
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, { executionArn: SAGA_ARN });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: process.env.UNWIND_STATE_MACHINE_ARN,
      name: `${ORDER_ID}-cancel-1`,
    });
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(input).toMatchObject({ orderId: ORDER_ID, failures: {}, results: {} });
  });

  it('re-reads the stopped saga: one that passed its pivot before the stop took is not unwound but handed to a person', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    // Before the stop the pivot is still running; the history the stop leaves shows it succeeded meanwhile.
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({
        events: [
          {
            id: 1,
            type: 'TaskStateEntered',
            timestamp: new Date(),
            stateEnteredEventDetails: { name: 'CreateShipment' },
          },
        ],
      })
      .resolves(historyThroughPivot());
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:unwind', startDate: new Date() });

    const { status, body } = await bodyOf({ action: 'cancel', reason: 'customer called' });

    expect(status).toBe(409);
    expect(body.error.code).toBe('PivotPassed');
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, { executionArn: SAGA_ARN });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
    const updates = ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    // The action is given back, and the stopped order waits for a person to complete it.
    expect(updates.some((update) => update.UpdateExpression === 'REMOVE pendingAction')).toBe(true);
    const handedOver = ddb
      .commandCalls(TransactWriteCommand)
      .map((call) => JSON.stringify(call.args[0].input))
      .find((text) => text.includes('NEEDS_ATTENTION'));
    expect(handedOver).toContain('execution-stopped');
  });

  it('refuses to cancel after the pivot with 409 PivotPassed, starting nothing', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('NEEDS_ATTENTION') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED', error: 'NeedsAttention' } as never);
    sfn.on(GetExecutionHistoryCommand).resolves(historyThroughPivot());

    const { status, body } = await bodyOf({ action: 'cancel', reason: 'x' });
    expect(status).toBe(409);
    expect(body.error.code).toBe('PivotPassed');
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 0);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it("completes after the pivot: the completion machine starts from the saga's recorded results", async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('NEEDS_ATTENTION') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED', error: 'NeedsAttention' } as never);
    sfn.on(GetExecutionHistoryCommand).resolves(historyThroughPivot());
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:complete', startDate: new Date() });

    const { status } = await bodyOf({ action: 'complete', reason: 'confirm service is back' });

    expect(status).toBe(202);
    const call = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(call).toMatchObject({
      stateMachineArn: process.env.COMPLETION_STATE_MACHINE_ARN,
      name: `${ORDER_ID}-complete-1`,
    });
    expect(JSON.parse(call?.input ?? '{}').results).toEqual({
      CreateShipment: { shipmentId: 'shp_1', country: 'US' },
    });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'SET pendingAction.executionArn = :arn',
      ExpressionAttributeValues: expect.objectContaining({ ':arn': 'arn:complete' }),
    });
  });

  it('answers 409 ActionInProgress while an action runs', async () => {
    const pendingAction = {
      action: 'cancel',
      actor: 'someone',
      reason: 'r',
      startedAt: new Date().toISOString(),
    };
    ddb.on(GetCommand).resolves({ Item: storedOrder('NEEDS_ATTENTION', { pendingAction }) });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED', redriveStatus: 'REDRIVABLE' } as never);

    const { status, body } = await bodyOf({ action: 'redrive', reason: 'x' });
    expect(status).toBe(409);
    expect(body.error.code).toBe('ActionInProgress');
  });

  it('gives the action back and answers 409 when Step Functions refuses the redrive', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('NEEDS_ATTENTION') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED', redriveStatus: 'REDRIVABLE' } as never);
    sfn
      .on(RedriveExecutionCommand)
      .rejects(new ExecutionNotRedrivable({ message: 'too old', $metadata: {} }));

    const { status, body } = await bodyOf({ action: 'redrive', reason: 'x' });

    expect(status).toBe(409);
    expect(body.error).toMatchObject({ code: 'ExecutionRefused', message: 'too old' });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: 'REMOVE pendingAction' });
  });

  it('refuses any step for an order whose barrier rows may have expired, and hands it to a person', async () => {
    const old = new Date(Date.now() - 61 * 24 * 3600 * 1000).toISOString();
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING', { createdAt: old }) });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED', redriveStatus: 'REDRIVABLE' } as never);

    const { status, body } = await bodyOf({ action: 'redrive', reason: 'x' });

    expect(status).toBe(409);
    expect(body.error.code).toBe('BarrierExpired');
    const update = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Update;
    expect(update?.ExpressionAttributeValues).toMatchObject({
      ':to': 'NEEDS_ATTENTION',
      ':failure': { reason: 'barrier-expired' },
    });
    expect(sfn).toHaveReceivedCommandTimes(RedriveExecutionCommand, 0);
  });
});
