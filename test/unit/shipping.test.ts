import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler as cancelShipment } from '../../lambdas/shipping/cancel-handler.js';
import { parseServedCountries } from '../../lambdas/shipping/shipping.js';

const ddb = mockClient(DynamoDBDocumentClient);
beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
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
