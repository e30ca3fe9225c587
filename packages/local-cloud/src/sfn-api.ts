import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from './http-body.js';
import { epochSeconds, jsonText, toAwsHistoryEvent } from './stepfunctions/aws-history.js';
import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  type ExecutionStatus,
  isRedrivable,
  type JsonValue,
  type LocalExecution,
  type LocalStateMachine,
  TaskTokenError,
  type TaskTokenRegistry,
} from './stepfunctions-engine.js';
import type { QualifiedName } from './template/qualified-names.js';

/** An error answered in the AWS JSON 1.0 protocol, which the SDK turns into the named exception class. */
export class SfnApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

interface ExecutionRecord {
  machine: LocalStateMachine;
  execution: LocalExecution;
  stopDate?: Date;
  /** The version or alias it was started through, if any. */
  startedWith?: QualifiedName;
}

function redriveStatusOf(status: ExecutionStatus) {
  return isRedrivable(status)
    ? { redriveStatus: 'REDRIVABLE' }
    : {
        redriveStatus: 'NOT_REDRIVABLE',
        redriveStatusReason: `Execution is ${status} and cannot be redriven`,
      };
}

type Operation = (input: Record<string, unknown>) => Promise<unknown> | unknown;

function requiredString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value === '')
    throw new SfnApiError('ValidationException', `${field} is required`);
  return value;
}

/**
 * The Step Functions API over the local engine, spoken in AWS JSON 1.0 so that the unmodified
 * @aws-sdk/client-sfn (in handlers, tests and scripts) can drive it.
 */
export class StepFunctionsApi {
  private readonly machines = new Map<string, LocalStateMachine>();
  private readonly qualifiedNames = new Map<string, QualifiedName>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly operations: Record<string, Operation>;

  constructor(
    private readonly taskTokens: TaskTokenRegistry,
    private readonly hooks: {
      onStart?: (execution: LocalExecution) => void;
      // After RedriveExecution; `execution.result` is by then the redriven attempt's outcome.
      onRedrive?: (execution: LocalExecution) => void;
    } = {},
  ) {
    this.operations = {
      StartExecution: (input) => this.startExecution(input),
      DescribeExecution: (input) => this.describe(this.record(requiredString(input, 'executionArn'))),
      ListExecutions: (input) => this.listExecutions(input),
      GetExecutionHistory: (input) => this.history(input),
      StopExecution: (input) => this.stopExecution(input),
      RedriveExecution: (input) => this.redriveExecution(input),
      SendTaskSuccess: (input) =>
        this.tokenCall(() =>
          this.taskTokens.sendTaskSuccess(
            requiredString(input, 'taskToken'),
            requiredString(input, 'output'),
          ),
        ),
      SendTaskFailure: (input) =>
        this.tokenCall(() =>
          this.taskTokens.sendTaskFailure(
            requiredString(input, 'taskToken'),
            typeof input.error === 'string' ? input.error : '',
            typeof input.cause === 'string' ? input.cause : '',
          ),
        ),
      SendTaskHeartbeat: (input) =>
        this.tokenCall(() => this.taskTokens.sendTaskHeartbeat(requiredString(input, 'taskToken'))),
      DescribeStateMachine: (input) => {
        const machine = this.machine(requiredString(input, 'stateMachineArn'));
        return {
          stateMachineArn: machine.stateMachineArn,
          name: machine.name,
          status: 'ACTIVE',
          definition: JSON.stringify(machine.definition),
          type: 'STANDARD',
          creationDate: 0,
        };
      },
      ListStateMachines: () => ({
        stateMachines: [...this.machines.values()].map((machine) => ({
          stateMachineArn: machine.stateMachineArn,
          name: machine.name,
          type: 'STANDARD',
          creationDate: 0,
        })),
      }),
    };
  }

  addStateMachine(machine: LocalStateMachine): void {
    this.machines.set(machine.stateMachineArn, machine);
  }

  /** A published version or alias: its ARN starts executions of the machine it qualifies. */
  addQualifiedName(name: QualifiedName): void {
    this.qualifiedNames.set(name.arn, name);
  }

  allExecutions(): LocalExecution[] {
    return [...this.executions.values()].map((record) => record.execution);
  }

  private machine(arn: string): LocalStateMachine {
    const machine = this.machines.get(this.qualifiedNames.get(arn)?.qualifies ?? arn);
    if (!machine) throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  private record(executionArn: string): ExecutionRecord {
    const record = this.executions.get(executionArn);
    if (!record)
      throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return record;
  }

  startExecution(input: Record<string, unknown>) {
    const arn = requiredString(input, 'stateMachineArn');
    const machine = this.machine(arn);
    let parsedInput: JsonValue = {};
    if (input.input !== undefined) {
      try {
        parsedInput = JSON.parse(String(input.input)) as JsonValue;
      } catch {
        throw new SfnApiError('InvalidExecutionInput', 'Invalid State Machine Execution Input');
      }
    }
    const name = typeof input.name === 'string' ? input.name : undefined;
    if (name !== undefined && !/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw new SfnApiError('InvalidName', `Invalid Name: '${name}'`);
    }
    let execution: LocalExecution;
    try {
      execution = machine.start(parsedInput, { name });
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists)
        throw new SfnApiError('ExecutionAlreadyExists', error.message);
      throw error;
    }
    if (!this.executions.has(execution.executionArn)) {
      const record: ExecutionRecord = { machine, execution, startedWith: this.qualifiedNames.get(arn) };
      this.executions.set(execution.executionArn, record);
      this.watchStop(record);
      this.hooks.onStart?.(execution);
    }
    return { executionArn: execution.executionArn, startDate: epochSeconds(execution.startDate) };
  }

  private watchStop(record: ExecutionRecord): void {
    const attempt = record.execution.result;
    void attempt.then((outcome) => {
      // A redrive may have started a newer attempt meanwhile.
      if (record.execution.result === attempt) record.stopDate = outcome.stopDate;
    });
  }

  /** Redrives through the machine that owns the execution; the HTTP reply carries only the date. */
  redriveExecution(input: Record<string, unknown>) {
    const record = this.record(requiredString(input, 'executionArn'));
    try {
      record.machine.redrive(record.execution.executionArn);
    } catch (error) {
      if (error instanceof ExecutionNotRedrivable || error instanceof ExecutionDoesNotExist)
        throw new SfnApiError(error.name, error.message);
      throw error;
    }
    record.stopDate = undefined;
    this.watchStop(record);
    this.hooks.onRedrive?.(record.execution);
    return { redriveDate: epochSeconds(record.execution.redriveDate ?? new Date()) };
  }

  private describe(record: ExecutionRecord) {
    const { execution, machine } = record;
    const last = execution.history.at(-1);
    const done = execution.status() !== 'RUNNING';
    return {
      executionArn: execution.executionArn,
      stateMachineArn: machine.stateMachineArn,
      // As on AWS: an execution started through an alias names the alias and the version it routed to.
      ...(record.startedWith?.kind === 'alias' ? { stateMachineAliasArn: record.startedWith.arn } : {}),
      ...(record.startedWith ? { stateMachineVersionArn: record.startedWith.versionArn } : {}),
      name: execution.name,
      status: execution.status(),
      startDate: epochSeconds(execution.startDate),
      ...(done && record.stopDate ? { stopDate: epochSeconds(record.stopDate) } : {}),
      input: JSON.stringify(execution.input),
      ...(done && last?.type === 'ExecutionSucceeded' ? { output: jsonText(last.output) } : {}),
      ...(done && last?.error ? { error: last.error, cause: last.cause } : {}),
      redriveCount: execution.redriveCount,
      ...(execution.redriveDate ? { redriveDate: epochSeconds(execution.redriveDate) } : {}),
      ...redriveStatusOf(execution.status()),
    };
  }

  private listExecutions(input: Record<string, unknown>) {
    const arn = requiredString(input, 'stateMachineArn');
    this.machine(arn);
    const statusFilter = typeof input.statusFilter === 'string' ? input.statusFilter : undefined;
    const executions = [...this.executions.values()]
      .filter((record) => record.machine.stateMachineArn === arn)
      .filter((record) => !statusFilter || record.execution.status() === statusFilter)
      .reverse()
      .map((record) => {
        const { executionArn, name, status, startDate, stopDate, redriveCount, redriveDate } =
          this.describe(record);
        return {
          executionArn,
          stateMachineArn: arn,
          name,
          status,
          startDate,
          ...(stopDate ? { stopDate } : {}),
          redriveCount,
          ...(redriveDate ? { redriveDate } : {}),
        };
      });
    const maxResults = typeof input.maxResults === 'number' && input.maxResults > 0 ? input.maxResults : 100;
    return { executions: executions.slice(0, maxResults) };
  }

  private history(input: Record<string, unknown>) {
    const { execution } = this.record(requiredString(input, 'executionArn'));
    const events = execution.history.map(toAwsHistoryEvent).filter((event) => event !== undefined);
    if (input.reverseOrder === true) events.reverse();
    return { events };
  }

  private stopExecution(input: Record<string, unknown>) {
    const record = this.record(requiredString(input, 'executionArn'));
    record.execution.stop(
      typeof input.error === 'string' ? input.error : '',
      typeof input.cause === 'string' ? input.cause : '',
    );
    return { stopDate: epochSeconds(new Date()) };
  }

  private tokenCall(call: () => void) {
    try {
      call();
      return {};
    } catch (error) {
      if (error instanceof TaskTokenError) throw new SfnApiError(error.name, error.message);
      throw error;
    }
  }

  /** Serves one HTTP request of the JSON 1.0 protocol; `rawBody` when the caller has read it already. */
  async handle(request: IncomingMessage, response: ServerResponse, rawBody?: string): Promise<void> {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = this.operations[target.replace(/^AWSStepFunctions\./, '')];
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(body));
    };
    try {
      if (!operation)
        throw new SfnApiError('UnknownOperationException', `Operation ${target} is not supported locally`);
      const raw = rawBody ?? (await readBody(request));
      const input = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      reply(200, await operation(input));
    } catch (error) {
      if (error instanceof SfnApiError) reply(error.status, { __type: error.type, message: error.message });
      else reply(500, { __type: 'InternalFailure', message: (error as Error).message });
    }
  }
}
