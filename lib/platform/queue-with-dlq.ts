import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { breakGlassOf } from './break-glass.js';
import { DataKey, READ_KEY_ACTIONS, WRITE_KEY_ACTIONS } from './data-key.js';

/** What handling a queue's messages takes; receiving alone would redeliver everything. */
const CONSUME_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'];
/** What only a person does to a queue's messages: empty it, or move its dead letters back. */
const OPERATOR_ACTIONS = ['sqs:PurgeQueue', 'sqs:StartMessageMoveTask', 'sqs:CancelMessageMoveTask'];

function encryptionOf(key: kms.IKey | undefined): Pick<sqs.QueueProps, 'encryption' | 'encryptionMasterKey'> {
  return key
    ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }
    : { encryption: sqs.QueueEncryption.SQS_MANAGED };
}

export interface DeadLetterQueueProps {
  /** Short name; the queue is `<stack>-<name>-dlq`, so the redrive script can find it. */
  readonly name: string;
  /**
   * How long failed messages wait for a person to inspect and redrive them.
   * @default Duration.days(14)
   */
  readonly retention?: Duration;
  /**
   * The key of the personal data its messages hold (the same as its source queue's).
   * @default SQS-managed encryption
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * Where failed messages wait: SSE, TLS only, kept 14 days. The stack's Monitoring finds every DLQ and
 * alarms as soon as one holds a message.
 */
export class DeadLetterQueue extends Construct {
  readonly queue: sqs.Queue;
  /** The short name: the queue is `<stack>-<name>-dlq`. */
  readonly name: string;

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    this.name = props.name;
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: `${Stack.of(this).stackName}-${props.name}-dlq`,
      ...encryptionOf(props.encryptionKey),
      enforceSSL: true,
      retentionPeriod: props.retention ?? Duration.days(14),
    });
  }

  /**
   * Only `senders` may send here (a function's on-failure destination sends as the function); SQS moves a
   * source queue's dead letters itself. Nobody but the break-glass role reads them.
   */
  trustOnly(senders: readonly iam.IRole[] = []): this {
    trustOnly(this.queue, { senders, consumers: [] });
    return this;
  }
}

export interface QueueWithDlqProps {
  /** Short name; the queue is `<stack>-<name>` and its DLQ `<stack>-<name>-dlq`. */
  readonly name: string;
  /** The consumer's function timeout: the visibility timeout is six times it, as Lambda's SQS integration requires. */
  readonly consumerTimeout: Duration;
  /**
   * Receives before a message moves to the DLQ.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * A key for messages that hold personal data; the DLQ gets it too.
   * @default SQS-managed encryption
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * A queue for at-least-once delivery with the defaults every channel here needs: SSE, TLS only, a
 * visibility timeout fitted to its consumer, and a DLQ after `maxReceiveCount` receives.
 */
export class QueueWithDlq extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetters: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: QueueWithDlqProps) {
    super(scope, id);
    this.deadLetters = new DeadLetterQueue(this, 'DeadLetters', {
      name: props.name,
      encryptionKey: props.encryptionKey,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: `${Stack.of(this).stackName}-${props.name}`,
      ...encryptionOf(props.encryptionKey),
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetters.queue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
  }

  /** The queue trusts only these roles (see trustOnly); its dead letters only the break-glass role. */
  trustOnly(trust: QueueTrust): this {
    trustOnly(this.queue, trust);
    this.deadLetters.trustOnly();
    return this;
  }
}

export interface QueueTrust {
  /** The roles that may send: the producers the consumer expects, nobody else. */
  readonly senders: readonly iam.IRole[];
  /** The roles that may receive and delete: the consuming function's. */
  readonly consumers: readonly iam.IRole[];
}

/**
 * Makes a queue trust only its own producers and consumer, whatever IAM policies elsewhere in the account say:
 * its resource policy denies sending to every other principal, and receiving, deleting and moving messages to
 * every principal but the consumer; the stage's break-glass role is the one exception to each. The queue's
 * management (attributes, this policy, deletion) is left to IAM, so CloudFormation still deploys it. The roles
 * also get the queue's key, when it has a data key, through SQS only.
 */
export function trustOnly(queue: sqs.Queue, trust: QueueTrust): void {
  const breakGlass = breakGlassOf(queue);
  const arnsOf = (roles: readonly iam.IRole[]) => [
    ...roles.map((role) => role.roleArn),
    ...(breakGlass ? [breakGlass.roleArn] : []),
  ];
  // Nobody to spare (no break-glass role, and no role of the stack does it): the actions are left to IAM, since
  // denying them to everyone would leave a dead-letter queue nobody can ever look at or redrive.
  const denyAllBut = (sid: string, actions: string[], arns: string[]) => {
    if (arns.length === 0) return;
    queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions,
        resources: [queue.queueArn],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': arns } },
      }),
    );
  };
  denyAllBut('OnlyItsProducersSend', ['sqs:SendMessage'], arnsOf(trust.senders));
  denyAllBut('OnlyItsConsumerReceives', CONSUME_ACTIONS, arnsOf(trust.consumers));
  denyAllBut('OnlyBreakGlassPurgesOrMoves', OPERATOR_ACTIONS, arnsOf([]));

  const key = queue.encryptionMasterKey;
  if (key instanceof DataKey) {
    for (const sender of trust.senders) key.allowVia(sender, 'sqs', WRITE_KEY_ACTIONS);
    for (const consumer of trust.consumers) key.allowVia(consumer, 'sqs', READ_KEY_ACTIONS);
  }
  // The runbook's work on dead letters (look, redrive, purge) needs IAM rights too when the stack owns the role.
  breakGlass?.role?.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: [
        'sqs:GetQueueUrl',
        'sqs:GetQueueAttributes',
        'sqs:SendMessage',
        ...CONSUME_ACTIONS,
        ...OPERATOR_ACTIONS,
      ],
      resources: [queue.queueArn],
    }),
  );
}
