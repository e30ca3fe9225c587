import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import {
  type InvocationMetrics,
  LAMBDA_CRASH_ERROR_TYPE,
  LAMBDA_TIMEOUT_ERROR_TYPE,
  type LambdaErrorPayload,
  type LambdaFunctionConfig,
  type LambdaInvocationResult,
  type LambdaRunnerOptions,
} from './lambda-runner.js';
import { isRecord } from './template.js';

export interface PendingInvocation {
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
export class Sandbox {
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
    /** The dummy key its AWS calls are signed with (see LambdaRunner.callerOf). */
    readonly accessKeyId = '',
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
