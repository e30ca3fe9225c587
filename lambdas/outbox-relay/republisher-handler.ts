import type { Context } from 'aws-lambda';
import { requirePositiveIntEnv } from '../shared/env.js';
import { beginInvocation, logger } from '../shared/logger.js';
import { countMetric, flushMetrics } from '../shared/metrics.js';
import { publishDepsFromEnv } from './publish-env.js';
import { type RepublishOptions, type RepublishSummary, republishUnpublished } from './republisher.js';

const deps = publishDepsFromEnv('republisher');
const options: RepublishOptions = {
  republishAfterSeconds: requirePositiveIntEnv('REPUBLISH_AFTER_SECONDS'),
  batchLimit: requirePositiveIntEnv('REPUBLISH_BATCH_LIMIT'),
};

/**
 * Runs on a schedule: publishes the outbox rows the relay could not (its retries ran out, the stream's
 * 24 hours passed, a crash between send and mark), so every committed change is announced in the end.
 */
export const handler = async (_event?: unknown, context?: Context): Promise<RepublishSummary> => {
  beginInvocation(context);
  try {
    const summary = await republishUnpublished(deps, options);
    logger.info('republish finished', { ...summary });
    if (summary.published > 0) countMetric('OutboxRepublished', {}, summary.published);
    return summary;
  } finally {
    flushMetrics();
  }
};
