import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { log } from './logger.js';

/**
 * The one SQS consumer loop: each message handled on its own, a failure reported for that message only
 * (ReportBatchItemFailures), never thrown for the batch, so one bad message does not redeliver the others.
 */
export function sqsBatchHandler(consumer: string, handle: (record: SQSRecord) => Promise<void>) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      try {
        await handle(record);
      } catch (error) {
        log('warn', `${consumer}: message failed`, {
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
      }
    }
    return { batchItemFailures };
  };
}
