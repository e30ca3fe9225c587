import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
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

/** Where failed messages wait: SSE, TLS only, kept 14 days, and an alarm as soon as one arrives. */
export class DeadLetterQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      queueName: `${Stack.of(this).stackName}-${props.name}-dlq`,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.retention ?? Duration.days(14),
    });
    this.alarm = new cloudwatch.Alarm(this, 'NotEmpty', {
      alarmDescription: `Messages in ${props.name}'s DLQ: inspect them, fix the cause, then npm run redrive -- ${props.name}`,
      metric: this.queue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
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
 * visibility timeout fitted to its consumer, and a DLQ (with its alarm) after `maxReceiveCount` receives.
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
