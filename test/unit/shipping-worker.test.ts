import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler } from '../../lambdas/shipping/worker-handler.js';
import { sqsEvent } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const address = { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' };
const request = {
  orderId: 'ord-1',
  traceId: 'trace-1',
  items: [{ sku: 'SKU-1', quantity: 3 }],
  shippingAddress: address,
};

const timedOut = () => new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} });

beforeEach(() => {
  ddb.reset();
  sfn.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  sfn.on(SendTaskHeartbeatCommand).resolves({});
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
});

describe('shipping worker', () => {
  it('heartbeats, creates the shipment once and answers the saga with it', async () => {
    const response = await handler(sqsEvent({ taskToken: 'token-1', request }));

    expect(response.batchItemFailures).toEqual([]);
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, { taskToken: 'token-1' });
    const [barrier, shipment] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(barrier?.Put?.Item).toMatchObject({ pk: 'BARRIER#ord-1', sk: 'CreateShipment#action' });
    expect(shipment?.Put).toMatchObject({
      Item: { pk: 'ORDER#ord-1', sk: 'SHIPMENT', status: 'CREATED', parcels: 3, address },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: 'token-1',
      output: JSON.stringify({ shipmentId: 'shp_ord-1', country: 'US' }),
    });
  });

  it('hands the carrier every address field, line2 included', async () => {
    const withLine2 = { ...address, line2: 'Apt 4B' };
    await handler(sqsEvent({ taskToken: 't', request: { ...request, shippingAddress: withLine2 } }));

    const shipment = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[1];
    expect(shipment?.Put?.Item?.address).toEqual(withLine2);
  });

  it('answers ShippingRejected for a country it does not serve, writing nothing', async () => {
    const response = await handler(
      sqsEvent({ taskToken: 't', request: { ...request, shippingAddress: { ...address, country: 'BR' } } }),
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 't',
      error: 'ShippingRejected',
      cause: 'We do not ship to BR',
    });
  });

  it('does nothing when the saga already gave up on the request', async () => {
    sfn.on(SendTaskHeartbeatCommand).rejects(timedOut());

    const response = await handler(sqsEvent({ taskToken: 't', request }));

    expect(response.batchItemFailures).toEqual([]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 0);
  });

  it('changes nothing when it runs after the compensation left a tombstone', async () => {
    ddb
      .on(GetCommand)
      .resolves({ Item: { pk: 'BARRIER#ord-1', sk: 'CreateShipment#action', tombstone: true } });
    sfn.on(SendTaskFailureCommand).rejects(timedOut());

    const response = await handler(sqsEvent({ taskToken: 't', request }));

    expect(response.batchItemFailures).toEqual([]);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, { error: 'OrderCancelled' });
  });

  it('answers InvalidStepInput for a malformed request that carries a token', async () => {
    const { shippingAddress: _dropped, ...withoutAddress } = request;
    await handler(sqsEvent({ taskToken: 't', request: withoutAddress }));

    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 't',
      error: 'InvalidStepInput',
    });
  });

  it('leaves a message for redelivery on a transient failure, without answering', async () => {
    ddb.on(TransactWriteCommand).rejects(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));

    const response = await handler(sqsEvent({ taskToken: 't', request }));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }]);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 0);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskFailureCommand, 0);
  });

  it('reports poison messages alone and goes on with the batch', async () => {
    const response = await handler(sqsEvent('not json', { request }, { taskToken: 't', request }));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }, { itemIdentifier: 'm-1' }]);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
  });
});
