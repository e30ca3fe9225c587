import type { RemovalPolicy } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** The alias every caller starts executions through; a rollback points it at an earlier version. */
export const LIVE_ALIAS_NAME = 'live';

const LIVE_ALIAS_ID = 'Live';

/**
 * A published version of a state machine and the `live` alias that points at it. Each deploy that changes the
 * definition changes its revision id, which replaces the version resource: a new version is published and the
 * alias moves to it. Executions keep the version they started on, redrives included; starting through the alias
 * rather than the machine's ARN is what lets an operator roll a bad release back without a deploy.
 */
export class LiveAlias extends Construct {
  readonly version: sfn.CfnStateMachineVersion;
  readonly alias: sfn.CfnStateMachineAlias;
  /** `…:stateMachine:<name>:live`: what the API, reconcile and the sweeper start executions with. */
  readonly aliasArn: string;

  constructor(machine: sfn.StateMachine, versionRemovalPolicy: RemovalPolicy) {
    super(machine, LIVE_ALIAS_ID);
    this.version = new sfn.CfnStateMachineVersion(this, 'Version', {
      stateMachineArn: machine.stateMachineArn,
      // Publishing only the revision this template describes: a version never captures a definition changed
      // out of band between synth and deploy.
      stateMachineRevisionId: machine.stateMachineRevisionId,
      description: 'Published by the stack deploy that set this definition',
    });
    // A replaced version is deleted by default; the stage decides whether it stays as a rollback target.
    this.version.applyRemovalPolicy(versionRemovalPolicy);
    this.alias = new sfn.CfnStateMachineAlias(this, 'Alias', {
      name: LIVE_ALIAS_NAME,
      description: 'Where new executions start; point it back at an earlier version to roll a release back',
      routingConfiguration: [{ stateMachineVersionArn: this.version.attrArn, weight: 100 }],
    });
    // CloudFormation's Ref of an alias is its ARN.
    this.aliasArn = this.alias.ref;
  }
}

/** The `live` alias ARN of a machine the saga published. */
export function liveAliasArnOf(machine: sfn.StateMachine): string {
  const live = machine.node.tryFindChild(LIVE_ALIAS_ID);
  if (!(live instanceof LiveAlias))
    throw new Error(`State machine ${machine.node.path} has no live alias: build it with the Saga construct`);
  return live.aliasArn;
}
