import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { countMetric } from '../shared/metrics.js';

/**
 * An order's executions: its saga, named after the order, and one per operator action, named
 * `<orderId>-<kind>-<n>` where n counts the order's executions, so names are unique per attempt and the
 * highest n is the latest.
 */
export type ExecutionKind = 'saga' | 'cancel' | 'complete';

export interface RecordedExecution {
  arn: string;
  name: string;
  kind: ExecutionKind;
  attempt: number;
}

export function executionNameOf(orderId: string, kind: ExecutionKind, attempt: number): string {
  return kind === 'saga' ? orderId : `${orderId}-${kind}-${attempt}`;
}

/**
 * An execution's ARN follows from its machine and name, so it is known before and without a lookup. Executions
 * started through a version or an alias (`…:stateMachine:<machine>:<qualifier>`) are still the machine's:
 * `…:execution:<machine>:<name>`.
 */
export function executionArnOf(stateMachineArn: string, name: string): string {
  const [arn, machine] = stateMachineArn.split(':stateMachine:');
  const unqualified = machine?.split(':')[0];
  if (!unqualified) throw new Error(`Not a state machine ARN: ${stateMachineArn}`);
  return `${arn}:execution:${unqualified}:${name}`;
}

export function parseExecutionArn(arn: string): RecordedExecution {
  const name = arn.slice(arn.lastIndexOf(':') + 1);
  const action = name.match(/-(cancel|complete)-(\d+)$/);
  return action
    ? { arn, name, kind: action[1] as ExecutionKind, attempt: Number(action[2]) }
    : { arn, name, kind: 'saga', attempt: 0 };
}

/** The execution that decides the order's fate now: the one started last. */
export function latestExecution(arns: readonly string[]): RecordedExecution | undefined {
  return arns
    .map(parseExecutionArn)
    .reduce<RecordedExecution | undefined>(
      (latest, execution) => (!latest || execution.attempt > latest.attempt ? execution : latest),
      undefined,
    );
}

export const CLOSED_STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/** What Step Functions says of an execution; MISSING when it no longer knows it (closed executions are purged after 90 days). */
export type ExecutionView =
  | { status: 'MISSING' }
  | {
      status: 'RUNNING' | 'PENDING_REDRIVE' | (typeof CLOSED_STATUSES)[number];
      error?: string;
      cause?: string;
      redrivable: boolean;
    };

export interface SagaMachines {
  saga: string;
  /** Absent where no operator action runs (the orders API only starts sagas and reads histories). */
  cancel?: string;
  /** Absent when no step follows the pivot. */
  complete?: string;
}

/** Step Functions refused a redrive or a start for a reason of the execution's, not of the caller's. */
export class ExecutionRefused extends Error {
  override name = 'ExecutionRefused';
}

const REFUSALS = new Set(['ExecutionNotRedrivable', 'ExecutionLimitExceeded', 'ExecutionDoesNotExist']);

/**
 * This Step Functions endpoint has no RedriveExecution at all (LocalStack), so no redrive can ever succeed
 * here: callers stop trying and hand the order to a person instead of waiting for a next look.
 */
export class RedriveUnsupported extends ExecutionRefused {
  override name = 'RedriveUnsupported';
}

/**
 * LocalStack answers an operation its provider does not implement with 501 `InternalFailure`; an AWS endpoint
 * that does not know an operation answers `UnknownOperationException`. A 500 `InternalFailure` stays transient.
 */
function isUnimplementedOperation(error: Error): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 501 || error.name === 'UnknownOperationException';
}

/** The order saga's executions as the orders service drives them. */
export class SagaClient {
  constructor(
    private readonly sfn: SFNClient,
    readonly machines: SagaMachines,
  ) {}

  machineOf(kind: ExecutionKind): string {
    const arn = this.machines[kind];
    if (!arn) throw new ExecutionRefused(`This saga has no ${kind} machine`);
    return arn;
  }

  /**
   * Starts an execution and returns its ARN. Idempotent: the same name and input while it runs is the same
   * start, and a closed execution under that name is the one an earlier attempt started (`existed`).
   */
  async start(kind: ExecutionKind, name: string, input: unknown): Promise<{ arn: string; existed: boolean }> {
    const stateMachineArn = this.machineOf(kind);
    try {
      const { executionArn } = await this.sfn.send(
        new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
      );
      // Counted where every saga starts (the API, reconcile, the sweeper); an operator's action is no new saga.
      if (kind === 'saga') countMetric('SagaStarted');
      return { arn: executionArn ?? executionArnOf(stateMachineArn, name), existed: false };
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists)
        return { arn: executionArnOf(stateMachineArn, name), existed: true };
      if (error instanceof Error && REFUSALS.has(error.name)) throw new ExecutionRefused(error.message);
      throw error;
    }
  }

  async describe(executionArn: string): Promise<ExecutionView> {
    try {
      const description = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
      return {
        status: description.status ?? 'RUNNING',
        ...(description.error ? { error: description.error } : {}),
        ...(description.cause ? { cause: description.cause } : {}),
        redrivable: description.redriveStatus === 'REDRIVABLE',
      };
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return { status: 'MISSING' };
      throw error;
    }
  }

  async history(executionArn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await this.sfn.send(
          new GetExecutionHistoryCommand({
            executionArn,
            maxResults: 1000,
            nextToken,
            includeExecutionData: true,
          }),
        );
        events.push(...(page.events ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return [];
      throw error;
    }
    return events;
  }

  async redrive(executionArn: string): Promise<void> {
    try {
      await this.sfn.send(new RedriveExecutionCommand({ executionArn }));
    } catch (error) {
      if (error instanceof Error && REFUSALS.has(error.name)) throw new ExecutionRefused(error.message);
      if (error instanceof Error && isUnimplementedOperation(error))
        throw new RedriveUnsupported(
          `This Step Functions endpoint does not implement RedriveExecution (${error.name}: ${error.message})`,
        );
      throw error;
    }
  }

  /** Stops a running execution; one that already closed is left as it is. */
  async stop(executionArn: string, cause: string): Promise<void> {
    try {
      await this.sfn.send(
        new StopExecutionCommand({ executionArn, error: 'OperatorAction', cause: cause.slice(0, 32_000) }),
      );
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) throw new ExecutionRefused(error.message);
      throw error;
    }
  }
}
