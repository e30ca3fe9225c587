import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DUMMY_CREDENTIALS } from './net.js';
import {
  type CfnTemplate,
  DEFAULT_REGION,
  isRecord,
  type ResolveContext,
  resolveProperties,
  resourcesOfType,
} from './template.js';

export interface LambdaFunctionConfig {
  logicalId?: string;
  functionName: string;
  functionArn: string;
  // Directory holding the bundle (cdk.out/asset.<hash>), the Lambda "task root".
  bundleDir: string;
  // 'index.handler': module path relative to bundleDir, then the export name.
  handler: string;
  // The function's own variables, already resolved; the runner adds region, credentials and endpoints.
  environment: Record<string, string>;
  timeoutSeconds: number;
  memoryMb: number;
  /** The template's runtime (e.g. nodejs24.x); the bundle runs on this machine's Node whatever it says. */
  runtime?: string;
}

/** What Lambda returns for a failed invocation (the body of an Invoke response with FunctionError set). */
export interface LambdaErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

interface InvocationMetrics {
  functionName: string;
  requestId: string;
  // Time inside the handler call, as in Lambda's REPORT line.
  durationMs: number;
  // Set on a cold start: loading the bundle in a fresh worker.
  initDurationMs?: number;
}

export type LambdaInvocationResult =
  | (InvocationMetrics & { ok: true; payload: unknown })
  | (InvocationMetrics & { ok: false; error: LambdaErrorPayload });

// Error types produced by the runner itself, not by handler code.
export const LAMBDA_TIMEOUT_ERROR_TYPE = 'Sandbox.Timedout';
export const LAMBDA_CRASH_ERROR_TYPE = 'Runtime.ExitError';

export interface LambdaRunnerOptions {
  // Multiplies every function Timeout; 0.1 makes a 30 s function time out after 3 s.
  timeScale?: number;
  // Concurrent sandboxes per function; invocations beyond this wait in a queue.
  maxWorkersPerFunction?: number;
  // Variables every function gets (region, dummy credentials, emulator endpoints); function variables win.
  baseEnvironment?: Record<string, string>;
  // Handler output; by default it goes to this process's stdout/stderr prefixed with the function name.
  onLog?: (functionName: string, stream: 'stdout' | 'stderr', line: string) => void;
  // Lambda's init phase has its own 10 s limit, not scaled, not counted in the invocation timeout.
  initTimeoutMs?: number;
}

export interface EmulatorEndpoints {
  region?: string;
  dynamodb?: string;
  sqs?: string;
  sfn?: string;
  extra?: Record<string, string>;
}

/** Region, dummy credentials and AWS_ENDPOINT_URL_* so that unmodified SDK v3 clients reach the emulators. */
export function emulatorEnvironment(endpoints: EmulatorEndpoints): Record<string, string> {
  const region = endpoints.region ?? DEFAULT_REGION;
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'local',
    ...(endpoints.dynamodb ? { AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb } : {}),
    ...(endpoints.sqs ? { AWS_ENDPOINT_URL_SQS: endpoints.sqs } : {}),
    ...(endpoints.sfn ? { AWS_ENDPOINT_URL_SFN: endpoints.sfn } : {}),
    ...endpoints.extra,
  };
}

export interface LambdaFunctionsFromTemplateOptions {
  // Directory of the synthesized assets, usually <project>/cdk.out.
  cdkOutDir: string;
  // Applied to the functions' duration variables (see scaleDurationVariables); default 1.
  timeScale?: number;
}

const DURATION_VARIABLE_SUFFIX = '_SECONDS';
const NON_NEGATIVE_NUMBER = /^\d+(\.\d+)?$/;

/**
 * Function variables named `*_SECONDS` are durations by convention (a deadline, a TTL, an age after which
 * something counts as stuck): the app's own clocks, which must shrink with --time-scale like every timeout the
 * local cloud runs, or a scaled saga would meet unscaled deadlines. A value that is a non-negative number is
 * multiplied by `timeScale` and rounded to whole seconds, never below 1 (handlers read these as positive
 * integers) except that 0 stays 0; any other value is left alone.
 */
export function scaleDurationVariables(
  variables: Record<string, string>,
  timeScale: number,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => {
      const trimmed = value.trim();
      if (!name.endsWith(DURATION_VARIABLE_SUFFIX) || !NON_NEGATIVE_NUMBER.test(trimmed))
        return [name, value];
      const seconds = Number(trimmed);
      return [name, seconds === 0 ? '0' : String(Math.max(1, Math.round(seconds * timeScale)))];
    }),
  );
}

/**
 * Every AWS::Lambda::Function of the template with a local bundle, its resolved environment and timeout.
 * Duration variables (`*_SECONDS`) come out scaled by `options.timeScale`; the timeout stays as written, since
 * the runner scales it per invocation.
 */
export function lambdaFunctionsFromTemplate(
  template: CfnTemplate,
  ctx: ResolveContext,
  options: LambdaFunctionsFromTemplateOptions,
): LambdaFunctionConfig[] {
  const configs: LambdaFunctionConfig[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const assetPath = resource.Metadata?.['aws:asset:path'];
    // Inline code (e.g. CDK's custom-resource providers) has no asset: not something the saga invokes.
    if (typeof assetPath !== 'string') {
      continue;
    }
    const physical = ctx.resources[logicalId];
    if (!physical) {
      throw new Error(`No physical name for function ${logicalId}`);
    }
    const properties = resolveProperties(template, logicalId, ctx);
    const environment = isRecord(properties.Environment) ? properties.Environment.Variables : undefined;
    const variables: Record<string, string> = {};
    if (isRecord(environment)) {
      for (const [name, value] of Object.entries(environment)) {
        variables[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
    }
    const bundleDir = path.resolve(options.cdkOutDir, assetPath);
    if (!existsSync(bundleDir)) {
      throw new Error(`Bundle of ${logicalId} not found at ${bundleDir}: run cdk synth first`);
    }
    configs.push({
      logicalId,
      functionName: physical.ref,
      functionArn: physical.attributes.Arn ?? physical.ref,
      bundleDir,
      handler: typeof properties.Handler === 'string' ? properties.Handler : 'index.handler',
      environment: scaleDurationVariables(variables, options.timeScale ?? 1),
      timeoutSeconds: typeof properties.Timeout === 'number' ? properties.Timeout : 3,
      memoryMb: typeof properties.MemorySize === 'number' ? properties.MemorySize : 128,
      runtime: typeof properties.Runtime === 'string' ? properties.Runtime : undefined,
    });
  }
  return configs;
}

interface PendingInvocation {
  event: unknown;
  resolve: (result: LambdaInvocationResult) => void;
}

interface WorkerMessage {
  type: 'ready' | 'init-error' | 'result';
  initMs?: number;
  error?: LambdaErrorPayload;
  id?: string;
  ok?: boolean;
  payloadJson?: string;
}

function isWorkerMessage(value: unknown): value is WorkerMessage {
  return isRecord(value) && typeof value.type === 'string';
}

const WORKER_SCRIPT = new URL('./lambda-worker.mjs', import.meta.url);

/** One execution environment: a worker thread with its own process.env and module instances. */
class Sandbox {
  readonly id = randomUUID();
  busy = false;
  dead = false;
  private readonly worker: Worker;
  private readonly ready: Promise<{ ok: true; initMs: number } | { ok: false; error: LambdaErrorPayload }>;
  private initReported = false;
  private onResult?: (message: WorkerMessage) => void;
  private onDeath?: (reason: string) => void;

  constructor(
    private readonly config: LambdaFunctionConfig,
    environment: Record<string, string>,
    private readonly options: Required<Pick<LambdaRunnerOptions, 'initTimeoutMs'>> & LambdaRunnerOptions,
  ) {
    this.worker = new Worker(WORKER_SCRIPT, {
      env: environment,
      // Not inherited: the tsx loader of the parent would slow every cold start.
      execArgv: [],
      stdout: true,
      stderr: true,
      workerData: {
        taskRoot: config.bundleDir,
        handler: config.handler,
        functionName: config.functionName,
        functionArn: config.functionArn,
        memoryMb: config.memoryMb,
        sandboxId: this.id,
      },
      resourceLimits: { maxOldGenerationSizeMb: Math.max(64, config.memoryMb) },
    });
    this.forwardLogs('stdout');
    this.forwardLogs('stderr');
    this.ready = new Promise((resolve) => {
      const timer = setTimeout(() => {
        resolve({
          ok: false,
          error: {
            errorType: 'Runtime.InitTimeout',
            errorMessage: `Init of ${config.functionName} exceeded ${this.options.initTimeoutMs} ms`,
            trace: [],
          },
        });
        void this.kill();
      }, this.options.initTimeoutMs);
      this.worker.on('message', (message: unknown) => {
        if (!isWorkerMessage(message)) {
          return;
        }
        if (message.type === 'ready' || message.type === 'init-error') {
          clearTimeout(timer);
          this.initReported = true;
          resolve(
            message.type === 'ready'
              ? { ok: true, initMs: message.initMs ?? 0 }
              : { ok: false, error: message.error ?? crashError('init failed') },
          );
        } else {
          this.onResult?.(message);
        }
      });
      const die = (reason: string): void => {
        clearTimeout(timer);
        this.dead = true;
        if (!this.initReported) {
          resolve({ ok: false, error: crashError(reason) });
        }
        this.onDeath?.(reason);
      };
      this.worker.on('error', (error) => die(`${error.name}: ${error.message}`));
      this.worker.on('exit', (code) => die(`Runtime exited with status ${code}`));
    });
  }

  private forwardLogs(stream: 'stdout' | 'stderr'): void {
    let buffered = '';
    this.worker[stream].on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (this.options.onLog) {
          this.options.onLog(this.config.functionName, stream, line);
        } else {
          process[stream].write(`[${this.config.functionName}] ${line}\n`);
        }
      }
    });
  }

  async invoke(event: unknown, timeoutMs: number, coldStart: boolean): Promise<LambdaInvocationResult> {
    const requestId = randomUUID();
    const initOutcome = await this.ready;
    const metrics = (durationMs: number): InvocationMetrics => ({
      functionName: this.config.functionName,
      requestId,
      durationMs,
      ...(coldStart && initOutcome.ok ? { initDurationMs: initOutcome.initMs } : {}),
    });
    if (!initOutcome.ok) {
      await this.kill();
      return { ...metrics(0), ok: false, error: initOutcome.error };
    }
    if (this.dead) {
      return { ...metrics(0), ok: false, error: crashError('sandbox died before the invocation') };
    }
    const started = performance.now();
    return new Promise((resolve) => {
      const finish = (result: LambdaInvocationResult): void => {
        clearTimeout(timer);
        this.onResult = undefined;
        this.onDeath = undefined;
        resolve(result);
      };
      // Like Lambda, a timed-out sandbox is thrown away: its module state may be half-updated.
      const timer = setTimeout(() => {
        void this.kill();
        finish({
          ...metrics(performance.now() - started),
          ok: false,
          error: {
            errorType: LAMBDA_TIMEOUT_ERROR_TYPE,
            errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
            trace: [],
          },
        });
      }, timeoutMs);
      this.onResult = (message) => {
        if (message.id !== requestId) {
          return;
        }
        const durationMs = performance.now() - started;
        if (message.ok) {
          finish({ ...metrics(durationMs), ok: true, payload: JSON.parse(message.payloadJson ?? 'null') });
        } else {
          finish({
            ...metrics(durationMs),
            ok: false,
            error: message.error ?? crashError('unknown failure'),
          });
        }
      };
      this.onDeath = (reason) =>
        finish({ ...metrics(performance.now() - started), ok: false, error: crashError(reason) });
      this.worker.postMessage({
        type: 'invoke',
        id: requestId,
        requestId,
        event,
        deadline: Date.now() + timeoutMs,
      });
    });
  }

  async whenReady(): Promise<boolean> {
    return (await this.ready).ok;
  }

  async kill(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}

function crashError(reason: string): LambdaErrorPayload {
  return { errorType: LAMBDA_CRASH_ERROR_TYPE, errorMessage: reason, trace: [] };
}

interface FunctionPool {
  config: LambdaFunctionConfig;
  sandboxes: Sandbox[];
  queue: PendingInvocation[];
}

export interface LambdaRunner {
  register(config: LambdaFunctionConfig): void;
  // Accepts a function name or ARN. Resolves with a Lambda-shaped outcome; rejects only for unknown functions.
  invoke(functionNameOrArn: string, event: unknown): Promise<LambdaInvocationResult>;
  functions(): LambdaFunctionConfig[];
  // Starts one sandbox per function ahead of time so the first real invocation is warm.
  prewarm(functionNameOrArn?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A function's timeout under the time scale, never below Lambda's own minimum of one second: a scaled
 * timeout shorter than a few emulator round trips would fail healthy invocations on a busy machine.
 */
export function scaledFunctionTimeoutMs(timeoutSeconds: number, timeScale: number): number {
  return Math.max(1000, timeoutSeconds * 1000 * timeScale);
}

export function createLambdaRunner(options: LambdaRunnerOptions = {}): LambdaRunner {
  const settings = { initTimeoutMs: 10_000, ...options };
  const timeScale = options.timeScale ?? 1;
  const maxWorkers = Math.max(1, options.maxWorkersPerFunction ?? 2);
  const pools = new Map<string, FunctionPool>();
  const byArn = new Map<string, FunctionPool>();

  const poolOf = (functionNameOrArn: string): FunctionPool => {
    // A qualified ARN (…:function:name:$LATEST) addresses the same function locally.
    const unqualified = functionNameOrArn.replace(/^(arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+):.*$/, '$1');
    const pool = pools.get(unqualified) ?? byArn.get(unqualified);
    if (!pool) {
      throw new Error(`Lambda function ${functionNameOrArn} is not registered in the local runner`);
    }
    return pool;
  };

  const environmentOf = (config: LambdaFunctionConfig): Record<string, string> => ({
    ...settings.baseEnvironment,
    ...config.environment,
    AWS_LAMBDA_FUNCTION_NAME: config.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${config.functionName}`,
    AWS_EXECUTION_ENV: `AWS_Lambda_${config.runtime ?? 'nodejs'}`,
    LAMBDA_TASK_ROOT: config.bundleDir,
    _HANDLER: config.handler,
  });

  let stopped = false;

  const drain = (pool: FunctionPool): void => {
    // After stop() a finishing invocation must not start a fresh sandbox for what is still queued.
    if (stopped) return;
    pool.sandboxes = pool.sandboxes.filter((sandbox) => !sandbox.dead);
    while (pool.queue.length > 0) {
      let sandbox = pool.sandboxes.find((candidate) => !candidate.busy);
      let coldStart = false;
      if (!sandbox) {
        if (pool.sandboxes.length >= maxWorkers) {
          return;
        }
        sandbox = new Sandbox(pool.config, environmentOf(pool.config), settings);
        pool.sandboxes.push(sandbox);
        coldStart = true;
      }
      const next = pool.queue.shift();
      if (!next) {
        return;
      }
      const chosen = sandbox;
      chosen.busy = true;
      void chosen
        .invoke(next.event, scaledFunctionTimeoutMs(pool.config.timeoutSeconds, timeScale), coldStart)
        .then((result) => {
          chosen.busy = false;
          next.resolve(result);
          drain(pool);
        });
    }
  };

  return {
    register(config) {
      const pool: FunctionPool = { config, sandboxes: [], queue: [] };
      pools.set(config.functionName, pool);
      byArn.set(config.functionArn, pool);
    },
    invoke(functionNameOrArn, event) {
      const pool = poolOf(functionNameOrArn);
      return new Promise((resolve) => {
        pool.queue.push({ event, resolve });
        drain(pool);
      });
    },
    functions() {
      return [...pools.values()].map((pool) => pool.config);
    },
    async prewarm(functionNameOrArn) {
      const targets = functionNameOrArn ? [poolOf(functionNameOrArn)] : [...pools.values()];
      await Promise.all(
        targets
          .filter((pool) => pool.sandboxes.length === 0)
          .map(async (pool) => {
            const sandbox = new Sandbox(pool.config, environmentOf(pool.config), settings);
            pool.sandboxes.push(sandbox);
            sandbox.busy = true;
            await sandbox.whenReady();
            sandbox.busy = false;
            drain(pool);
          }),
      );
    },
    async stop() {
      stopped = true;
      const sandboxes = [...pools.values()].flatMap((pool) => pool.sandboxes);
      for (const pool of pools.values()) {
        for (const pending of pool.queue.splice(0)) {
          pending.resolve({
            ok: false,
            functionName: pool.config.functionName,
            requestId: randomUUID(),
            durationMs: 0,
            error: {
              errorType: LAMBDA_CRASH_ERROR_TYPE,
              errorMessage: 'The local Lambda runner stopped',
              trace: [],
            },
          });
        }
      }
      await Promise.all(sandboxes.map((sandbox) => sandbox.kill()));
      pools.clear();
      byArn.clear();
    },
  };
}
