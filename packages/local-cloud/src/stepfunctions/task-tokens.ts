import { randomBytes } from 'node:crypto';

import { type JsonValue, TaskFailure } from './tasks.js';

export class TaskTokenError extends Error {
  constructor(name: 'TaskDoesNotExist' | 'TaskTimedOut' | 'InvalidToken' | 'InvalidOutput', message: string) {
    super(message);
    this.name = name;
  }
}

interface PendingTask {
  executionArn: string;
  stateName: string;
  createdAt: number;
  heartbeatMs?: number;
  heartbeatTimer?: NodeJS.Timeout;
  expiryTimer?: NodeJS.Timeout;
  resolve: (output: JsonValue) => void;
  reject: (error: Error) => void;
}

export interface CreateTokenOptions {
  executionArn: string;
  stateName: string;
  heartbeatMs?: number;
  // After this the token answers TaskTimedOut; the state's own timeout is the engine's business.
  expiresAfterMs?: number;
}

/** Task tokens awaiting SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat, shared by all machines. */
export class TaskTokenRegistry {
  private readonly pending = new Map<string, PendingTask>();
  // Remembered so that late answers get TaskTimedOut instead of TaskDoesNotExist, as on AWS.
  private readonly closed = new Map<string, 'timed-out' | 'done'>();
  // Tokens whose answers are accepted and dropped (a lost-response fault): the task waits on for its timeout.
  private readonly answersLost = new Set<string>();
  // Each token's execution, kept as long as `closed` keeps it: IAM authorizes an answer on its state machine.
  private readonly origins = new Map<string, string>();

  create(options: CreateTokenOptions): { token: string; outcome: Promise<JsonValue> } {
    const token = `local-${randomBytes(48).toString('base64url')}`;
    let resolve: (output: JsonValue) => void = () => undefined;
    let reject: (error: Error) => void = () => undefined;
    const outcome = new Promise<JsonValue>((resolvePromise, rejectPromise) => {
      resolve = resolvePromise;
      reject = rejectPromise;
    });
    const task: PendingTask = {
      executionArn: options.executionArn,
      stateName: options.stateName,
      createdAt: Date.now(),
      heartbeatMs: options.heartbeatMs,
      resolve,
      reject,
    };
    // A fault may fail the token before the engine awaits it; the engine still sees the rejection.
    outcome.catch(() => undefined);
    this.pending.set(token, task);
    this.origins.set(token, options.executionArn);
    this.armHeartbeat(token, task);
    if (options.expiresAfterMs !== undefined && Number.isFinite(options.expiresAfterMs)) {
      task.expiryTimer = setTimeout(() => this.close(token, 'timed-out'), options.expiresAfterMs);
      task.expiryTimer.unref();
    }
    return { token, outcome };
  }

  private armHeartbeat(token: string, task: PendingTask): void {
    clearTimeout(task.heartbeatTimer);
    if (task.heartbeatMs === undefined) {
      return;
    }
    task.heartbeatTimer = setTimeout(() => {
      this.close(token, 'timed-out');
      task.reject(new TaskFailure('States.HeartbeatTimeout', `No heartbeat within ${task.heartbeatMs} ms`));
    }, task.heartbeatMs);
    // A pending token must not keep a process alive on its own, as the expiry timer does not.
    task.heartbeatTimer.unref();
  }

  private take(token: string): PendingTask {
    const task = this.pending.get(token);
    if (task) {
      return task;
    }
    if (!token.startsWith('local-')) {
      throw new TaskTokenError('InvalidToken', 'Invalid token');
    }
    if (this.closed.get(token) === 'timed-out') {
      throw new TaskTokenError('TaskTimedOut', 'Task Timed Out');
    }
    throw new TaskTokenError('TaskDoesNotExist', 'Task does not exist anymore');
  }

  /** Removes a token without answering it (its task timed out, or its execution stopped). */
  close(token: string, reason: 'timed-out' | 'done'): void {
    const task = this.pending.get(token);
    if (task) {
      clearTimeout(task.heartbeatTimer);
      clearTimeout(task.expiryTimer);
      this.pending.delete(token);
    }
    this.answersLost.delete(token);
    if (this.closed.get(token) !== 'timed-out') {
      this.closed.set(token, reason);
    }
    // Bounded memory for long local sessions; the oldest tokens are forgotten first.
    if (this.closed.size > 10_000) {
      const oldest = this.closed.keys().next().value;
      if (oldest !== undefined) {
        this.closed.delete(oldest);
        this.origins.delete(oldest);
      }
    }
  }

  /**
   * From now on, answers to this token are accepted (the caller hears success) and never reach its task,
   * which waits for its heartbeat or timeout; heartbeats still count.
   */
  loseAnswers(token: string): void {
    if (this.pending.has(token)) this.answersLost.add(token);
  }

  sendTaskSuccess(token: string, output: string | JsonValue): void {
    const task = this.take(token);
    let parsed: JsonValue;
    try {
      parsed = typeof output === 'string' ? (JSON.parse(output) as JsonValue) : output;
    } catch {
      throw new TaskTokenError('InvalidOutput', 'Output is not valid JSON');
    }
    if (this.answersLost.has(token)) return;
    this.close(token, 'done');
    task.resolve(parsed);
  }

  sendTaskFailure(token: string, error = '', cause = ''): void {
    const task = this.take(token);
    if (this.answersLost.has(token)) return;
    this.close(token, 'done');
    // On AWS a failure without an error name is matched as States.TaskFailed only.
    task.reject(new TaskFailure(error, cause));
  }

  sendTaskHeartbeat(token: string): void {
    this.armHeartbeat(token, this.take(token));
  }

  /** The execution that issued a token, open or answered; undefined for a token it never issued. */
  executionOf(token: string): string | undefined {
    return this.origins.get(token);
  }

  pendingTasks(): { token: string; executionArn: string; stateName: string; createdAt: number }[] {
    return [...this.pending.entries()].map(([token, task]) => ({
      token,
      executionArn: task.executionArn,
      stateName: task.stateName,
      createdAt: task.createdAt,
    }));
  }

  closeAllOf(executionArn: string): void {
    for (const [token, task] of this.pending) {
      if (task.executionArn === executionArn) {
        this.close(token, 'done');
      }
    }
  }
}
