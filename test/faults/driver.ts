import { randomBytes, randomUUID } from 'node:crypto';
import { DescribeStateMachineCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import {
  apiUrl,
  armFault,
  assertInvariants,
  callApi,
  historyOf,
  output,
  placeOrderDirectly,
  sfn,
  sqs,
  waitForExecution,
} from '../local/harness.js';
import { type InitialState, initialOf } from '../support/invariants.js';
import type { SagaDefinition, TaskFailure } from './definition.js';

/** A fault as POST /_local/faults takes it, before it is scoped to the cell's order. */
export interface FaultSpec {
  target: string;
  mode: string;
  count: number;
}

export async function sagaDefinition(machineOutput = 'StateMachineArn'): Promise<SagaDefinition> {
  const described = await sfn.send(
    new DescribeStateMachineCommand({ stateMachineArn: output(machineOutput) }),
  );
  return JSON.parse(described.definition ?? '{}') as SagaDefinition;
}

/** Every target the local cloud accepts, as GET /_local/faults lists them. */
export async function faultTargets(): Promise<string[]> {
  const response = await fetch(`${apiUrl}/_local/faults`);
  return ((await response.json()) as { targets: string[] }).targets;
}

/** A SKU and a customer of the cell's own, so its stock and money are checked alone on the shared cloud. */
export async function seedOwn(label: string, stock = 10, balanceCents = 100_000) {
  const id = `${label}-${randomUUID().slice(0, 8)}`;
  const seed = {
    inventory: [{ sku: `SKU-${id}`, stock, priceCents: 250 }],
    accounts: [{ customerId: `cust-${id}`, balanceCents }],
  };
  const answer = await callApi('POST', '/_local/seed', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(seed),
  });
  if (answer.status !== 201) throw new Error(`seed: ${answer.status} ${answer.text}`);
  return { id, sku: `SKU-${id}`, customerId: `cust-${id}`, initial: initialOf(seed) };
}

/** Failures in an execution's history, each marked retried (the task was scheduled again) or not. */
export function failuresIn(events: HistoryEvent[]): TaskFailure[] {
  const failures: TaskFailure[] = [];
  let state = '';
  events.forEach((event, index) => {
    if (event.type?.endsWith('StateEntered')) state = event.stateEnteredEventDetails?.name ?? '';
    const details =
      event.taskFailedEventDetails ??
      event.lambdaFunctionFailedEventDetails ??
      event.taskTimedOutEventDetails ??
      event.lambdaFunctionTimedOutEventDetails;
    if (!details?.error) return;
    const rest = events.slice(index + 1);
    const nextScheduled = rest.findIndex((next) => next.type?.endsWith('Scheduled'));
    const nextExited = rest.findIndex(
      (next) => next.type?.endsWith('StateExited') || next.type === 'ExecutionFailed',
    );
    const retried = nextScheduled !== -1 && (nextExited === -1 || nextScheduled < nextExited);
    failures.push({ state, error: details.error, retried });
  });
  return failures;
}

/**
 * What a Task state was first scheduled with: a Lambda state's function and payload, or a service integration's
 * parameters (a callback's QueueUrl and MessageBody, token included). What a late redelivery would carry.
 */
export function scheduledTask(
  events: HistoryEvent[],
  stateName: string,
): { resource?: string; input: Record<string, unknown> } {
  let state = '';
  for (const event of events) {
    if (event.type?.endsWith('StateEntered')) state = event.stateEnteredEventDetails?.name ?? '';
    if (state !== stateName) continue;
    const lambda = event.lambdaFunctionScheduledEventDetails;
    if (lambda?.input)
      return { resource: lambda.resource, input: JSON.parse(lambda.input) as Record<string, unknown> };
    const parameters = event.taskScheduledEventDetails?.parameters;
    if (parameters) return { input: JSON.parse(parameters) as Record<string, unknown> };
  }
  throw new Error(`${stateName} was never scheduled`);
}

export interface CellRun {
  orderId: string;
  customerId: string;
  sku: string;
  executionArn: string;
  /** The Fail state's error, or OrderConfirmed for a success. */
  end: string;
  history: HistoryEvent[];
  /** The cell's own seed, which stock and money are conserved against. */
  initial: InitialState;
}

const SUCCEEDED_END = 'OrderConfirmed';

/**
 * Places one order with its own SKU and customer, the cell's faults scoped to it, and waits for the saga to
 * end; `end` says where.
 */
export async function runSaga(
  label: string,
  faults: readonly FaultSpec[],
  timeoutMs = 90_000,
): Promise<CellRun> {
  const own = await seedOwn(label);
  // The API's own id format, so reconcile and GET accept the order.
  const orderId = `ord_${randomBytes(16).toString('hex')}`;
  for (const fault of faults) await armFault({ ...fault, orderId });
  const { executionArn } = await placeOrderDirectly({
    orderId,
    customerId: own.customerId,
    items: [{ sku: own.sku, quantity: 2 }],
  });
  const description = await waitForExecution(executionArn, timeoutMs);
  const end =
    description.status === 'SUCCEEDED' ? SUCCEEDED_END : (description.error ?? String(description.status));
  const history = await historyOf(executionArn);
  return { ...own, orderId, executionArn, end, history };
}

export async function assertCellInvariants(run: CellRun): Promise<void> {
  await assertInvariants({
    orderIds: [run.orderId],
    customerIds: [run.customerId],
    skus: [run.sku],
    initial: run.initial,
  });
}

/** What an order's handlers called, by caller and call, as the interception layer counted them. */
export async function callsFor(orderId: string): Promise<{ caller: string; call: string; count: number }[]> {
  const response = await fetch(`${apiUrl}/_local/calls?orderId=${encodeURIComponent(orderId)}`);
  return ((await response.json()) as { calls: { caller: string; call: string; count: number }[] }).calls;
}

/** Invokes a function now, through the local cloud, as a late or repeated delivery would. */
export async function invokeLate(
  functionName: string,
  event: unknown,
): Promise<{ ok: boolean; payload?: unknown; error?: { errorType?: string } }> {
  const answer = await callApi('POST', `/_local/functions/${encodeURIComponent(functionName)}/invoke`, {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(event),
  });
  if (answer.status !== 200) throw new Error(`invoke ${functionName}: ${answer.status} ${answer.text}`);
  return answer.body as { ok: boolean; payload?: unknown; error?: { errorType?: string } };
}

/** Sends a callback step's request again, as a late redelivery of the message would. */
export async function resendMessage(parameters: Record<string, unknown>): Promise<void> {
  const QueueName = String(parameters.QueueUrl).split('/').at(-1);
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName }));
  const body = parameters.MessageBody;
  await sqs.send(
    new SendMessageCommand({ QueueUrl, MessageBody: typeof body === 'string' ? body : JSON.stringify(body) }),
  );
}
