import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handler as charge } from '../../lambdas/payments/charge-handler.js';
import { handler as refund } from '../../lambdas/payments/refund-handler.js';
import { cancelled, NONE } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const input = { orderId: 'ord-1', traceId: 'trace-1', customerId: 'c-1', amountCents: 2500 };

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
});

describe('ChargePayment', () => {
  it('debits the account only if the balance covers it and records the charge once', async () => {
    await expect(charge(input)).resolves.toEqual({
      chargeId: 'chg_ord-1',
      customerId: 'c-1',
      amountCents: 2500,
    });

    const [barrier, debit, record] =
      ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(barrier?.Put?.Item).toMatchObject({ pk: 'BARRIER#ord-1', sk: 'ChargePayment#action' });
    expect(debit).toEqual({
      Update: {
        TableName: 'service-table',
        Key: { pk: 'CUSTOMER#c-1', sk: 'ACCOUNT' },
        UpdateExpression: 'SET balanceCents = balanceCents - :amount',
        ConditionExpression: 'attribute_exists(pk) AND balanceCents >= :amount',
        ExpressionAttributeValues: { ':amount': 2500 },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
    expect(record?.Put).toMatchObject({
      Item: { pk: 'ORDER#ord-1', sk: 'CHARGE', status: 'CHARGED', amountCents: 2500, customerId: 'c-1' },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('raises InsufficientFunds when the balance is short', async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled(NONE, { code: 'ConditionalCheckFailed', item: { balanceCents: 100 } }, NONE));

    await expect(charge(input)).rejects.toMatchObject({
      name: 'InsufficientFunds',
      message: 'Balance 100 cents is below the 2500 cents due',
    });
  });

  it('raises PaymentDeclined when the customer has no account', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled(NONE, { code: 'ConditionalCheckFailed' }, NONE));

    await expect(charge(input)).rejects.toMatchObject({ name: 'PaymentDeclined' });
  });

  it('refuses a charge that arrives after the refund compensation ran', async () => {
    ddb
      .on(GetCommand)
      .resolves({ Item: { pk: 'BARRIER#ord-1', sk: 'ChargePayment#action', tombstone: true } });

    await expect(charge(input)).rejects.toMatchObject({ name: 'OrderCancelled' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('rejects a non-integer amount as InvalidStepInput', async () => {
    await expect(charge({ ...input, amountCents: 12.5 })).rejects.toMatchObject({ name: 'InvalidStepInput' });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });
});

describe('RefundPayment', () => {
  it('credits back the recorded amount and marks the charge refunded, only from CHARGED', async () => {
    ddb.on(GetCommand).resolves({
      Item: {
        pk: 'BARRIER#ord-1',
        sk: 'ChargePayment#action',
        result: { chargeId: 'chg_ord-1', customerId: 'c-1', amountCents: 2500 },
      },
    });

    await expect(refund({ orderId: 'ord-1', traceId: 'trace-1' })).resolves.toEqual({
      outcome: 'compensated',
    });
    const [, , credit, mark] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(credit?.Update).toMatchObject({
      Key: { pk: 'CUSTOMER#c-1', sk: 'ACCOUNT' },
      UpdateExpression: 'SET balanceCents = balanceCents + :amount',
      ExpressionAttributeValues: { ':amount': 2500 },
    });
    expect(mark?.Update).toMatchObject({
      Key: { pk: 'ORDER#ord-1', sk: 'CHARGE' },
      ConditionExpression: '#status = :charged',
      ExpressionAttributeValues: expect.objectContaining({ ':refunded': 'REFUNDED', ':charged': 'CHARGED' }),
    });
  });

  it('succeeds without crediting twice when the refund already happened', async () => {
    ddb.on(GetCommand).resolves({
      Item: {
        pk: 'BARRIER#ord-1',
        sk: 'ChargePayment#action',
        result: { chargeId: 'chg_ord-1', customerId: 'c-1', amountCents: 2500 },
      },
    });
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled(NONE, { code: 'ConditionalCheckFailed' }, NONE, { code: 'ConditionalCheckFailed' }));

    await expect(refund({ orderId: 'ord-1', traceId: 'trace-1' })).resolves.toEqual({ outcome: 'duplicate' });
  });
});
