import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { acknowledgeWildcardResource } from './nag.js';

/**
 * Lets a function act on the executions of one state machine. Executions are named after orders, unknown
 * at deploy time, so the resource is that machine's `execution:<name>:*` and nothing wider.
 */
export function grantExecutionAccess(
  fn: lambda.IFunction,
  stateMachine: sfn.StateMachine,
  actions: string[],
): void {
  const executionArns = Stack.of(fn).formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${stateMachine.stateMachineName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  iam.Grant.addToPrincipal({ grantee: fn, actions, resourceArns: [executionArns] });
  acknowledgeWildcardResource(
    fn.role ?? fn,
    executionArns,
    'Executions are named after orders, unknown at deploy time: access covers the executions of this one state machine only.',
  );
}
