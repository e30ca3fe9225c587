import { countMetric } from '../shared/metrics.js';
import type { StatusChange } from './transitions.js';

/** What stopped the saga, as a dimension: the business error's name or the reason the escalation gave. */
function reasonOf(set: StatusChange['set'], fallback: string): string {
  const failure = set?.failure as { error?: unknown; reason?: unknown } | null | undefined;
  const reason = failure?.reason ?? failure?.error;
  return typeof reason === 'string' && reason !== '' ? reason : fallback;
}

/** Counts an order reaching an end (or a person) the moment its status change is committed, once per change. */
export function statusChangeMetric(change: StatusChange): void {
  switch (change.to) {
    case 'CONFIRMED':
      countMetric('SagaConfirmed');
      return;
    case 'CANCELLED':
      // An operator's unwind carries no failure of its own.
      countMetric('SagaCancelled', { Reason: reasonOf(change.set, 'OperatorCancel') });
      return;
    case 'NEEDS_ATTENTION':
      countMetric('SagaNeedsAttention', { Reason: reasonOf(change.set, 'Unknown') });
      return;
    case 'COMPENSATION_FAILED':
      countMetric('CompensationFailed');
      return;
  }
}
