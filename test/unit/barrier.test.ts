import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { type BusinessWrites, runAction, runCompensation } from '../../lambdas/shared/barrier.js';
import {
  InsufficientStock,
  OrderCancelled,
  TransientError,
  toStepError,
} from '../../lambdas/shared/errors.js';
import { CONDITION_FAILED, cancelled, NONE } from './aws-fakes.js';

const ddb = mockClient(DynamoDBDocumentClient);
const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const now = new Date('2026-01-01T00:00:00.000Z');
const deps = { db, tableName: 'inventory', ttlSeconds: 3600, now: () => now };
const ref = { sagaId: 'ord-1', step: 'ReserveInventory' };
const ACTION_KEY = { pk: 'BARRIER#ord-1', sk: 'ReserveInventory#action' };
const COMPENSATION_KEY = { pk: 'BARRIER#ord-1', sk: 'ReserveInventory#compensation' };

const businessWrite = {
  Update: {
    TableName: 'inventory',
    Key: { pk: 'SKU#A', sk: 'STOCK' },
    UpdateExpression: 'SET available = available - :q',
    ConditionExpression: 'available >= :q',
    ExpressionAttributeValues: { ':q': 1 },
  },
};
const plan = async () => ({
  result: { totalCents: 500 },
  writes: [businessWrite],
  explainConditionFailure: (index: number, item: Record<string, unknown> | undefined) =>
    new InsufficientStock(`write ${index} failed with available=${String(item?.available)}`),
});
const undo = (): BusinessWrites => ({
  writes: [
    {
      Update: {
        ...businessWrite.Update,
        UpdateExpression: 'SET available = available + :q',
        ConditionExpression: undefined,
      },
    },
  ],
  explainConditionFailure: () => new Error('undo failed'),
});

beforeEach(() => {
  ddb.reset();
});

function sentTransaction(call = 0) {
  return ddb.commandCalls(TransactWriteCommand)[call]?.args[0].input.TransactItems;
}

describe('runAction', () => {
  it('commits the barrier and the business writes in one transaction on the first call', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});

    await expect(runAction(deps, ref, plan)).resolves.toEqual({
      result: { totalCents: 500 },
      duplicate: false,
    });

    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: 'inventory',
      Key: ACTION_KEY,
      ConsistentRead: true,
    });
    expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: [
        {
          Put: {
            TableName: 'inventory',
            Item: {
              ...ACTION_KEY,
              sagaId: 'ord-1',
              step: 'ReserveInventory',
              op: 'action',
              createdAt: now.toISOString(),
              expiresAt: now.getTime() / 1000 + 3600,
              result: { totalCents: 500 },
            },
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        businessWrite,
      ],
    });
  });

  it('returns the recorded result for a duplicate without planning or writing again', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...ACTION_KEY, result: { totalCents: 500 } } });
    let planned = false;

    const outcome = await runAction(deps, ref, async () => {
      planned = true;
      return plan();
    });

    expect(outcome).toEqual({ result: { totalCents: 500 }, duplicate: true });
    expect(planned).toBe(false);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('refuses a late action after a null compensation left a tombstone, and writes nothing', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...ACTION_KEY, tombstone: true } });

    await expect(runAction(deps, ref, plan)).rejects.toBeInstanceOf(OrderCancelled);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });

  it('returns the recorded result when a concurrent duplicate committed between read and write', async () => {
    ddb.on(GetCommand).resolves({});
    ddb
      .on(TransactWriteCommand)
      .rejects(
        cancelled(
          { code: 'ConditionalCheckFailed', item: { ...ACTION_KEY, result: { totalCents: 500 } } },
          NONE,
        ),
      );

    await expect(runAction(deps, ref, plan)).resolves.toEqual({
      result: { totalCents: 500 },
      duplicate: true,
    });
  });

  it('refuses the action when a tombstone was written between read and write', async () => {
    ddb.on(GetCommand).resolves({});
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled({ code: 'ConditionalCheckFailed', item: { ...ACTION_KEY, tombstone: true } }, NONE));

    await expect(runAction(deps, ref, plan)).rejects.toBeInstanceOf(OrderCancelled);
  });

  it('decodes a failed business condition into the step error, passing the old item', async () => {
    ddb.on(GetCommand).resolves({});
    ddb
      .on(TransactWriteCommand)
      .rejects(cancelled(NONE, { code: 'ConditionalCheckFailed', item: { available: 0 } }));

    await expect(runAction(deps, ref, plan)).rejects.toThrow(
      new InsufficientStock('write 0 failed with available=0'),
    );
  });

  it('turns contention into WriteConflict, which the saga retries on its own longer policy', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(TransactWriteCommand).rejects(cancelled(NONE, { code: 'TransactionConflict' }));

    const error = await runAction(deps, ref, plan).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ name: 'WriteConflict' });
    expect((error as Error).message).toContain('None,TransactionConflict');
  });

  it('turns any other cancellation without a failed condition into a TransientError', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(TransactWriteCommand).rejects(cancelled(NONE, { code: 'ThrottlingError' }));

    const error = await runAction(deps, ref, plan).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'TransientError' });
  });

  it('lets errors other than a cancellation through untouched', async () => {
    ddb.on(GetCommand).resolves({});
    const throttled = Object.assign(new Error('slow down'), {
      name: 'ProvisionedThroughputExceededException',
    });
    ddb.on(TransactWriteCommand).rejects(throttled);

    await expect(runAction(deps, ref, plan)).rejects.toBe(throttled);
  });
});

describe('runCompensation', () => {
  it('undoes what the action recorded, guarded by the action barrier, in one transaction', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...ACTION_KEY, result: { totalCents: 500 } } });
    ddb.on(TransactWriteCommand).resolves({});
    let undoneFrom: unknown;

    const outcome = await runCompensation<{ totalCents: number }>(deps, ref, (recorded) => {
      undoneFrom = recorded;
      return undo();
    });

    expect(outcome).toBe('compensated');
    expect(undoneFrom).toEqual({ totalCents: 500 });
    expect(sentTransaction()).toEqual([
      {
        ConditionCheck: {
          TableName: 'inventory',
          Key: ACTION_KEY,
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(tombstone)',
        },
      },
      {
        Put: {
          TableName: 'inventory',
          Item: expect.objectContaining({ ...COMPENSATION_KEY, op: 'compensation' }),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      undo().writes[0],
    ]);
  });

  it('is a null compensation when the action never ran: tombstone plus compensation barrier, nothing undone', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(TransactWriteCommand).resolves({});
    let undoCalled = false;

    const outcome = await runCompensation(deps, ref, () => {
      undoCalled = true;
      return undo();
    });

    expect(outcome).toBe('null-compensation');
    expect(undoCalled).toBe(false);
    expect(sentTransaction()).toEqual([
      {
        Put: {
          TableName: 'inventory',
          Item: expect.objectContaining({ ...ACTION_KEY, tombstone: true }),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: 'inventory',
          Item: expect.objectContaining(COMPENSATION_KEY),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]);
  });

  it('succeeds without undoing twice when the compensation already ran', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...ACTION_KEY, result: { totalCents: 500 } } });
    ddb.on(TransactWriteCommand).rejects(cancelled(NONE, CONDITION_FAILED, CONDITION_FAILED));

    await expect(runCompensation(deps, ref, undo)).resolves.toBe('duplicate');
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('treats a repeated null compensation as a duplicate', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...ACTION_KEY, tombstone: true } });
    ddb.on(TransactWriteCommand).rejects(cancelled(CONDITION_FAILED));

    await expect(runCompensation(deps, ref, undo)).resolves.toBe('duplicate');
    expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: [{ Put: expect.objectContaining({ Item: expect.objectContaining(COMPENSATION_KEY) }) }],
    });
  });

  it('compensates for real when the action committed between its read and the tombstone write', async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({})
      .resolves({ Item: { ...ACTION_KEY, result: { totalCents: 500 } } });
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled(CONDITION_FAILED, NONE)).resolves({});

    await expect(runCompensation(deps, ref, undo)).resolves.toBe('compensated');
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(TransactWriteCommand, 2, {
      TransactItems: expect.arrayContaining([expect.objectContaining({ ConditionCheck: expect.anything() })]),
    });
  });

  it('raises the undo error when an undo condition fails', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...ACTION_KEY, result: { totalCents: 500 } } });
    ddb.on(TransactWriteCommand).rejects(cancelled(NONE, NONE, CONDITION_FAILED));

    await expect(runCompensation(deps, ref, undo)).rejects.toThrow('undo failed');
  });
});

describe('contention reaching a step', () => {
  it('a null compensation cancelled by a conflicting writer is a WriteConflict', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(TransactWriteCommand).rejects(cancelled({ code: 'TransactionConflict' }, NONE));

    await expect(runCompensation(deps, ref, undo)).rejects.toMatchObject({ name: 'WriteConflict' });
  });

  it('a plain write refused with TransactionConflictException becomes WriteConflict; throttling stays TransientError', () => {
    const conflict = Object.assign(new Error('Transaction is ongoing for the item'), {
      name: 'TransactionConflictException',
    });
    const throttled = Object.assign(new Error('slow down'), {
      name: 'ProvisionedThroughputExceededException',
    });
    expect(toStepError(conflict)).toMatchObject({ name: 'WriteConflict' });
    expect(toStepError(throttled)).toMatchObject({ name: 'TransientError' });
  });
});
