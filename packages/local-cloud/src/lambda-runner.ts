import { randomUUID } from 'node:crypto';
import { type PendingInvocation, Sandbox } from './lambda-sandbox.js';

export {
  type EmulatorEndpoints,
  emulatorEnvironment,
  type LambdaFunctionsFromTemplateOptions,
  lambdaFunctionsFromTemplate,
  scaleDurationVariables,
} from './lambda-functions.js';

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

export interface InvocationMetrics {
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

interface FunctionPool {
  config: LambdaFunctionConfig;
  sandboxes: Sandbox[];
  queue: PendingInvocation[];
}

/** What a sandbox is doing, found by the access key it signs its AWS calls with. */
export interface SandboxCaller {
  functionName: string;
  /** The event of the invocation it is running, if any. */
  event?: unknown;
}

/**
 * A qualified ARN (`…:function:name:7`, `…:function:name:live`, `…:$LATEST`) addresses the same function locally:
 * the local cloud runs the code of the template it booted from, whatever version a definition names.
 */
export function unqualifiedFunctionArn(functionNameOrArn: string): string {
  return functionNameOrArn.replace(/^(arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+):.*$/, '$1');
}

export interface LambdaRunner {
  register(config: LambdaFunctionConfig): void;
  // Accepts a function name or ARN. Resolves with a Lambda-shaped outcome; rejects only for unknown functions.
  invoke(functionNameOrArn: string, event: unknown): Promise<LambdaInvocationResult>;
  functions(): LambdaFunctionConfig[];
  // Starts one sandbox per function ahead of time so the first real invocation is warm.
  prewarm(functionNameOrArn?: string): Promise<void>;
  /**
   * Each sandbox signs its AWS calls with its own dummy access key, so whatever stands in front of the
   * emulators can tell which function made a call, and about which event (one invocation per sandbox at a time).
   */
  callerOf(accessKeyId: string): SandboxCaller | undefined;
  stop(): Promise<void>;
}

/** Shaped like an AWS temporary key (20 characters, ASIA…), unique per sandbox within this process. */
let sandboxKeys = 0;
function nextSandboxAccessKeyId(): string {
  sandboxKeys += 1;
  return `ASIALOCAL${String(sandboxKeys).padStart(11, '0')}`;
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
    const unqualified = unqualifiedFunctionArn(functionNameOrArn);
    const pool = pools.get(unqualified) ?? byArn.get(unqualified);
    if (!pool) {
      throw new Error(`Lambda function ${functionNameOrArn} is not registered in the local runner`);
    }
    return pool;
  };

  const callers = new Map<string, SandboxCaller>();

  const environmentOf = (config: LambdaFunctionConfig, accessKeyId: string): Record<string, string> => ({
    ...settings.baseEnvironment,
    ...config.environment,
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_LAMBDA_FUNCTION_NAME: config.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${config.functionName}`,
    AWS_EXECUTION_ENV: `AWS_Lambda_${config.runtime ?? 'nodejs'}`,
    LAMBDA_TASK_ROOT: config.bundleDir,
    _HANDLER: config.handler,
  });

  const newSandbox = (pool: FunctionPool): Sandbox => {
    const accessKeyId = nextSandboxAccessKeyId();
    const sandbox = new Sandbox(pool.config, environmentOf(pool.config, accessKeyId), settings, accessKeyId);
    callers.set(accessKeyId, { functionName: pool.config.functionName });
    pool.sandboxes.push(sandbox);
    return sandbox;
  };

  let stopped = false;

  const drain = (pool: FunctionPool): void => {
    // After stop() a finishing invocation must not start a fresh sandbox for what is still queued.
    if (stopped) return;
    for (const sandbox of pool.sandboxes) if (sandbox.dead) callers.delete(sandbox.accessKeyId);
    pool.sandboxes = pool.sandboxes.filter((sandbox) => !sandbox.dead);
    while (pool.queue.length > 0) {
      let sandbox = pool.sandboxes.find((candidate) => !candidate.busy);
      let coldStart = false;
      if (!sandbox) {
        if (pool.sandboxes.length >= maxWorkers) {
          return;
        }
        sandbox = newSandbox(pool);
        coldStart = true;
      }
      const next = pool.queue.shift();
      if (!next) {
        return;
      }
      const chosen = sandbox;
      chosen.busy = true;
      const caller = callers.get(chosen.accessKeyId);
      if (caller) caller.event = next.event;
      void chosen
        .invoke(next.event, scaledFunctionTimeoutMs(pool.config.timeoutSeconds, timeScale), coldStart)
        .then((result) => {
          chosen.busy = false;
          if (caller) caller.event = undefined;
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
            const sandbox = newSandbox(pool);
            sandbox.busy = true;
            await sandbox.whenReady();
            sandbox.busy = false;
            drain(pool);
          }),
      );
    },
    callerOf(accessKeyId) {
      return callers.get(accessKeyId);
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
