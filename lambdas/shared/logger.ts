import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/**
 * The one logger of every function: Powertools' structured JSON lines, which CloudWatch Logs Insights and the
 * local cloud's trace both query by field. Its level follows the function's own log-level setting (Lambda
 * sets AWS_LAMBDA_LOG_LEVEL from applicationLogLevelV2); it writes to stdout itself, so Lambda's JSON log
 * format passes the line through instead of wrapping it a second time. Its `service` is the stack's name
 * (POWERTOOLS_SERVICE_NAME, set by the stack), so the lines of two stages in one account stay apart.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'order-saga' });

/** What every line of one invocation names, when the invocation knows it. */
export interface InvocationKeys {
  orderId?: string;
  traceId?: string;
  step?: string;
  attempt?: number;
}

/**
 * Starts an invocation's lines: the Lambda context (request id, cold start) and the saga's keys. The keys of
 * the previous invocation in this environment are dropped first, so no line names another order.
 */
export function beginInvocation(context: Partial<Context> | undefined, keys: InvocationKeys = {}): void {
  logger.resetKeys();
  // A test's stand-in context (only the remaining time) is no Lambda context to label lines with.
  if (context?.awsRequestId) logger.addContext(context as Context);
  appendInvocationKeys(keys);
}

/** Adds keys learned during the invocation (an SQS message's order): later lines carry them. */
export function appendInvocationKeys(keys: InvocationKeys): void {
  const defined = Object.fromEntries(Object.entries(keys).filter(([, value]) => value !== undefined));
  if (Object.keys(defined).length > 0) logger.appendKeys(defined);
}

/** Drops the invocation's keys (one SQS message's order must not label the next message's lines). */
export function clearInvocationKeys(...names: (keyof InvocationKeys)[]): void {
  logger.removeKeys(names);
}

/** An error as a log field: its name and message, never its stack or the payload it may quote. */
export function errorFields(error: unknown): { errorType: string; errorMessage: string } {
  return error instanceof Error
    ? { errorType: error.name, errorMessage: error.message }
    : { errorType: typeof error, errorMessage: String(error) };
}
