import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { checkSeed, OutcomeTally } from './schedule-check.js';
import { eventsDlqRedrives, loadCatalogue, type ScheduleCloud } from './schedules.js';

/**
 * Randomized schedules on the layer's shared local cloud. Each schedule is its own test, run as `fc.check`
 * from its own seed (first seed + i): the tests run side by side, bounded by the project's maxConcurrency, and
 * one that fails shrinks alone to a minimal schedule whose seed `npm run soak -- --seed <s> --runs 1` runs
 * again. fc.assert over 100 runs would run them one after another, too slow for CI's budget. The first seed is
 * random unless SCHEDULE_SEED fixes it; it is in every test's name.
 */
const SCHEDULES = Number(process.env.SCHEDULE_RUNS ?? 100);
const firstSeed = Number(process.env.SCHEDULE_SEED ?? Math.floor(Math.random() * 2 ** 31));

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const cloud: ScheduleCloud = {
  apiUrl: inject('apiUrl'),
  sfn: new SFNClient({ endpoint: inject('sfnEndpoint'), region: 'us-east-1', credentials }),
  documents: DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: inject('dynamodbEndpoint'), region: 'us-east-1', credentials }),
  ),
  outputs: inject('outputs'),
  timeScale: inject('timeScale'),
  sqs: new SQSClient({ endpoint: inject('sqsEndpoint'), region: 'us-east-1', credentials }),
};
const catalogue = await loadCatalogue(cloud);

const started = Date.now();
let runs = 0;
let sagas = 0;
let slowest = 0;
let gatewayRetries = 0;
const tally = new OutcomeTally();
afterAll(() => {
  console.log(
    `randomized schedules from seed ${firstSeed}: ${runs} run, ${sagas} sagas in ${((Date.now() - started) / 1000).toFixed(0)} s, slowest ${slowest} ms, API Gateway 5xx retried ${gatewayRetries}, events DLQ redriven ${eventsDlqRedrives()}\n  reached: ${tally}`,
  );
});

describe.concurrent('randomized schedules: concurrent orders, faults and operators, then the invariants', () => {
  for (let index = 0; index < SCHEDULES; index++) {
    const seed = firstSeed + index;
    it(`schedule of seed ${seed}`, async () => {
      const outcome = await checkSeed(cloud, catalogue, seed, {
        shrinkLimitMs: 60_000,
        onResult: (result) => {
          runs++;
          sagas += result.orders;
          slowest = Math.max(slowest, result.durationMs);
          gatewayRetries += result.gatewayRetries;
          tally.add(result.outcomes);
        },
      });
      expect(outcome.failed, outcome.report).toBe(false);
    }, 240_000);
  }
});
