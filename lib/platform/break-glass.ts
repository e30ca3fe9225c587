import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { stageOf } from '../stages.js';

/** The person's role the stage names (StageConfig.breakGlassRole), as queue and key policies need it. */
export interface BreakGlass {
  /** Its ARN, for `aws:PrincipalArn` conditions and key policy principals. */
  readonly roleArn: string;
  /** The role when the stack created it: its id is known, and the stack grants it the runbook's queue work. */
  readonly role?: iam.Role;
}

const ROLE_ID = 'BreakGlassRole';

/**
 * The stack's break-glass role, created on first ask when the stage wants the stack to own it: assumable by the
 * account's principals (whom the account's IAM lets assume it) only with MFA, for an hour. Undefined for
 * `'none'`.
 */
export function breakGlassOf(scope: IConstruct): BreakGlass | undefined {
  const setting = stageOf(scope).breakGlassRole;
  if (setting === 'none') return undefined;
  if (setting !== 'stack') return { roleArn: setting.arn };
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(ROLE_ID) as iam.Role | undefined;
  const role =
    existing ??
    new iam.Role(stack, ROLE_ID, {
      description: `${stack.stackName}: a person reading or redriving dead letters and reading personal data in an incident`,
      assumedBy: new iam.AccountRootPrincipal().withConditions({
        Bool: { 'aws:MultiFactorAuthPresent': 'true' },
      }),
      maxSessionDuration: Duration.hours(1),
    });
  return { roleArn: role.roleArn, role };
}
