import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { runAction } from '../shared/barrier.js';
import { TransientError } from '../shared/errors.js';
import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sagaStepHandler } from '../shared/step-handler.js';
import { orderLinesField } from '../shared/step-input.js';
import { planReservation, type StockItem, skuKey } from './inventory.js';

const deps = barrierDepsFromEnv();
const STEP = SAGA_STEPS.reserveInventory;

async function loadStock(skus: string[]): Promise<Map<string, StockItem>> {
  const { Responses, UnprocessedKeys } = await deps.db.send(
    new BatchGetCommand({
      RequestItems: { [deps.tableName]: { Keys: skus.map(skuKey), ConsistentRead: true } },
    }),
  );
  if (UnprocessedKeys && Object.keys(UnprocessedKeys).length > 0) {
    throw new TransientError('Stock read was throttled; retrying the step re-reads it');
  }
  const items = (Responses?.[deps.tableName] ?? []) as StockItem[];
  return new Map(items.map((item) => [item.sku, item]));
}

export const handler = sagaStepHandler(STEP.state, async ({ orderId, payload }) => {
  const lines = orderLinesField(payload, 'items');
  const { result } = await runAction(deps, { sagaId: orderId, step: STEP.barrierId }, async () =>
    planReservation(deps.tableName, lines, await loadStock(lines.map((line) => line.sku))),
  );
  return result;
});
