import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { deadLetterQueues, type MonitoringProps } from './monitoring.js';

/**
 * The stack's operations dashboard: alarm states first, then the sagas' outcomes, the steps' latency and
 * outcomes, the DLQs and the outbox lag, and what recovery did. Every query is narrowed to the stack's
 * functions (`fromService`), so two stages in one account each see their own.
 */
export function operationsDashboard(
  scope: Construct,
  props: Pick<MonitoringProps, 'relay' | 'pendingOrderDeadline'>,
  alarms: cloudwatch.IAlarm[],
  fromService: string,
): cloudwatch.Dashboard {
  const stack = Stack.of(scope);
  const period = Duration.minutes(5);
  const query = (expression: string, label: string) =>
    new cloudwatch.MathExpression({ expression, label, period, usingMetrics: {} });
  const byDimension = (aggregate: string, metricName: string, dimension: string) =>
    query(
      `SELECT ${aggregate}(${metricName}) ${fromService} GROUP BY ${dimension}`,
      `${metricName} by ${dimension}`,
    );
  const total = (aggregate: string, metricName: string) =>
    query(`SELECT ${aggregate}(${metricName}) ${fromService}`, metricName);
  const dlqs = deadLetterQueues(stack);

  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    dashboardName: `${stack.stackName}-operations`,
    defaultInterval: Duration.hours(3),
  });
  dashboard.addWidgets(
    new cloudwatch.AlarmStatusWidget({
      title: 'Alarms',
      alarms: alarms,
      width: 24,
      height: 4,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Sagas: started, confirmed, cancelled, with a person',
      left: [
        total('SUM', 'SagaStarted'),
        total('SUM', 'SagaConfirmed'),
        total('SUM', 'SagaCancelled'),
        total('SUM', 'SagaNeedsAttention'),
        total('SUM', 'CompensationFailed'),
      ],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Outcomes by reason: cancelled (left), needs attention (right)',
      left: [byDimension('SUM', 'SagaCancelled', 'Reason')],
      right: [byDimension('SUM', 'SagaNeedsAttention', 'Reason')],
      width: 12,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Step latency (ms): average (left), maximum (right)',
      left: [byDimension('AVG', 'StepDuration', 'Step')],
      right: [byDimension('MAX', 'StepDuration', 'Step')],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Step outcomes',
      left: [
        query(
          `SELECT SUM(StepOutcome) ${fromService} GROUP BY Step, Outcome`,
          'StepOutcome by Step, Outcome',
        ),
      ],
      width: 12,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'DLQ depths',
      left: dlqs.map(([name, queue]) =>
        queue.metricApproximateNumberOfMessagesVisible({ label: name, period, statistic: 'Maximum' }),
      ),
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Outbox lag: oldest unpublished event (s, left), relay iterator age (ms, right)',
      left: [total('MAX', 'OldestUnpublishedEventAge')],
      right: [props.relay.metric('IteratorAge', { period, statistic: 'Maximum' })],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Oldest PENDING order (s)',
      left: [total('MAX', 'OldestPendingOrderAge')],
      leftAnnotations: [{ label: 'settling guarantee', value: props.pendingOrderDeadline.toSeconds() }],
      width: 8,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Recovery: sweeper actions, republished events, replays and conflicts',
      left: [
        byDimension('SUM', 'SweeperAction', 'Action'),
        total('SUM', 'OutboxRepublished'),
        total('SUM', 'IdempotentReplay'),
        total('SUM', 'IdempotencyConflict'),
      ],
      right: [total('SUM', 'BarrierDuplicate'), total('SUM', 'NullCompensation')],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Unexpected errors by function',
      left: [byDimension('SUM', 'UnexpectedError', 'Function')],
      width: 12,
    }),
  );
  return dashboard;
}
