import { DefaultStackSynthesizer, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { stageOf } from '../stages.js';

/** The services a data key's data lives in; a key is only ever used through them (`kms:ViaService`). */
export type DataService = 'dynamodb' | 'sqs' | 'states';

/** What reading data through a service needs of its key. */
export const READ_KEY_ACTIONS: readonly string[] = ['kms:Decrypt'];
/** What writing data through a service needs: a data key for new ciphertext, and reading what is there. */
export const WRITE_KEY_ACTIONS: readonly string[] = ['kms:Decrypt', 'kms:GenerateDataKey'];

/**
 * Key management without key use: IAM in the account may administer the key (so it never becomes
 * unmanageable), but no IAM policy can give anyone the right to encrypt or decrypt with it, nor to create a
 * grant for themselves. Use is only what the key policy names.
 */
const ADMINISTRATION_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RetireGrant',
  'kms:RevokeGrant',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
];

export interface DataKeyProps {
  /** What the key protects, for whoever finds it in the console. */
  readonly description: string;
  /** The services its data lives in. */
  readonly services: readonly DataService[];
  /**
   * The person's role for reading data through the services (see StageConfig.breakGlassRole).
   * @default none
   */
  readonly breakGlassRoleArn?: string;
}

/**
 * A customer-managed key for one class of personal data (orders, payments, shipping, saga executions):
 * rotated yearly, kept as long as the tables it protects, and usable only by the roles that own the data
 * (`allowVia`), the deploy role and the break-glass role, each only through the key's services.
 */
export class DataKey extends kms.Key {
  private readonly uses = new Map<string, { statement: iam.PolicyStatement; roles: Set<string> }>();

  constructor(scope: Construct, id: string, props: DataKeyProps) {
    const stage = stageOf(scope);
    super(scope, id, {
      description: props.description,
      enableKeyRotation: true,
      // Retained tables need their key: a key deleted under them makes their data unreadable for good.
      removalPolicy: stage.tableRemovalPolicy,
      pendingWindow: stage.tableRemovalPolicy === RemovalPolicy.DESTROY ? Duration.days(7) : undefined,
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AccountAdministersTheKey',
            principals: [new iam.AccountRootPrincipal()],
            actions: ADMINISTRATION_ACTIONS,
            resources: ['*'],
          }),
        ],
      }),
    });
    const services = props.services.map((service) => viaService(this, service));
    // CloudFormation creates the tables, queues and machines with the caller's rights: DynamoDB makes its own
    // grant at CreateTable and Step Functions encrypts the definition, so the deploy role needs the key then.
    const deployRole = deployRoleArnOf(this);
    if (deployRole)
      this.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'DeployRoleThroughTheServices',
          principals: [new iam.AccountRootPrincipal()],
          actions: ['kms:CreateGrant', 'kms:DescribeKey', ...WRITE_KEY_ACTIONS],
          resources: ['*'],
          conditions: {
            ArnEquals: { 'aws:PrincipalArn': deployRole },
            StringEquals: { 'kms:ViaService': services },
          },
        }),
      );
    if (props.breakGlassRoleArn)
      this.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'BreakGlassThroughTheServices',
          principals: [new iam.ArnPrincipal(props.breakGlassRoleArn)],
          actions: [...WRITE_KEY_ACTIONS],
          resources: ['*'],
          conditions: { StringEquals: { 'kms:ViaService': services } },
        }),
      );
  }

  /**
   * Lets `role` use the key through `service` only: one key policy statement per service and set of actions,
   * naming every role allowed it. The key policy is the grant; no IAM statement is needed or would help.
   */
  allowVia(role: iam.IRole, service: DataService, actions: readonly string[]): void {
    const id = `${service}:${[...actions].sort().join(',')}`;
    let use = this.uses.get(id);
    if (!use) {
      const statement = new iam.PolicyStatement({
        sid: `${SID_OF[service]}${actions.length > 1 ? 'Writers' : 'Readers'}`,
        actions: [...actions],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:ViaService': viaService(this, service) } },
      });
      use = { statement, roles: new Set() };
      this.uses.set(id, use);
      this.addToResourcePolicy(statement);
    }
    const roleKey = JSON.stringify(Stack.of(this).resolve(role.roleArn));
    if (use.roles.has(roleKey)) return;
    use.roles.add(roleKey);
    use.statement.addPrincipals(new iam.ArnPrincipal(role.roleArn));
  }
}

const SID_OF: Record<DataService, string> = { dynamodb: 'DynamoDb', sqs: 'Sqs', states: 'StepFunctions' };

function viaService(scope: Construct, service: DataService): string {
  return `${service}.${Stack.of(scope).region}.amazonaws.com`;
}

/** The bootstrap's CloudFormation execution role, when the stack deploys through it (the default). */
function deployRoleArnOf(scope: Construct): string | undefined {
  const synthesizer = Stack.of(scope).synthesizer;
  // The bootstrap's name carries ${AWS::Partition} and kin, which only Fn::Sub resolves.
  return synthesizer instanceof DefaultStackSynthesizer
    ? Fn.sub(synthesizer.cloudFormationExecutionRoleArn)
    : undefined;
}
