import { toStepError } from './errors.js';
import { log } from './logger.js';
import { type JsonObject, sagaRef } from './step-input.js';

export interface StepContext {
  orderId: string;
  traceId: string;
  payload: JsonObject;
}

/**
 * The one adapter every saga step shares: identify the saga, run the domain call, log the outcome
 * with timing, and hand Step Functions an error whose name its Retry and Catch clauses match.
 */
export function sagaStepHandler<R>(step: string, run: (context: StepContext) => Promise<R>) {
  return async (event: unknown): Promise<R> => {
    const started = Date.now();
    let context: StepContext | undefined;
    try {
      context = sagaRef(event);
      const result = await run(context);
      log('info', 'step succeeded', {
        step,
        orderId: context.orderId,
        traceId: context.traceId,
        ms: Date.now() - started,
        result,
      });
      return result;
    } catch (error) {
      const stepError = toStepError(error);
      log('warn', 'step failed', {
        step,
        orderId: context?.orderId,
        traceId: context?.traceId,
        ms: Date.now() - started,
        errorType: stepError.name,
        errorMessage: stepError.message,
      });
      throw stepError;
    }
  };
}
