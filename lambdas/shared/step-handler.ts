import type { Context } from 'aws-lambda';
import { BusinessError, TransientError, toStepError } from './errors.js';
import { summarize } from './log-summary.js';
import { appendInvocationKeys, beginInvocation, errorFields, logger } from './logger.js';
import {
  countMetric,
  flushMetrics,
  millisecondsMetric,
  setInvocationStep,
  unexpectedErrorMetric,
} from './metrics.js';
import { type JsonObject, sagaRef } from './step-input.js';

export interface StepContext {
  orderId: string;
  traceId: string;
  payload: JsonObject;
}

/** The state's retry count the state machine passes as `attempt` ($$.State.RetryCount): 0 on the first try. */
function attemptOf(event: unknown): number | undefined {
  const attempt = (event as { attempt?: unknown } | null)?.attempt;
  return typeof attempt === 'number' ? attempt : undefined;
}

/** How a step attempt ended, as the StepOutcome metric's Outcome dimension names it. */
export function stepOutcomeOf(
  error: Error | undefined,
): 'Succeeded' | 'BusinessError' | 'Transient' | 'Unexpected' {
  if (!error) return 'Succeeded';
  if (error instanceof BusinessError) return 'BusinessError';
  if (error instanceof TransientError) return 'Transient';
  return 'Unexpected';
}

/**
 * The one adapter every saga step shares: identify the saga, label every log line of the invocation with it,
 * run the domain call, log and count the outcome with timing, and hand Step Functions an error whose name its
 * Retry and Catch clauses match.
 */
export function sagaStepHandler<R>(step: string, run: (context: StepContext) => Promise<R>) {
  return async (event: unknown, lambdaContext?: Context): Promise<R> => {
    const started = Date.now();
    beginInvocation(lambdaContext, { step, attempt: attemptOf(event) });
    setInvocationStep(step);
    let failure: Error | undefined;
    try {
      const context = sagaRef(event);
      appendInvocationKeys({ orderId: context.orderId, traceId: context.traceId });
      logger.info('step started', { input: summarize(context.payload) });
      const result = await run(context);
      logger.info('step succeeded', { ms: Date.now() - started, output: summarize(result) });
      return result;
    } catch (error) {
      failure = toStepError(error);
      const outcome = stepOutcomeOf(failure);
      const fields = { ms: Date.now() - started, outcome, ...errorFields(failure) };
      if (outcome === 'Unexpected') {
        unexpectedErrorMetric(step);
        logger.error('step failed', fields);
      } else logger.warn('step failed', fields);
      throw failure;
    } finally {
      countMetric('StepOutcome', { Step: step, Outcome: stepOutcomeOf(failure) });
      millisecondsMetric('StepDuration', Date.now() - started, { Step: step });
      flushMetrics();
      setInvocationStep(undefined);
    }
  };
}
