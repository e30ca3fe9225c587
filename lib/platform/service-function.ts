import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { stageOf } from '../stages.js';
import { DataKey, READ_KEY_ACTIONS, WRITE_KEY_ACTIONS } from './data-key.js';

/** DynamoDB actions a function may be granted on a table; TransactWriteItems is authorized per contained action. */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:Query'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:ConditionCheckItem';

/** What the barrier needs for a forward action: read its row, put it (with the business writes). */
export const ACTION_BARRIER_ACTIONS: readonly TableAction[] = ['dynamodb:GetItem', 'dynamodb:PutItem'];

/** What the barrier needs for a compensation: also check the action's row inside the transaction. */
export const COMPENSATION_BARRIER_ACTIONS: readonly TableAction[] = [
  ...ACTION_BARRIER_ACTIONS,
  'dynamodb:ConditionCheckItem',
];

export interface ServiceFunctionProps extends NodejsFunctionProps {
  /** The TypeScript entry file. */
  readonly entry: string;
  /**
   * How long the function's logs are kept.
   * @default the stage's logRetention
   */
  readonly logRetention?: logs.RetentionDays;
}

const TRACING_POLICY_ID = 'TracingPolicy';

/** The stack's one policy for sending traces to X-Ray, attached to every function's role. */
function tracingPolicyOf(stack: Stack): iam.ManagedPolicy {
  const existing = stack.node.tryFindChild(TRACING_POLICY_ID);
  if (existing instanceof iam.ManagedPolicy) return existing;
  const policy = new iam.ManagedPolicy(stack, TRACING_POLICY_ID, {
    description: 'Lets the functions of this stack send their traces to X-Ray',
    statements: [
      new iam.PolicyStatement({
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        resources: ['*'],
      }),
    ],
  });
  Validations.of(policy).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'X-Ray PutTraceSegments and PutTelemetryRecords have no resource-level permissions; nothing else is here.',
  });
  return policy;
}

/**
 * A Lambda function with the project's defaults: arm64 (cheaper per ms), the newest Node.js runtime,
 * a minified ESM bundle with source maps and the AWS SDK bundled in (pinned by our lockfile rather than
 * the runtime's), X-Ray tracing, JSON logs into a log group with retention, and a role that can only
 * write to that log group. Caller props are merged over the defaults, environment and bundling included.
 */
export class ServiceFunction extends NodejsFunction {
  /** Its own role: its id (`roleId`) is who SQS names as the sender of what it sends. */
  readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    const { logRetention, environment, bundling, currentVersionOptions, ...rest } = props;
    const stage = stageOf(scope);
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logRetention ?? stage.logRetention,
      removalPolicy: stage.logRemovalPolicy,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(10),
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      logGroup,
      role,
      ...rest,
      currentVersionOptions: { removalPolicy: stage.versionRemovalPolicy, ...currentVersionOptions },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        // The stack's name: two stages in one account emit metrics and log lines told apart by `service`.
        POWERTOOLS_SERVICE_NAME: Stack.of(scope).stackName,
        ...environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        // The deployed runtime (nodejs24.x) and the Node 24 the local cloud runs the bundles on.
        target: 'node24',
        mainFields: ['module', 'main'],
        externalModules: [],
        // Bundled CommonJS dependencies call require() for Node built-ins, which ESM lacks.
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        ...bundling,
      },
    });

    this.executionRole = role;
    // Active tracing, with its two X-Ray actions (which take no resource) in the stack's one tracing policy rather
    // than in every role: `tracing: ACTIVE` would write them into each role's own policy.
    if (props.tracing === undefined) {
      (this.node.defaultChild as lambda.CfnFunction).tracingConfig = { mode: lambda.Tracing.ACTIVE };
      role.addManagedPolicy(tracingPolicyOf(Stack.of(this)));
    }
  }

  /**
   * Lets the function send to a queue and nothing else there: `grantSendMessages` would add
   * GetQueueAttributes and GetQueueUrl, which a function given the queue's URL never calls. The queue's own
   * policy must name the function among its senders (trustOnly), which also gives it the queue's data key.
   */
  sendsTo(queue: sqs.IQueue): this {
    iam.Grant.addToPrincipal({ grantee: this, actions: ['sqs:SendMessage'], resourceArns: [queue.queueArn] });
    return this;
  }

  /**
   * Gives the function one table: the env var that names it and exactly these actions on it, in one call
   * so the two cannot drift. Each named index may be queried, and nothing else: never index/*, and never the
   * table's item actions on an index.
   */
  useTable(
    envName: string,
    table: dynamodb.ITable,
    actions: readonly TableAction[],
    indexNames: readonly string[] = [],
  ): this {
    this.addEnvironment(envName, table.tableName);
    const stack = Stack.of(this);
    const indexArns = indexNames.map((name) =>
      stack.formatArn({
        service: 'dynamodb',
        resource: 'table',
        resourceName: `${table.tableName}/index/${name}`,
      }),
    );
    if (actions.length > 0)
      iam.Grant.addToPrincipal({ grantee: this, actions: [...actions], resourceArns: [table.tableArn] });
    // An index is only ever queried: the item actions above mean nothing there.
    if (indexArns.length > 0)
      iam.Grant.addToPrincipal({ grantee: this, actions: ['dynamodb:Query'], resourceArns: indexArns });
    // A data key is used through DynamoDB only, and only to decrypt unless the function writes.
    if (table.encryptionKey instanceof DataKey) {
      const writes = actions.some(
        (action) => action === 'dynamodb:PutItem' || action === 'dynamodb:UpdateItem',
      );
      table.encryptionKey.allowVia(
        this.executionRole,
        'dynamodb',
        writes ? WRITE_KEY_ACTIONS : READ_KEY_ACTIONS,
      );
    }
    return this;
  }
}
