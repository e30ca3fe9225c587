import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOCAL_API_IDENTITIES } from './api-identities.js';
import { DEMO_SEED, loadSeedFile } from './seed.js';

const { startLocalCloud } = await import('./cloud.js');
const { JavaMissingError } = await import('@order-saga/local-cloud');

const USAGE = `Usage: npm start -- [--port <n>] [--seed <file>] [--time-scale <factor>] [--synth] [--sigv4] [--auth] [--no-iam]
  --port         API port on 127.0.0.1 (env PORT, default 3000)
  --seed         seed file: { "inventory": [{ "sku", "stock", "priceCents" }], "accounts": [{ "customerId", "balanceCents" }] } (env SEED_FILE)
  --time-scale   multiplies every timeout, retry interval, heartbeat and schedule period (env TIME_SCALE, default 1),
                 and every function environment variable named *_SECONDS that holds a number (whole seconds, at least 1; 0 stays 0)
  --synth        synthesize even when cdk.out is fresh
  --sigv4        the API checks SigV4 signatures with the local test keys and the stack's client and operator policies
  --auth         the customer routes (/customer/orders...) check ID tokens of a local issuer standing in for the
                 user pool; a token is printed for each customer of the seed
  --no-iam       let every AWS call of the functions and state machines through, unchecked against their roles`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function positiveNumber(raw: string, flag: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) fail(`${flag} must be a positive number, got "${raw}"`);
  return value;
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        port: { type: 'string' },
        seed: { type: 'string' },
        'time-scale': { type: 'string' },
        synth: { type: 'boolean' },
        sigv4: { type: 'boolean' },
        auth: { type: 'boolean' },
        'no-iam': { type: 'boolean' },
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

const portText = values.port ?? process.env.PORT ?? '3000';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535)
  fail(`--port must be a port number, got "${portText}"`);
const timeScale = positiveNumber(values['time-scale'] ?? process.env.TIME_SCALE ?? '1', '--time-scale');
const seedFile = values.seed ?? process.env.SEED_FILE;

/** Long enough for a working day on one `npm start`; each start makes a new key, so older tokens stop working. */
const CUSTOMER_TOKEN_HOURS = 12;

const started = Date.now();
try {
  const seed = seedFile ? loadSeedFile(seedFile) : DEMO_SEED;
  const cloud = await startLocalCloud({
    projectRoot: fileURLToPath(new URL('..', import.meta.url)),
    port,
    timeScale,
    seed,
    forceSynth: values.synth,
    sigv4: values.sigv4,
    auth: values.auth,
    iam: !values['no-iam'],
    trace: (line) => console.log(line),
    color: process.stdout.isTTY,
    // The one local cloud scripts reach (npm run redrive -- --local); tests and benchmarks run their own.
    publishEndpoints: true,
  });
  console.log(
    `order-saga local cloud ready in ${((Date.now() - started) / 1000).toFixed(1)}s: API ${cloud.apiUrl}`,
  );
  console.log(
    `  seed: ${seedFile ?? 'demo'}, time scale: ${timeScale}, Step Functions endpoint: ${cloud.endpoints.sfn}`,
  );
  if (values.sigv4) {
    console.log('  SigV4 on: sign for service execute-api, region us-east-1 (/_local/ stays unsigned)');
    for (const { name, accessKeyId, secretAccessKey, policyOutputs } of Object.values(LOCAL_API_IDENTITIES))
      console.log(`    ${name}: ${accessKeyId} / ${secretAccessKey} (${policyOutputs.join(', ')})`);
  }
  if (cloud.userPoolTokens) {
    console.log(
      `  tokens on: /customer/orders... need an ID token of ${cloud.userPoolTokens.issuer} in Authorization (valid ${CUSTOMER_TOKEN_HOURS} h)`,
    );
    for (const { customerId } of seed.accounts)
      console.log(
        `    ${customerId}: ${cloud.userPoolTokens.issue({ sub: customerId }, CUSTOMER_TOKEN_HOURS * 3600)}`,
      );
  }
  if (cloud.apiKeys.length > 0) {
    console.log('  API keys: methods that require one take these in x-api-key');
    for (const key of cloud.apiKeys) console.log(`    ${key.logicalId} (id ${key.id}): ${key.value}`);
  }
  console.log(
    '  snapshot: GET /_local/snapshot · faults: POST/DELETE /_local/faults · Ctrl-C stops everything',
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the local cloud...`);
    void cloud.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // npm does not pass SIGTERM on to its script's children: when our parent goes, we go, Java included.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown('parent process exited');
  }, 500).unref();
} catch (error) {
  if (error instanceof JavaMissingError) fail(error.message);
  console.error(`The local cloud could not start: ${(error as Error).message}`);
  process.exit(1);
}
