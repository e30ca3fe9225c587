import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { type CancellationReason, cancellationReasons, type TransactWrite } from './dynamodb.js';
import { OrderCancelled, TransientError, WriteConflict } from './errors.js';

/**
 * The sub-transaction barrier: one row per (saga, step, op) committed in the SAME transaction as the
 * step's business writes. It makes a step idempotent (a duplicate returns the recorded result), lets a
 * compensation that runs before its action undo nothing (null compensation, leaving a tombstone), and
 * refuses an action that arrives after that tombstone (no hanging reservation or charge).
 */

export interface BarrierDeps {
  db: DynamoDBDocumentClient;
  tableName: string;
  /** Barrier rows must outlive the longest possible saga (execution timeout plus redrive window). */
  ttlSeconds: number;
  now?: () => Date;
  /** Told of the outcomes worth counting: a duplicate delivery, a compensation with nothing to undo. */
  onOutcome?: (outcome: 'duplicate' | 'null-compensation', ref: StepRef) => void;
}

export interface StepRef {
  sagaId: string;
  /** The forward step's name; its compensation shares it and differs by op. */
  step: string;
}

export interface BusinessWrites {
  writes: TransactWrite[];
  /**
   * Called when business write `index` failed its condition, with the item as it was (the writes
   * should ask for ReturnValuesOnConditionCheckFailure: ALL_OLD). Returns the error to raise:
   * a named business error, or TransientError when the item changed under us.
   */
  explainConditionFailure: (index: number, item: Record<string, unknown> | undefined) => Error;
}

export interface ActionPlan<R> extends BusinessWrites {
  result: R;
}

export type ActionOutcome<R> = { result: R; duplicate: boolean };
export type CompensationOutcome = 'compensated' | 'null-compensation' | 'duplicate';

type Op = 'action' | 'compensation';

interface BarrierRow {
  pk: string;
  sk: string;
  result?: unknown;
  tombstone?: boolean;
}

export function barrierKey(ref: StepRef, op: Op): { pk: string; sk: string } {
  return { pk: `BARRIER#${ref.sagaId}`, sk: `${ref.step}#${op}` };
}

function barrierRow(deps: BarrierDeps, ref: StepRef, op: Op, extra: Record<string, unknown>) {
  const now = (deps.now ?? (() => new Date()))();
  return {
    ...barrierKey(ref, op),
    sagaId: ref.sagaId,
    step: ref.step,
    op,
    createdAt: now.toISOString(),
    expiresAt: Math.floor(now.getTime() / 1000) + deps.ttlSeconds,
    ...extra,
  };
}

async function readBarrier(deps: BarrierDeps, ref: StepRef, op: Op): Promise<BarrierRow | undefined> {
  const { Item } = await deps.db.send(
    new GetCommand({ TableName: deps.tableName, Key: barrierKey(ref, op), ConsistentRead: true }),
  );
  return Item as BarrierRow | undefined;
}

function recordedOutcome<R>(deps: BarrierDeps, row: BarrierRow, ref: StepRef): ActionOutcome<R> {
  if (row.tombstone) {
    throw new OrderCancelled(
      `${ref.step} for ${ref.sagaId} arrived after its compensation; nothing was done`,
    );
  }
  deps.onOutcome?.('duplicate', ref);
  return { result: row.result as R, duplicate: true };
}

function describeCodes(reasons: CancellationReason[]): string {
  return reasons.map((reason) => reason.Code ?? 'None').join(',');
}

/** A cancellation no condition explains: contention gets the saga's longer contention retry. */
function transientCancellation(what: string, reasons: CancellationReason[]): TransientError {
  const message = `${what} (${describeCodes(reasons)})`;
  return reasons.some((reason) => reason.Code === 'TransactionConflict')
    ? new WriteConflict(message)
    : new TransientError(message);
}

/**
 * Explains a cancelled transaction whose first `barrierCount` actions are barrier operations: a
 * failed business condition becomes the step's own error, and contention becomes TransientError.
 */
function explainBusinessCancellation(
  reasons: CancellationReason[],
  barrierCount: number,
  business: BusinessWrites,
): Error {
  for (const [index, reason] of reasons.entries()) {
    if (index < barrierCount || reason.Code !== 'ConditionalCheckFailed') continue;
    return business.explainConditionFailure(index - barrierCount, reason.Item);
  }
  return transientCancellation('Transaction cancelled without a failed condition', reasons);
}

/**
 * Runs a forward action exactly once in effect. `plan` computes the business writes and the result to
 * record; it is only called when no barrier exists yet, so a duplicate never repeats its reads.
 */
export async function runAction<R>(
  deps: BarrierDeps,
  ref: StepRef,
  plan: () => Promise<ActionPlan<R>>,
): Promise<ActionOutcome<R>> {
  const existing = await readBarrier(deps, ref, 'action');
  if (existing) return recordedOutcome<R>(deps, existing, ref);

  const planned = await plan();
  try {
    await deps.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: deps.tableName,
              Item: barrierRow(deps, ref, 'action', { result: planned.result }),
              ConditionExpression: 'attribute_not_exists(pk)',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          ...planned.writes,
        ],
      }),
    );
    return { result: planned.result, duplicate: false };
  } catch (error) {
    const reasons = cancellationReasons(error);
    if (!reasons) throw error;
    const barrierReason = reasons[0];
    // A concurrent duplicate (or a compensation's tombstone) committed between our read and our write.
    if (barrierReason?.Code === 'ConditionalCheckFailed' && barrierReason.Item) {
      return recordedOutcome<R>(deps, barrierReason.Item as unknown as BarrierRow, ref);
    }
    throw explainBusinessCancellation(reasons, 1, planned);
  }
}

function duplicate(deps: BarrierDeps, ref: StepRef): 'duplicate' {
  deps.onOutcome?.('duplicate', ref);
  return 'duplicate';
}

/**
 * Runs a compensation at most once in effect. `undo` receives the result the action recorded, so a
 * compensation never depends on another state's output. Without an action barrier it is a null
 * compensation: it writes the tombstone that refuses the late action, and undoes nothing.
 */
export async function runCompensation<R>(
  deps: BarrierDeps,
  ref: StepRef,
  undo: (actionResult: R) => BusinessWrites,
): Promise<CompensationOutcome> {
  // Two rounds cover the one race that matters: the action commits between our read and our write.
  for (let round = 0; round < 2; round++) {
    const action = await readBarrier(deps, ref, 'action');
    const compensationPut: TransactWrite = {
      Put: {
        TableName: deps.tableName,
        Item: barrierRow(deps, ref, 'compensation', {}),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };

    if (!action || action.tombstone) {
      const transactItems: TransactWrite[] = action
        ? [compensationPut]
        : [
            {
              Put: {
                TableName: deps.tableName,
                Item: barrierRow(deps, ref, 'action', { tombstone: true }),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            compensationPut,
          ];
      try {
        await deps.db.send(new TransactWriteCommand({ TransactItems: transactItems }));
        deps.onOutcome?.('null-compensation', ref);
        return 'null-compensation';
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (!reasons) throw error;
        const compensationIndex = transactItems.length - 1;
        if (reasons[compensationIndex]?.Code === 'ConditionalCheckFailed') return duplicate(deps, ref);
        if (!action && reasons[0]?.Code === 'ConditionalCheckFailed') continue;
        throw transientCancellation('Null compensation cancelled', reasons);
      }
    }

    const business = undo(action.result as R);
    try {
      await deps.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: deps.tableName,
                Key: barrierKey(ref, 'action'),
                ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(tombstone)',
              },
            },
            compensationPut,
            ...business.writes,
          ],
        }),
      );
      return 'compensated';
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (!reasons) throw error;
      if (reasons[1]?.Code === 'ConditionalCheckFailed') return duplicate(deps, ref);
      if (reasons[0]?.Code === 'ConditionalCheckFailed') continue;
      throw explainBusinessCancellation(reasons, 2, business);
    }
  }
  throw new TransientError(`Compensation of ${ref.step} for ${ref.sagaId} kept racing its action`);
}
