import { setTimeout as delay } from 'node:timers/promises';
import type { CorrelationIdOf } from '../correlation.js';
import type { LambdaInvokeOutcome, LambdaInvoker } from '../stepfunctions-engine.js';
import { isRecord } from '../template.js';

import type {
  DuplicateDeliveryHook,
  EventSourceMappingConfig,
  EventSourceStats,
  EventSourcesOptions,
} from './types.js';

export interface Runtime {
  options: EventSourcesOptions;
  region: string;
  timeScale: number;
  signal: AbortSignal;
  trace: (mapping: EventSourceMappingConfig, message: string, correlationId?: string) => void;
  correlationIdOf: CorrelationIdOf;
  queueUrlOf(queueArn: string): Promise<string>;
}

/** Authorizes one call of a mapping's poller as its function's role (see EventSourcesOptions.authorize). */
export function authorizeAs(
  runtime: Runtime,
  mapping: EventSourceMappingConfig,
  action: string,
  resource: string,
): Promise<void> {
  return runtime.options.authorize?.(mapping.functionName, action, resource) ?? Promise.resolve();
}

export function emptyStats(): EventSourceStats {
  return {
    invocations: 0,
    failedInvocations: 0,
    filteredOut: 0,
    deletedMessages: 0,
    sentToOnFailure: 0,
    duplicatedBatches: 0,
    pollErrors: 0,
  };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export async function pause(milliseconds: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(milliseconds, undefined, { signal });
  } catch {
    // Aborted: the caller's loop checks the signal.
  }
}

/** Asks the hook once per distinct correlationId of the batch (then without one), stopping at the first yes. */
export function wantsDuplicate(
  hook: DuplicateDeliveryHook | undefined,
  targets: readonly string[],
  correlationIds: (string | undefined)[],
): boolean {
  if (!hook) return false;
  const distinct = [
    ...new Set(
      correlationIds.filter((correlationId): correlationId is string => correlationId !== undefined),
    ),
  ];
  return [...distinct, undefined].some((correlationId) => hook(targets, correlationId));
}

/** The queue's or table's name, as a fault names it. */
export function sourceNameOf(mapping: EventSourceMappingConfig): string | undefined {
  return mapping.kind === 'sqs'
    ? mapping.eventSourceArn.split(':').pop()
    : mapping.eventSourceArn.split('/')[1];
}

export function targetsOf(mapping: EventSourceMappingConfig, sourceName: string | undefined): string[] {
  const names = [
    mapping.functionName,
    mapping.functionLogicalId,
    sourceName,
    mapping.sourceLogicalId,
    mapping.logicalId,
  ];
  return [...new Set(names.filter((name): name is string => typeof name === 'string' && name !== ''))];
}

/** The invoker's outcome; a rejection (an unknown function, a stopped runner) counts as a failed invocation. */
export async function invokeSafely(
  invoker: LambdaInvoker,
  functionName: string,
  event: unknown,
): Promise<LambdaInvokeOutcome> {
  try {
    return await invoker.invoke(functionName, event);
  } catch (error) {
    return {
      ok: false,
      error: { errorType: 'Lambda.ServiceException', errorMessage: errorMessage(error), trace: [] },
    };
  }
}

/** The identifiers a function reported in { batchItemFailures }; undefined when it reported none. */
export function reportedFailures(payload: unknown): unknown[] | undefined {
  if (!isRecord(payload) || !Array.isArray(payload.batchItemFailures)) return undefined;
  return payload.batchItemFailures.map((failure) => (isRecord(failure) ? failure.itemIdentifier : undefined));
}
