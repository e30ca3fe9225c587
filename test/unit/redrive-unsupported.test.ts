import {
  DescribeExecutionCommand,
  RedriveExecutionCommand,
  SFNClient,
  SFNServiceException,
} from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ExecutionRefused, RedriveUnsupported, SagaClient } from '../../lambdas/orders/saga-client.js';
import { deriveOrderId } from '../../lambdas/orders-api/identity.js';
import { handler as reconcileHandler } from '../../lambdas/orders-api/reconcile-handler.js';
import { handler as sweeperHandler } from '../../lambdas/sweeper/handler.js';
import { TEST_ORDER_ID_KEY } from './order-id-key.js';

/**
 * LocalStack's Step Functions has no RedriveExecution: its skeleton answers an operation the provider does
 * not implement with HTTP 501 and `InternalFailure` (localstack-core `aws/skeleton.py`, message from
 * `utils/coverage_docs.py`). AWS answers an operation an endpoint does not know with UnknownOperationException.
 */
const LOCALSTACK_MESSAGE =
  "The API action 'RedriveExecution' for service 'stepfunctions' is either not available in your current license plan or has not yet been emulated by LocalStack. Please refer to https://docs.localstack.cloud/references/coverage/coverage_stepfunctions for more information.";
const serviceError = (name: string, httpStatusCode: number, message = LOCALSTACK_MESSAGE) =>
  new SFNServiceException({ name, $fault: 'server', $metadata: { httpStatusCode }, message });
const notImplemented = () => serviceError('InternalFailure', 501);

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const ORDER_ID = deriveOrderId(TEST_ORDER_ID_KEY, 'c-1', 'redrive-unsupported');
const SAGA_ARN = `arn:aws:states:us-east-1:111111111111:execution:OrderSaga:${ORDER_ID}`;

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
    shippingAddress: { line1: 'a', city: 'b', postalCode: 'c', country: 'US' },
    createdAt: new Date(Date.now() - 3_600_000).toISOString(),
    updatedAt: new Date(Date.now() - 3_600_000).toISOString(),
    executionArns: new Set([SAGA_ARN]),
    ...extra,
  };
}

async function reconcile(body?: unknown) {
  const response = await reconcileHandler({
    resource: '/orders/{orderId}/reconcile',
    path: `/orders/${ORDER_ID}/reconcile`,
    httpMethod: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    pathParameters: { orderId: ORDER_ID },
    requestContext: { identity: { userArn: 'arn:aws:iam::111111111111:user/ops' } },
  } as unknown as APIGatewayProxyEvent);
  return {
    status: response.statusCode,
    error: (JSON.parse(response.body) as { error: { code: string; message: string } }).error,
  };
}

const statusWrites = () => ddb.commandCalls(TransactWriteCommand).map((call) => call.args[0].input);
const updateExpressions = () => ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.UpdateExpression);

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  ddb.on(UpdateCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  sfn.on(RedriveExecutionCommand).rejects(notImplemented());
});

describe('SagaClient.redrive on a Step Functions without RedriveExecution', () => {
  const client = () => new SagaClient(new SFNClient({ region: 'us-east-1' }), { saga: 'arn:saga' });

  it.each([
    ['LocalStack: 501 InternalFailure', notImplemented()],
    ['an endpoint that does not know the operation', serviceError('UnknownOperationException', 400, 'x')],
  ])('is RedriveUnsupported, a refusal naming the operation and the answer (%s)', async (_, answer) => {
    sfn.on(RedriveExecutionCommand).rejects(answer);
    const refusal = await client()
      .redrive(SAGA_ARN)
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RedriveUnsupported);
    expect(refusal).toBeInstanceOf(ExecutionRefused);
    expect((refusal as Error).message).toContain('does not implement RedriveExecution');
    expect((refusal as Error).message).toContain(answer.name);
  });

  it('leaves a real internal failure (500) what it is: transient, not a refusal', async () => {
    sfn.on(RedriveExecutionCommand).rejects(serviceError('InternalFailure', 500, 'oops'));
    const failure = await client()
      .redrive(SAGA_ARN)
      .catch((error: unknown) => error);
    expect(failure).not.toBeInstanceOf(ExecutionRefused);
    expect((failure as Error).name).toBe('InternalFailure');
  });
});

describe('reconcile where RedriveExecution is not implemented', () => {
  it("answers an operator's redrive 409 RedriveUnsupported and writes only what a refused redrive writes", async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('NEEDS_ATTENTION') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED', redriveStatus: 'REDRIVABLE' } as never);

    const { status, error } = await reconcile({ action: 'redrive', reason: 'go on' });

    expect(status).toBe(409);
    expect(error.code).toBe('RedriveUnsupported');
    expect(error.message).toMatch(/does not implement RedriveExecution.*cancel.*complete/);
    // The action is taken and given back, as for ExecutionRefused; the order's status is untouched.
    expect(updateExpressions()).toEqual([
      'SET pendingAction = :action, autoRedrives = :zero, updatedAt = :at',
      'REMOVE pendingAction',
    ]);
    expect(statusWrites()).toEqual([]);
  });

  it('answers an automatic redrive 409 RedriveUnsupported and hands the order to a person at once', async () => {
    ddb.on(GetCommand).resolves({ Item: storedOrder('PENDING') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'TIMED_OUT', redriveStatus: 'REDRIVABLE' } as never);

    const { status, error } = await reconcile();

    expect(status).toBe(409);
    expect(error.code).toBe('RedriveUnsupported');
    expect(sfn).toHaveReceivedCommandTimes(RedriveExecutionCommand, 1);
    const values = statusWrites()[0]?.TransactItems?.[0]?.Update?.ExpressionAttributeValues;
    expect(values).toMatchObject({
      ':to': 'NEEDS_ATTENTION',
      ':failure': { reason: 'not-redrivable', error: 'RedriveUnsupported' },
    });
  });

  it('lets the sweeper hand the order over once instead of spending its redrive budget run after run', async () => {
    const pending = storedOrder('PENDING');
    ddb.on(GetCommand, { Key: { pk: 'SWEEPER', sk: 'CURSOR' } }).resolves({});
    ddb.on(GetCommand, { Key: { pk: pending.pk, sk: 'ORDER' } }).resolves({ Item: pending });
    ddb.on(QueryCommand).resolves({ Items: [{ pk: pending.pk }] });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'TIMED_OUT', redriveStatus: 'REDRIVABLE' } as never);

    const summary = await sweeperHandler();

    expect(summary).toMatchObject({
      examined: 1,
      failed: 0,
      results: { refused: 1 },
      actions: { 'set-status-NEEDS_ATTENTION': 1 },
    });
    expect(sfn).toHaveReceivedCommandTimes(RedriveExecutionCommand, 1);
    expect(statusWrites()[0]?.TransactItems?.[0]?.Update?.ExpressionAttributeValues?.[':to']).toBe(
      'NEEDS_ATTENTION',
    );
  });
});
