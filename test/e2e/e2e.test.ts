import { afterAll, beforeAll, describe } from 'vitest';
import { customerCases } from './customer-cases.js';
import { FIXTURES } from './fixtures.js';
import { forgedEventCases } from './forged-event-cases.js';
import { limitCases } from './limit-cases.js';
import { ordersCases } from './orders-cases.js';
import { reconcileCases } from './reconcile-cases.js';
import { type E2eSession, openLocalSession, openRemoteSession, unreachableReason } from './session.js';
import { resolveTarget } from './targets.js';

/**
 * One suite, three targets (E2E_TARGET: local by default, localstack, aws), through the public API only: the
 * local target on a local cloud of its own with SigV4 and the stack's client and operator policies enforced.
 * A target that cannot be reached is skipped with its reason in the suite's name; the prod stage is refused
 * (resolveTarget throws, and the run fails).
 */
const resolution = resolveTarget(process.env);
const targetName =
  resolution.kind === 'local'
    ? 'local'
    : resolution.kind === 'remote'
      ? resolution.target.name
      : resolution.target;
const skipReason =
  resolution.kind === 'skip'
    ? resolution.reason
    : resolution.kind === 'remote'
      ? await unreachableReason(resolution.target)
      : undefined;
if (skipReason) console.warn(`e2e on ${targetName} skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)(
  `e2e on ${targetName}${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let session: E2eSession | undefined;
    const current = () => {
      if (!session) throw new Error('the e2e session did not open');
      return session;
    };

    beforeAll(async () => {
      session =
        resolution.kind === 'remote' ? await openRemoteSession(resolution.target) : await openLocalSession();
      await session.seed(FIXTURES);
    }, 120_000);

    afterAll(async () => {
      await session?.close();
    }, 60_000);

    const isLocal = resolution.kind === 'local';
    ordersCases(current, isLocal);
    reconcileCases(current, isLocal);
    customerCases(current, isLocal);
    limitCases(current, isLocal);
    forgedEventCases(current, isLocal);
  },
);
