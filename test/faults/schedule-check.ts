import fc from 'fast-check';
import { type Catalogue, type ScheduleCloud, scheduleArbitrary } from './schedule-model.js';
import { runSchedule, type ScheduleResult } from './schedules.js';

/** One schedule as a fast-check property: true when it violated nothing. */
export function scheduleProperty(
  cloud: ScheduleCloud,
  catalogue: Catalogue,
  onResult?: (result: ScheduleResult) => void,
) {
  return fc.asyncProperty(scheduleArbitrary(catalogue), async (schedule) => {
    const result = await runSchedule(cloud, schedule);
    onResult?.(result);
    if (result.violations.length > 0)
      throw new Error(
        result.violations.map((violation) => `${violation.rule}: ${violation.detail}`).join('\n'),
      );
  });
}

/**
 * One schedule per seed: `fc.check` with numRuns 1 from that seed generates exactly the schedule
 * `--seed <s> --runs 1` reproduces, and on a violation it shrinks to a minimal failing schedule (bounded in
 * time, since every try runs sagas). Schedules of different seeds run side by side (the caller's concurrency).
 */
export async function checkSeed(
  cloud: ScheduleCloud,
  catalogue: Catalogue,
  seed: number,
  options: { shrinkLimitMs?: number; onResult?: (result: ScheduleResult) => void } = {},
): Promise<{ seed: number; failed: boolean; report: string }> {
  let first = true;
  const details = await fc.check(
    scheduleProperty(cloud, catalogue, (result) => {
      // Only the seed's own schedule counts towards runs and throughput; shrinking tries are extra.
      if (first) options.onResult?.(result);
      first = false;
    }),
    {
      seed,
      numRuns: 1,
      endOnFailure: false,
      interruptAfterTimeLimit: options.shrinkLimitMs ?? 120_000,
      markInterruptAsFailure: false,
    },
  );
  if (!details.failed) return { seed, failed: false, report: '' };
  const [minimal] = details.counterexample ?? [];
  const error =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  return {
    seed,
    failed: true,
    report:
      `schedule of seed ${seed} violated (shrunk ${details.numShrinks} times; reproduce: npm run soak -- --seed ${seed} --runs 1)\n` +
      `minimal schedule: ${JSON.stringify(minimal)}\n${error}`,
  };
}

/** Counts outcomes across schedules, most frequent first: what a run of schedules reached. */
export class OutcomeTally {
  private readonly counts = new Map<string, number>();

  add(outcomes: readonly string[]): void {
    for (const outcome of outcomes) this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }

  toString(): string {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .map(([outcome, count]) => `${outcome}: ${count}`)
      .join(', ');
  }
}
