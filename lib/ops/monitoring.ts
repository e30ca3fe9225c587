import { CfnOutput, Duration, Names, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DeadLetterQueue } from '../platform/queue-with-dlq.js';
import { operationsDashboard } from './dashboard.js';

/** The namespace the functions emit their embedded-metric-format metrics in. */
export const METRICS_NAMESPACE = 'OrderSaga';

/** Where each alarm's entry lives; the infra tests check every alarm links to a heading that exists. */
export const RUNBOOK_PATH = 'docs/runbook.md';

export interface AlarmThreshold {
  /** The alarm fires when the value is greater than this. */
  readonly threshold: number;
  readonly periodMinutes: number;
  readonly evaluationPeriods: number;
  /** For rates: periods with fewer requests than this never breach. */
  readonly minRequests?: number;
}

/**
 * Every alarm's threshold. Each one pages a person, so each is set where automation has run out of moves,
 * not where something merely went wrong: business cancellations, retried timeouts and the sweeper's
 * redrives are automation's job and page nobody.
 */
export const ALARM_THRESHOLDS = {
  /** One order a compensation could not undo is one order a person must settle. */
  compensationFailed: { threshold: 0, periodMinutes: 5, evaluationPeriods: 1 },
  /** Automation handed an order to a person (any reason): someone must decide. */
  sagaNeedsAttention: { threshold: 0, periodMinutes: 5, evaluationPeriods: 1 },
  /** A saga used its whole timeout (an hour of retries by default): a dependency is down, not flaky. */
  executionsTimedOut: { threshold: 0, periodMinutes: 5, evaluationPeriods: 1 },
  /** A message in a DLQ waits for a person: nothing redrives it on its own. */
  deadLetters: { threshold: 0, periodMinutes: 1, evaluationPeriods: 1 },
  /**
   * Seconds an event may stay unpublished. The relay publishes within seconds and the republisher
   * retries from 3 minutes on, every minute: past 15 minutes both are failing.
   */
  oldestUnpublishedEventAge: { threshold: 15 * 60, periodMinutes: 5, evaluationPeriods: 1 },
  /**
   * Seconds past the settling guarantee an order may stay PENDING. The guarantee itself ((redrive budget
   * + 1) x the saga timeout + two sweeper periods) comes from the stack's settings; past it, the
   * sweeper is not doing its job.
   */
  oldestPendingOrderAge: { threshold: 0, periodMinutes: 5, evaluationPeriods: 1 },
  /**
   * Milliseconds the relay may lag behind the orders stream. The republisher covers minutes of lag;
   * half an hour of it means the relay is stuck and the stream's 24 hours are running out.
   */
  relayIteratorAge: { threshold: 30 * 60 * 1000, periodMinutes: 5, evaluationPeriods: 2 },
  /** Percent of API answers that are 5xx, over periods with at least `minRequests` requests. */
  api5xxRate: { threshold: 5, periodMinutes: 5, evaluationPeriods: 2, minRequests: 20 },
  /** A handler failed in a way no code path expected: a bug until shown otherwise. */
  unexpectedError: { threshold: 0, periodMinutes: 5, evaluationPeriods: 1 },
  /**
   * Throttles across the stack's functions. The saga and the event sources retry throttled calls, so a
   * burst is absorbed; throttling sustained over 15 minutes needs a concurrency decision.
   */
  lambdaThrottles: { threshold: 10, periodMinutes: 5, evaluationPeriods: 3 },
} as const satisfies Record<string, AlarmThreshold>;

/** CloudWatch allows at most 10 metrics in one alarm's math expression. */
const METRICS_PER_ALARM = 10;

export interface MonitoringProps {
  /** The saga's machines: the saga, the unwind and (when the saga has a pivot) the completion. */
  readonly stateMachines: readonly sfn.IStateMachine[];
  /** The outbox relay, whose iterator age shows how far behind the orders stream it is. */
  readonly relay: lambda.IFunction;
  readonly restApi: apigw.RestApi;
  /** How long an order may stay PENDING by the stack's own guarantee, before a person is needed. */
  readonly pendingOrderDeadline: Duration;
  /**
   * Where the alarm topic sends email.
   * @default the CDK context value `alarmEmail`; no subscription without it
   */
  readonly alarmEmail?: string;
}

/**
 * The alarms that page a person, their topic, and the operations dashboard.
 *
 * Create it last in its stack: it finds every DLQ and every function of the stack when constructed,
 * so a queue or function added later would go unwatched.
 *
 * The functions' own metrics are read with Metrics Insights queries over the namespace, filtered to this
 * stack's service (`SELECT SUM(X) FROM "OrderSaga" WHERE service = 'OrderSaga'`): a plain metric alarm
 * matches one exact dimension set only, while SEARCH cannot back an alarm at all. A query sums every
 * dimension set, so the alarms keep working whatever extra dimensions the functions emit. The namespace is
 * per account and region; the functions' `service` is their stack's name (POWERTOOLS_SERVICE_NAME), so two
 * stages deployed side by side each page for their own orders only.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  private readonly stack: Stack;
  private readonly action: actions.SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.stack = Stack.of(this);

    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: `Encrypts ${this.stack.stackName}'s alarm topic`,
      enableKeyRotation: true,
    });
    // CloudWatch publishes alarm notifications to the topic itself, so it needs the key's data keys.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      topicName: `${this.stack.stackName}-alarms`,
      displayName: `${this.stack.stackName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    const email = props.alarmEmail ?? this.node.tryGetContext('alarmEmail');
    if (typeof email === 'string' && email !== '')
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    this.action = new actions.SnsAction(this.topic);

    const t = ALARM_THRESHOLDS;
    this.alarm('CompensationFailed', {
      description: 'A compensation kept failing: an order is COMPENSATION_FAILED and waits for a person',
      metric: this.sagaMetric('SUM', 'CompensationFailed', t.compensationFailed),
      settings: t.compensationFailed,
    });
    this.alarm('SagaNeedsAttention', {
      description: 'Automation handed an order to a person: it is NEEDS_ATTENTION with a reason',
      metric: this.sagaMetric('SUM', 'SagaNeedsAttention', t.sagaNeedsAttention),
      settings: t.sagaNeedsAttention,
    });
    this.alarm('ExecutionsTimedOut', {
      description: 'An execution of the saga or of an operator action used its whole timeout',
      metric: sumOf(
        props.stateMachines.map((machine) =>
          machine.metricTimedOut({ period: minutes(t.executionsTimedOut), statistic: 'Sum' }),
        ),
        t.executionsTimedOut,
      ),
      settings: t.executionsTimedOut,
    });
    this.alarm('OldestUnpublishedEventAge', {
      description: 'An order event stayed unpublished well past the relay and the republisher',
      metric: this.sagaMetric('MAX', 'OldestUnpublishedEventAge', t.oldestUnpublishedEventAge),
      settings: t.oldestUnpublishedEventAge,
    });
    this.alarm('OldestPendingOrderAge', {
      description: 'An order stayed PENDING past the time by which it must be final or with a person',
      metric: this.sagaMetric('MAX', 'OldestPendingOrderAge', t.oldestPendingOrderAge),
      settings: {
        ...t.oldestPendingOrderAge,
        threshold: props.pendingOrderDeadline.toSeconds() + t.oldestPendingOrderAge.threshold,
      },
    });
    this.alarm('RelayIteratorAge', {
      description: 'The outbox relay is far behind the orders stream',
      metric: props.relay.metric('IteratorAge', {
        period: minutes(t.relayIteratorAge),
        statistic: 'Maximum',
      }),
      settings: t.relayIteratorAge,
    });
    const apiPeriod = minutes(t.api5xxRate);
    this.alarm('Api5xxRate', {
      description: 'The orders API answers 5xx to a share of its requests',
      metric: new cloudwatch.MathExpression({
        label: 'API 5xx %',
        expression: `IF(requests >= ${t.api5xxRate.minRequests}, 100 * FILL(errors, 0) / requests, 0)`,
        usingMetrics: {
          errors: props.restApi.metricServerError({ period: apiPeriod, statistic: 'Sum' }),
          requests: props.restApi.metricCount({ period: apiPeriod, statistic: 'SampleCount' }),
        },
        period: apiPeriod,
      }),
      settings: t.api5xxRate,
    });
    this.alarm('UnexpectedError', {
      description: 'A function failed in a way no code path expected',
      metric: this.sagaMetric('SUM', 'UnexpectedError', t.unexpectedError),
      settings: t.unexpectedError,
    });

    const functions = this.stack.node
      .findAll()
      .filter((node): node is lambda.Function => node instanceof lambda.Function)
      .sort((a, b) => a.node.path.localeCompare(b.node.path));
    chunk(functions, METRICS_PER_ALARM).forEach((group, index) => {
      this.alarm(`LambdaThrottles${index + 1}`, {
        runbookId: 'LambdaThrottles',
        description: `Sustained throttling of the stack's functions (group ${index + 1}: ${group.map((fn) => fn.node.id).join(', ')})`,
        metric: sumOf(
          group.map((fn) => fn.metricThrottles({ period: minutes(t.lambdaThrottles), statistic: 'Sum' })),
          t.lambdaThrottles,
        ),
        settings: t.lambdaThrottles,
      });
    });

    for (const [name, queue] of deadLetterQueues(this.stack)) {
      this.alarm(`DeadLetters-${name}`, {
        description: `Messages wait in the ${name} DLQ`,
        metric: queue.metricApproximateNumberOfMessagesVisible({
          period: minutes(t.deadLetters),
          statistic: 'Maximum',
        }),
        settings: t.deadLetters,
      });
    }

    this.dashboard = operationsDashboard(this, props, this.alarms, this.fromService());
    new CfnOutput(this.stack, 'AlarmTopicArn', {
      description: 'Every alarm notifies this topic: subscribe the people on call',
      value: this.topic.topicArn,
    });
    new CfnOutput(this.stack, 'DashboardName', {
      description: 'The operations dashboard (CloudWatch console, Dashboards)',
      value: this.dashboard.dashboardName,
    });
  }

  /** The functions' namespace, narrowed to this stack's functions (their Powertools service name). */
  private fromService(): string {
    return `FROM "${METRICS_NAMESPACE}" WHERE service = '${this.stack.stackName}'`;
  }

  /** A metric of this stack's functions, summed over every dimension set they emit it with. */
  private sagaMetric(
    aggregate: 'SUM' | 'MAX',
    metricName: string,
    settings: AlarmThreshold,
  ): cloudwatch.IMetric {
    return insights(`SELECT ${aggregate}(${metricName}) ${this.fromService()}`, metricName, settings);
  }

  private alarm(
    id: string,
    spec: {
      description: string;
      metric: cloudwatch.IMetric;
      settings: AlarmThreshold;
      /** The runbook heading, when several alarms share one entry. */
      runbookId?: string;
    },
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmName: `${this.stack.stackName}-${id}`,
      alarmDescription: `${spec.description}. Runbook: ${RUNBOOK_PATH}#${runbookAnchor(spec.runbookId ?? id)}`,
      metric: spec.metric,
      threshold: spec.settings.threshold,
      evaluationPeriods: spec.settings.evaluationPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No data is no event: the counters are emitted only when something happens.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}

/** The GitHub anchor of a runbook heading that is exactly `id`. */
export function runbookAnchor(id: string): string {
  return id
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

/** Every queue of the stack that is some queue's DLQ or a DeadLetterQueue, by its short name, in path order. */
export function deadLetterQueues(stack: Stack): [string, sqs.Queue][] {
  const nodes = stack.node.findAll();
  const targets = new Set(
    nodes.flatMap((node) =>
      node instanceof sqs.Queue && node.deadLetterQueue ? [node.deadLetterQueue.queue] : [],
    ),
  );
  return nodes
    .filter(
      (node): node is sqs.Queue =>
        node instanceof sqs.Queue && (targets.has(node) || node.node.scope instanceof DeadLetterQueue),
    )
    .map((queue): [string, sqs.Queue] => [
      queue.node.scope instanceof DeadLetterQueue ? queue.node.scope.name : Names.uniqueId(queue),
      queue,
    ])
    .sort(([a], [b]) => a.localeCompare(b));
}

function minutes(settings: AlarmThreshold): Duration {
  return Duration.minutes(settings.periodMinutes);
}

function insights(expression: string, label: string, settings: AlarmThreshold): cloudwatch.IMetric {
  return new cloudwatch.MathExpression({ expression, label, period: minutes(settings), usingMetrics: {} });
}

/** One series summing the metrics; a metric without data in a period counts as zero. */
function sumOf(metrics: cloudwatch.IMetric[], settings: AlarmThreshold): cloudwatch.IMetric {
  const usingMetrics = Object.fromEntries(metrics.map((metric, index) => [`m${index + 1}`, metric]));
  return new cloudwatch.MathExpression({
    expression: Object.keys(usingMetrics)
      .map((id) => `FILL(${id}, 0)`)
      .join(' + '),
    usingMetrics,
    period: minutes(settings),
  });
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}
