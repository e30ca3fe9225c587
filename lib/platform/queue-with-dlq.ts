import { Duration, Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface DeadLetterQueueProps {
  /** Short name; the queue is `<stack>-<name>-dlq`, so the redrive script can find it. */
  readonly name: string;
  /**
   * How long failed messages wait for a person to inspect and redrive them.
   * @default Duration.days(14)
   */
  readonly retention?: Duration;
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
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.retention ?? Duration.days(14),
    });
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
    this.deadLetters = new DeadLetterQueue(this, 'DeadLetters', { name: props.name });
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: `${Stack.of(this).stackName}-${props.name}`,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetters.queue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
  }
}
