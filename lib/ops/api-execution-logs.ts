import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { stageOf } from '../stages.js';

export interface ApiExecutionLogsProps {
  /** The API whose deployed stage writes execution logs. */
  readonly restApi: apigw.RestApi;
}

/**
 * The log group API Gateway writes a stage's execution logs to. Left to API Gateway, it is created on the first
 * line, kept forever and outlives the stack; created here first, it has the stage's retention and removal policy.
 */
export class ApiExecutionLogs extends Construct {
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiExecutionLogsProps) {
    super(scope, id);
    const stage = props.restApi.deploymentStage;
    // The stage's name as written, not its Ref: the group must not wait for the stage it comes before.
    const stageName = (stage.node.defaultChild as apigw.CfnStage).stageName;
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: `API-Gateway-Execution-Logs_${props.restApi.restApiId}/${stageName}`,
      retention: stageOf(this).logRetention,
      removalPolicy: stageOf(this).logRemovalPolicy,
    });
    // Before the stage exists nothing logs, so API Gateway cannot have created the group first.
    stage.node.addDependency(this.logGroup);
  }
}
