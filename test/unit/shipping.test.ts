import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler as cancelShipment } from '../../lambdas/shipping/cancel-handler.js';
import { handler as createShipment } from '../../lambdas/shipping/create-handler.js';
import { parseServedCountries } from '../../lambdas/shipping/shipping.js';

const ddb = mockClient(DynamoDBDocumentClient);
const address = { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' };
const input = {
  orderId: 'ord-1',
  traceId: 'trace-1',
  items: [{ sku: 'SKU-1', quantity: 3 }],
  shippingAddress: address,
};

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
});

describe('CreateShipment', () => {
  it('creates one shipment per order for a served country', async () => {
    await expect(createShipment(input)).resolves.toEqual({ shipmentId: 'shp_ord-1', country: 'US' });
    const [, put] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(put?.Put).toMatchObject({
      Item: { pk: 'ORDER#ord-1', sk: 'SHIPMENT', status: 'CREATED', parcels: 3, address },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('raises ShippingRejected for a country outside SERVED_COUNTRIES, writing nothing', async () => {
    await expect(
      createShipment({ ...input, shippingAddress: { ...address, country: 'BR' } }),
    ).rejects.toMatchObject({
      name: 'ShippingRejected',
      message: 'We do not ship to BR',
    });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('rejects a payload without an address as InvalidStepInput', async () => {
    const { shippingAddress: _omitted, ...withoutAddress } = input;
    await expect(createShipment(withoutAddress)).rejects.toMatchObject({ name: 'InvalidStepInput' });
  });
});

describe('CancelShipment', () => {
  it('cancels the shipment only while it is CREATED', async () => {
    ddb.on(GetCommand).resolves({
      Item: { pk: 'BARRIER#ord-1', sk: 'CreateShipment#action', result: { shipmentId: 'shp_ord-1' } },
    });

    await expect(cancelShipment({ orderId: 'ord-1', traceId: 'trace-1' })).resolves.toEqual({
      outcome: 'compensated',
    });
    const [, , cancel] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(cancel?.Update).toMatchObject({
      Key: { pk: 'ORDER#ord-1', sk: 'SHIPMENT' },
      ConditionExpression: '#status = :created',
      ExpressionAttributeValues: expect.objectContaining({
        ':cancelled': 'CANCELLED',
        ':created': 'CREATED',
      }),
    });
  });
});

describe('parseServedCountries', () => {
  it('accepts a comma-separated list of two-letter codes', () => {
    expect([...parseServedCountries(' us, gb ,DE ')]).toEqual(['US', 'GB', 'DE']);
  });

  it('fails fast on a malformed configuration', () => {
    expect(() => parseServedCountries('US,United Kingdom')).toThrow(
      'SERVED_COUNTRIES must list two-letter country codes',
    );
    expect(() => parseServedCountries(' , ')).toThrow('SERVED_COUNTRIES');
  });
});
