import { describe, expect, it } from 'vitest';
import {
  ALLOWED_FROM,
  canTransition,
  EVENT_OF_STATUS,
  ORDER_STATUSES,
  type OrderStatus,
  type TargetStatus,
} from '../../lambdas/orders/status.js';

const TARGETS = Object.keys(ALLOWED_FROM) as TargetStatus[];

/** The whole table, written out: a change to any cell is a contract change and must change this test. */
const EXPECTED: Record<OrderStatus, TargetStatus[]> = {
  PENDING: ['CONFIRMED', 'CANCELLED', 'COMPENSATION_FAILED', 'NEEDS_ATTENTION'],
  NEEDS_ATTENTION: ['CONFIRMED', 'CANCELLED', 'COMPENSATION_FAILED', 'NEEDS_ATTENTION'],
  COMPENSATION_FAILED: ['CANCELLED', 'COMPENSATION_FAILED', 'NEEDS_ATTENTION'],
  CONFIRMED: [],
  CANCELLED: [],
};

describe('order status transitions', () => {
  it.each(ORDER_STATUSES)('from %s reaches exactly the statuses the model allows', (from) => {
    expect(TARGETS.filter((to) => canTransition(from, to)).sort()).toEqual([...EXPECTED[from]].sort());
  });

  it('never returns to PENDING and never leaves a final status', () => {
    expect(TARGETS).not.toContain('PENDING');
    for (const to of TARGETS) {
      expect(canTransition('CONFIRMED', to)).toBe(false);
      expect(canTransition('CANCELLED', to)).toBe(false);
    }
  });

  it('announces every status it can reach with its own event type', () => {
    expect(new Set(TARGETS.map((to) => EVENT_OF_STATUS[to])).size).toBe(TARGETS.length);
    expect(EVENT_OF_STATUS.NEEDS_ATTENTION).toBe('OrderNeedsAttention');
  });
});
