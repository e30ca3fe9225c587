import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { SQSRecord } from 'aws-lambda';
import { runAction } from '../shared/barrier.js';
import { requireEnv } from '../shared/env.js';
import { BusinessError, toStepError } from '../shared/errors.js';
import { summarize } from '../shared/log-summary.js';
import { appendInvocationKeys, logger } from '../shared/logger.js';
import { SAGA_STEPS } from '../shared/saga-states.js';
import { barrierDepsFromEnv } from '../shared/service-env.js';
import { sqsBatchHandler } from '../shared/sqs-batch.js';
import {
  asObject,
  orderLinesField,
  sagaRef,
  shippingAddressField,
  stringField,
} from '../shared/step-input.js';
import { parseServedCountries, planShipment } from './shipping.js';

const deps = barrierDepsFromEnv();
const servedCountries = parseServedCountries(requireEnv('SERVED_COUNTRIES'));
const sfn = new SFNClient({});

/** Answers that mean the saga no longer waits for this token: it timed out, or already moved on. */
const TASK_GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

async function answer(send: () => Promise<unknown>): Promise<'answered' | 'saga-moved-on'> {
  try {
    await send();
    return 'answered';
  } catch (error) {
    if (error instanceof Error && TASK_GONE.has(error.name)) {
      logger.warn('the saga no longer waits for this shipment', { reason: error.name });
      return 'saga-moved-on';
    }
    throw error;
  }
}

async function fulfil(record: SQSRecord): Promise<void> {
  // Without a token there is no saga to answer: the message is poison and ends in the DLQ.
  const message = asObject(JSON.parse(record.body), 'message');
  const taskToken = stringField(message, 'taskToken');
  let orderId = 'unknown';
  try {
    const request = sagaRef(message.request);
    orderId = request.orderId;
    appendInvocationKeys({
      orderId,
      traceId: request.traceId,
      step: SAGA_STEPS.createShipment.state,
      attempt: typeof request.payload.attempt === 'number' ? request.payload.attempt : undefined,
    });
    logger.info('shipment requested', { input: summarize(request.payload) });
    // Proves the request was picked up; a token that is already dead means compensation is under way.
    if ((await answer(() => sfn.send(new SendTaskHeartbeatCommand({ taskToken })))) === 'saga-moved-on')
      return;
    const order = {
      orderId,
      address: shippingAddressField(request.payload, 'shippingAddress'),
      items: orderLinesField(request.payload, 'items'),
    };
    const { result } = await runAction(
      deps,
      { sagaId: orderId, step: SAGA_STEPS.createShipment.barrierId },
      async () => planShipment(deps.tableName, order, servedCountries, new Date().toISOString()),
    );
    await answer(() => sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(result) })));
  } catch (error) {
    const stepError = toStepError(error);
    // A business outcome (a malformed request included) is an answer; anything else is retried by redelivery.
    if (!(stepError instanceof BusinessError)) throw stepError;
    await answer(() =>
      sfn.send(
        new SendTaskFailureCommand({
          taskToken,
          error: stepError.name,
          cause: stepError.message.slice(0, 32_000),
        }),
      ),
    );
  }
}

/**
 * The carrier integration behind CreateShipment: consumes shipping requests, creates each shipment once
 * through the barrier, and answers the waiting saga with the shipment or a named business error.
 */
export const handler = sqsBatchHandler('ShippingWorker', fulfil);
