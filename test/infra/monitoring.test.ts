import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ALARM_THRESHOLDS, METRICS_NAMESPACE } from '../../lib/ops/monitoring.js';
import { OrderSagaStack } from '../../lib/order-saga-stack.js';
import { joinedText } from '../../lib/platform/cfn-join.js';
import { synthOrderSaga, TEST_ENV, testApp } from './synth.js';

const { stack, template } = synthOrderSaga();

type Resource = { Type: string; Properties: Record<string, unknown> };
interface MetricQuery {
  Id: string;
  Expression?: string;
  Period?: number;
  MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions?: unknown[] } };
}
interface AlarmProperties {
  AlarmName: string;
  AlarmDescription: string;
  Threshold: number;
  EvaluationPeriods: number;
  ComparisonOperator: string;
  AlarmActions: unknown[];
  MetricName?: string;
  Namespace?: string;
  Dimensions?: unknown[];
  Period?: number;
  Metrics?: MetricQuery[];
}

const alarms = Object.fromEntries(
  Object.values(template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>).map((alarm) => {
    const properties = alarm.Properties as unknown as AlarmProperties;
    return [properties.AlarmName.replace(`${stack.stackName}-`, ''), properties];
  }),
);
const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
/** The functions' metrics of this stack only: the stack's name is their Powertools service. */
const FROM_SERVICE = `FROM "${METRICS_NAMESPACE}" WHERE service = '${stack.stackName}'`;

/** The metric names an alarm reads, from a plain metric, metric stats in math, or a Metrics Insights query. */
function metricNamesOf(alarm: AlarmProperties): string[] {
  return [
    ...(alarm.MetricName ? [alarm.MetricName] : []),
    ...(alarm.Metrics ?? []).flatMap((query) => [
      ...(query.MetricStat ? [query.MetricStat.Metric.MetricName] : []),
      ...[...(query.Expression ?? '').matchAll(/SELECT \w+\((\w+)\)/g)].map((match) => match[1] ?? ''),
    ]),
  ];
}

function firstDimension<T>(dimensions: unknown[] | undefined): T {
  const [first] = dimensions ?? [];
  return (first as { Value: T }).Value;
}

function periodOf(alarm: AlarmProperties): number | undefined {
  return alarm.Period ?? alarm.Metrics?.find((query) => query.Period)?.Period;
}

describe('alarms', () => {
  it('are exactly the ones a person acts on, each named after the stack', () => {
    expect(Object.keys(alarms).sort()).toEqual(
      [
        'Api5xxRate',
        'CompensationFailed',
        'DeadLetters-order-events',
        'DeadLetters-outbox-relay',
        'DeadLetters-shipping-requests',
        'ExecutionsTimedOut',
        'LambdaThrottles1',
        'LambdaThrottles2',
        'OldestPendingOrderAge',
        'OldestUnpublishedEventAge',
        'RelayIteratorAge',
        'SagaNeedsAttention',
        'UnexpectedError',
      ].sort(),
    );
  });

  it('all notify the alarm topic, above their threshold', () => {
    for (const [name, alarm] of Object.entries(alarms)) {
      expect(alarm.AlarmActions, name).toEqual([{ Ref: topicId }]);
      expect(alarm.ComparisonOperator, name).toBe('GreaterThanThreshold');
    }
  });

  it.each([
    ['CompensationFailed', 'SUM', ALARM_THRESHOLDS.compensationFailed],
    ['SagaNeedsAttention', 'SUM', ALARM_THRESHOLDS.sagaNeedsAttention],
    ['UnexpectedError', 'SUM', ALARM_THRESHOLDS.unexpectedError],
    ['OldestUnpublishedEventAge', 'MAX', ALARM_THRESHOLDS.oldestUnpublishedEventAge],
  ] as const)(
    "%s reads the stack's functions' metric over every dimension set they emit",
    (name, aggregate, settings) => {
      const alarm = alarms[name];
      expect(alarm?.Threshold).toBe(settings.threshold);
      expect(alarm?.EvaluationPeriods).toBe(settings.evaluationPeriods);
      // Filtered to this stack's service only: extra dimensions do not hide a metric, another stage's do not count.
      expect(alarm?.Metrics).toEqual([
        {
          Id: expect.any(String),
          Expression: `SELECT ${aggregate}(${name}) ${FROM_SERVICE}`,
          Label: name,
          Period: settings.periodMinutes * 60,
          ReturnData: true,
        },
      ]);
    },
  );

  it('pages when an order stays PENDING past the settling guarantee, and not before', () => {
    // (redrive budget 2 + 1) x the 1 h saga timeout + two 5-minute sweeps.
    expect(alarms.OldestPendingOrderAge?.Threshold).toBe(3 * 3600 + 2 * 300);
    expect(alarms.OldestPendingOrderAge?.Metrics?.[0]?.Expression).toBe(
      `SELECT MAX(OldestPendingOrderAge) ${FROM_SERVICE}`,
    );
    const { template: slower } = synthOrderSaga({ redriveBudget: 0 });
    slower.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'OrderSagaTest-OldestPendingOrderAge',
      Threshold: 3600 + 2 * 300,
    });
  });

  it('ExecutionsTimedOut sums every machine of the saga, the operator machines included', () => {
    const alarm = alarms.ExecutionsTimedOut as AlarmProperties;
    const machines = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));
    expect(machines).toHaveLength(3);
    const stats = (alarm.Metrics ?? []).filter((query) => query.MetricStat);
    expect(stats.map((query) => query.MetricStat?.Metric.MetricName)).toEqual(
      machines.map(() => 'ExecutionsTimedOut'),
    );
    expect(stats.map((query) => query.MetricStat?.Metric.Dimensions).sort()).toEqual(
      machines.map((id) => [{ Name: 'StateMachineArn', Value: { Ref: id } }]).sort(),
    );
    expect(alarm.Threshold).toBe(ALARM_THRESHOLDS.executionsTimedOut.threshold);
  });

  it('watches every DLQ of the stack as soon as one message lands', () => {
    const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    const dlqs = Object.keys(queues).filter((id) => !queues[id]?.Properties.RedrivePolicy);
    const watched = Object.entries(alarms)
      .filter(([name]) => name.startsWith('DeadLetters-'))
      .map(([, alarm]) => {
        expect(alarm.MetricName).toBe('ApproximateNumberOfMessagesVisible');
        expect(alarm.Threshold).toBe(ALARM_THRESHOLDS.deadLetters.threshold);
        return firstDimension<{ 'Fn::GetAtt': [string, string] }>(alarm.Dimensions)['Fn::GetAtt'][0];
      });
    expect(watched.sort()).toEqual(dlqs.sort());
  });

  it('watches throttles of every function, in as few alarms as CloudWatch allows', () => {
    const functions = Object.keys(template.findResources('AWS::Lambda::Function'));
    const throttled = Object.entries(alarms)
      .filter(([name]) => name.startsWith('LambdaThrottles'))
      .flatMap(([, alarm]) => {
        expect(alarm.Threshold).toBe(ALARM_THRESHOLDS.lambdaThrottles.threshold);
        expect(alarm.EvaluationPeriods).toBe(ALARM_THRESHOLDS.lambdaThrottles.evaluationPeriods);
        const stats = (alarm.Metrics ?? []).filter((query) => query.MetricStat);
        expect(stats.length).toBeLessThanOrEqual(10);
        return stats.map((query) => {
          expect(query.MetricStat?.Metric.MetricName).toBe('Throttles');
          return firstDimension<{ Ref: string }>(query.MetricStat?.Metric.Dimensions).Ref;
        });
      });
    expect(throttled.sort()).toEqual(functions.sort());
    expect(Object.keys(alarms).filter((name) => name.startsWith('LambdaThrottles'))).toHaveLength(
      Math.ceil(functions.length / 10),
    );
  });

  it('watches the relay iterator age and the API 5xx rate', () => {
    const relay = alarms.RelayIteratorAge as AlarmProperties;
    expect(relay.MetricName).toBe('IteratorAge');
    expect(firstDimension<{ Ref: string }>(relay.Dimensions).Ref).toMatch(/^OrdersOutboxRelay/);
    expect(relay.Threshold).toBe(ALARM_THRESHOLDS.relayIteratorAge.threshold);
    expect(periodOf(relay)).toBe(ALARM_THRESHOLDS.relayIteratorAge.periodMinutes * 60);

    const api = alarms.Api5xxRate as AlarmProperties;
    expect(api.Threshold).toBe(ALARM_THRESHOLDS.api5xxRate.threshold);
    expect(metricNamesOf(api).sort()).toEqual(['5XXError', 'Count']);
    expect(api.Metrics?.find((query) => query.Expression)?.Expression).toContain(
      `requests >= ${ALARM_THRESHOLDS.api5xxRate.minRequests}`,
    );
  });

  it('never watch ExecutionsFailed or Lambda Errors: business cancellations move those', () => {
    for (const [name, alarm] of Object.entries(alarms)) {
      expect(metricNamesOf(alarm), name).not.toContain('ExecutionsFailed');
      expect(metricNamesOf(alarm), name).not.toContain('Errors');
      expect(JSON.stringify(alarm), name).not.toMatch(/ExecutionsFailed|"Errors"|\(Errors\)/);
    }
  });
});

describe('alarm topic', () => {
  it('is encrypted with a rotated customer-managed key that CloudWatch may use, and TLS only', () => {
    // The stack has other keys (the data keys): the topic's is the one it names.
    const [topic] = Object.values(template.findResources('AWS::SNS::Topic') as Record<string, Resource>);
    const keyId =
      (topic?.Properties.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] } | undefined)?.[
        'Fn::GetAtt'
      ][0] ?? '';
    const key = (template.findResources('AWS::KMS::Key') as Record<string, Resource>)[keyId];
    expect(key?.Properties.EnableKeyRotation).toBe(true);
    expect(key?.Properties.KeyPolicy).toMatchObject({
      Statement: expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        }),
      ]),
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('emails the address in the alarmEmail context, and nobody without it', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    const app = new App({ context: { ...testApp().node.getAllContext(), alarmEmail: 'oncall@example.com' } });
    const withEmail = Template.fromStack(new OrderSagaStack(app, 'OrderSagaEmail', { env: TEST_ENV }));
    withEmail.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });

  it('is an output, with the dashboard name', () => {
    template.hasOutput('AlarmTopicArn', { Value: { Ref: topicId } });
    template.hasOutput('DashboardName', { Value: { Ref: Match.stringLikeRegexp('^MonitoringDashboard') } });
  });
});

describe('dashboard', () => {
  const dashboards = template.findResources('AWS::CloudWatch::Dashboard') as Record<string, Resource>;
  const text = joinedText(stack.resolve(Object.values(dashboards)[0]?.Properties.DashboardBody), (part) =>
    typeof part === 'string' ? part : 'REF',
  );
  const widgets = (JSON.parse(text ?? '{}') as { widgets: Widget[] }).widgets;
  const series = widgets.flatMap((widget) => widget.properties.metrics ?? []);
  const expressions = series.flatMap((entry) =>
    entry.flatMap((item) => (typeof item === 'object' ? [item.expression] : [])),
  );
  const metricNames = series.map((entry) => entry[1]);

  it('shows throughput, outcomes by reason, step latency, DLQ depths, outbox lag and the oldest order', () => {
    expect(Object.keys(dashboards)).toHaveLength(1);
    expect(Object.values(dashboards)[0]?.Properties.DashboardName).toBe('OrderSagaTest-operations');
    expect(expressions).toEqual(
      expect.arrayContaining([
        `SELECT SUM(SagaStarted) ${FROM_SERVICE}`,
        `SELECT SUM(SagaConfirmed) ${FROM_SERVICE}`,
        `SELECT SUM(SagaCancelled) ${FROM_SERVICE} GROUP BY Reason`,
        `SELECT SUM(SagaNeedsAttention) ${FROM_SERVICE} GROUP BY Reason`,
        `SELECT AVG(StepDuration) ${FROM_SERVICE} GROUP BY Step`,
        `SELECT MAX(OldestUnpublishedEventAge) ${FROM_SERVICE}`,
        `SELECT MAX(OldestPendingOrderAge) ${FROM_SERVICE}`,
      ]),
    );
    // Every query of the functions' metrics, not just the ones listed: an unfiltered one would mix stages.
    const insightsQueries = expressions.filter((expression) => expression?.startsWith('SELECT'));
    expect(insightsQueries.length).toBeGreaterThan(7);
    for (const expression of insightsQueries) expect(expression).toContain(` ${FROM_SERVICE}`);
    expect(metricNames.filter((name) => name === 'ApproximateNumberOfMessagesVisible')).toHaveLength(3);
    expect(metricNames).toContain('IteratorAge');
  });

  it('shows the state of every alarm', () => {
    const alarmWidgets = widgets.filter((widget) => widget.type === 'alarm');
    expect(alarmWidgets).toHaveLength(1);
    expect(alarmWidgets[0]?.properties.alarms).toHaveLength(Object.keys(alarms).length);
  });
});

interface Widget {
  type: string;
  properties: { metrics?: (string | { expression?: string })[][]; alarms?: string[] };
}
