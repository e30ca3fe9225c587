import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startLocalCloud } from '../local/cloud.js';
import { checkSeed, OutcomeTally } from '../test/faults/schedule-check.js';
import { eventsDlqRedrives, loadCatalogue, type ScheduleCloud } from '../test/faults/schedules.js';

/**
 * Randomized schedules (test/faults/schedules.ts) for as long as asked, on a local cloud of its own. Schedule i
 * is the one of seed S + i, so any seed it reports is reproduced alone with --seed <s> --runs 1 (the schedule,
 * not the exact interleaving). Ends with `runs N, violations V, sagas/s X, slowest Y ms`; exits 1 on a violation.
 */

const USAGE = `Usage: npm run soak -- [--runs N | --minutes M] [--seed S] [--time-scale F] [--concurrency C]
  --runs         schedules to run (default 100 unless --minutes is given)
  --minutes      run schedules until this much time has passed (the running ones finish)
  --seed         the first schedule's seed (default: random); schedule i uses S + i
  --time-scale   the local cloud's time scale (default 0.1)
  --concurrency  schedules running at once (default 8)`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        runs: { type: 'string' },
        minutes: { type: 'string' },
        seed: { type: 'string' },
        'time-scale': { type: 'string', default: '0.1' },
        concurrency: { type: 'string', default: '8' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const positive = (raw: string, flag: string, integer: boolean) => {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value)))
    fail(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return value;
};
const minutes = values.minutes === undefined ? undefined : positive(values.minutes, '--minutes', false);
const runs =
  values.runs !== undefined ? positive(values.runs, '--runs', true) : minutes === undefined ? 100 : Infinity;
const timeScale = positive(values['time-scale'], '--time-scale', false);
const concurrency = positive(values.concurrency, '--concurrency', true);
const firstSeed =
  values.seed === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : Number.isSafeInteger(Number(values.seed))
      ? Number(values.seed)
      : fail(`--seed must be an integer, got "${values.seed}"`);

const cloud = await startLocalCloud({
  projectRoot: fileURLToPath(new URL('..', import.meta.url)),
  port: 0,
  timeScale,
  // Every schedule seeds its own SKUs and customers.
  seed: { inventory: [], accounts: [] },
  // LOCAL_TRACE=1 prints the local cloud's live trace, as for the local test layer.
  trace: process.env.LOCAL_TRACE ? (line) => console.log(line) : undefined,
});
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const readers: ScheduleCloud = {
  apiUrl: cloud.apiUrl,
  sfn: new SFNClient({ endpoint: cloud.endpoints.sfn, region: 'us-east-1', credentials }),
  documents: DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: cloud.endpoints.dynamodb, region: 'us-east-1', credentials }),
  ),
  outputs: cloud.outputs,
  timeScale,
  sqs: new SQSClient({ endpoint: cloud.endpoints.sqs, region: 'us-east-1', credentials }),
};

// Ctrl-C or a SIGTERM stops the cloud too, DynamoDB Local's Java process included.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cloud.stop().then(() => process.exit(130)));

let exitCode = 0;
try {
  const catalogue = await loadCatalogue(readers);
  console.log(
    `soak: first seed ${firstSeed}, time scale ${timeScale}, concurrency ${concurrency}, ${runs === Infinity ? `${minutes} min` : `${runs} runs`}`,
  );
  const started = Date.now();
  const stopAt = minutes === undefined ? Infinity : started + minutes * 60_000;
  let next = 0;
  let done = 0;
  let violations = 0;
  let sagas = 0;
  let slowest = 0;
  let gatewayRetries = 0;
  const tally = new OutcomeTally();
  const worker = async () => {
    while (next < runs && Date.now() < stopAt) {
      const seed = firstSeed + next++;
      const outcome = await checkSeed(readers, catalogue, seed, {
        onResult: (result) => {
          sagas += result.orders;
          slowest = Math.max(slowest, result.durationMs);
          gatewayRetries += result.gatewayRetries;
          tally.add(result.outcomes);
        },
      });
      done++;
      if (outcome.failed) {
        violations++;
        console.log(outcome.report);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (Date.now() - started) / 1000;
  if (violations > 0) exitCode = 1;
  console.log(`reached: ${tally}`);
  if (eventsDlqRedrives() > 0) console.log(`events DLQ redriven: ${eventsDlqRedrives()}`);
  if (gatewayRetries > 0)
    console.log(
      `API Gateway 5xx answers retried (a function past its time-scaled timeout): ${gatewayRetries}`,
    );
  console.log(
    `runs ${done}, violations ${violations}, sagas/s ${(sagas / seconds).toFixed(1)}, slowest ${slowest} ms`,
  );
} finally {
  await cloud.stop();
}
process.exit(exitCode);
