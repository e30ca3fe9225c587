import type { Duration } from 'aws-cdk-lib';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { grantExecutionAccess } from '../platform/executions.js';
import type { ServiceFunction } from '../platform/service-function.js';
import { liveAliasArnOf } from '../saga/live-alias.js';
import type { Saga } from '../saga/saga.js';

/** What reconcile decides with: the same for the API route and the sweeper. */
export interface ReconcileSettings {
  readonly saga: Saga;
  /** How long barrier rows live: no step runs for an order whose rows may be gone. */
  readonly barrierTtl: Duration;
  /** Automatic redrives of a TIMED_OUT execution per order. */
  readonly redriveBudget: number;
  /** How long an order may stay PENDING, or an operator action unrecorded, before automation steps in. */
  readonly stuckAfter: Duration;
}

/** The saga's machines: the saga itself, the unwind, and the completion when the saga has one. */
export function sagaMachines(saga: Saga): sfn.StateMachine[] {
  return [
    saga.stateMachine,
    saga.unwindStateMachine,
    ...(saga.completionStateMachine ? [saga.completionStateMachine] : []),
  ];
}

/**
 * Gives a function what reconcile needs, environment and grants in one call so they cannot drift:
 * start and act on the executions of the saga's machines. `operator` adds what only a person's actions
 * use: starting the unwind and completion machines, stopping executions, reading histories.
 */
export function bindReconcile(fn: ServiceFunction, settings: ReconcileSettings, operator: boolean): void {
  const { saga } = settings;
  // Executions start through the live aliases, so pointing an alias back rolls a release back for every caller.
  fn.addEnvironment('STATE_MACHINE_ARN', liveAliasArnOf(saga.stateMachine));
  fn.addEnvironment('UNWIND_STATE_MACHINE_ARN', liveAliasArnOf(saga.unwindStateMachine));
  if (saga.completionStateMachine)
    fn.addEnvironment('COMPLETION_STATE_MACHINE_ARN', liveAliasArnOf(saga.completionStateMachine));
  fn.addEnvironment('BARRIER_TTL_SECONDS', String(settings.barrierTtl.toSeconds()));
  fn.addEnvironment('SAGA_TIMEOUT_SECONDS', String(saga.timeout.toSeconds()));
  fn.addEnvironment('AUTO_REDRIVE_BUDGET', String(settings.redriveBudget));
  fn.addEnvironment('STUCK_AFTER_SECONDS', String(settings.stuckAfter.toSeconds()));

  // Step Functions authorizes a start through an alias on the machine's own ARN.
  // Automation only ever starts a saga whose start was lost; a person's actions start the other machines.
  for (const machine of operator ? sagaMachines(saga) : [saga.stateMachine]) machine.grantStartExecution(fn);
  const executionActions = ['states:DescribeExecution', 'states:RedriveExecution'];
  if (operator) executionActions.push('states:StopExecution', 'states:GetExecutionHistory');
  for (const machine of sagaMachines(saga)) grantExecutionAccess(fn, machine, executionActions);
}
