import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BusinessError, TransientError } from './errors.js';
import { beginInvocation, clearInvocationKeys, logger } from './logger.js';
import { flushMetrics, unexpectedErrorMetric } from './metrics.js';

/** The trace id a message carries as its `traceId` attribute, for the lines that handle it. */
export function traceIdAttribute(record: Pick<SQSRecord, 'messageAttributes'>): string | undefined {
  return record.messageAttributes?.traceId?.stringValue;
}

/**
 * The one SQS consumer loop: each message handled on its own, a failure reported for that message only
 * (ReportBatchItemFailures), never thrown for the batch, so one bad message does not redeliver the others.
 * Each message's lines carry its trace id (and the order id the handler appends) and no other message's.
 */
export function sqsBatchHandler(consumer: string, handle: (record: SQSRecord) => Promise<void>) {
  return async (event: SQSEvent, lambdaContext?: Context): Promise<SQSBatchResponse> => {
    beginInvocation(lambdaContext);
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    try {
      for (const record of event.Records) {
        const traceId = traceIdAttribute(record);
        if (traceId) logger.appendKeys({ traceId });
        try {
          await handle(record);
        } catch (error) {
          // Poison (a body that is not what the queue carries) and bugs alike: neither is retried into success.
          if (!(error instanceof BusinessError || error instanceof TransientError))
            unexpectedErrorMetric(consumer);
          logger.warn(`${consumer}: message failed`, {
            messageId: record.messageId,
            receiveCount: record.attributes?.ApproximateReceiveCount,
            // A JSON parse error quotes the body, which may hold an address: its name is enough.
            errorMessage:
              error instanceof SyntaxError
                ? 'the body is not JSON'
                : error instanceof Error
                  ? error.message
                  : String(error),
          });
          batchItemFailures.push({ itemIdentifier: record.messageId });
        } finally {
          clearInvocationKeys('orderId', 'traceId', 'step', 'attempt');
        }
      }
      return { batchItemFailures };
    } finally {
      flushMetrics();
    }
  };
}
