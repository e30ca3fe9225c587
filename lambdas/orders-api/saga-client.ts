import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { NewOrder } from '../orders/orders.js';
import { sagaInputOf } from '../orders/orders.js';

/** An execution is named after its order, so its ARN is known without a lookup. */
export function executionArnOf(stateMachineArn: string, orderId: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${orderId}`;
}

export type ExecutionView =
  | { status: 'NONE' }
  | {
      status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
      error?: string;
    };

/** The order saga's executions as the orders API sees them. */
export class SagaClient {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  /**
   * Starts the order's saga. Idempotent: the same order always yields the same name and input, which a
   * running execution accepts as the same start; a finished one under that name means the saga already ran.
   */
  async start(order: Omit<NewOrder, 'requestHash'>): Promise<'started' | 'already-started'> {
    try {
      await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: order.orderId,
          input: JSON.stringify(sagaInputOf(order)),
        }),
      );
      return 'started';
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return 'already-started';
      throw error;
    }
  }

  async describe(orderId: string): Promise<ExecutionView> {
    try {
      const description = await this.sfn.send(
        new DescribeExecutionCommand({ executionArn: executionArnOf(this.stateMachineArn, orderId) }),
      );
      const status = description.status ?? 'RUNNING';
      return { status, ...(description.error ? { error: description.error } : {}) };
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return { status: 'NONE' };
      throw error;
    }
  }

  async history(orderId: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await this.sfn.send(
          new GetExecutionHistoryCommand({
            executionArn: executionArnOf(this.stateMachineArn, orderId),
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

  async redrive(orderId: string): Promise<void> {
    await this.sfn.send(
      new RedriveExecutionCommand({ executionArn: executionArnOf(this.stateMachineArn, orderId) }),
    );
  }
}
