import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLambdaRunner } from '../src/lambda-runner.js';
import {
  parseScheduleExpression,
  type ScheduledEvent,
  schedulesFromTemplate,
  startSchedules,
  UnknownScheduleError,
} from '../src/schedules.js';
import type { LambdaInvoker } from '../src/stepfunctions-engine.js';
import { type CfnTemplate, createResolveContext, physicalNames } from '../src/template.js';

const fnArn = { 'Fn::GetAtt': ['Sweeper', 'Arn'] };

const template: CfnTemplate = {
  Resources: {
    Sweeper: {
      Type: 'AWS::Lambda::Function',
      Properties: { Handler: 'index.handler', Timeout: 3 },
    },
    // 1 minute at timeScale 0.005 fires every 300 ms.
    SweepRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        ScheduleExpression: 'rate(1 minute)',
        State: 'ENABLED',
        Targets: [{ Arn: fnArn, Id: 'Target0' }],
      },
    },
    NamedRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Name: 'nightly-report',
        ScheduleExpression: 'rate(5 minutes)',
        Targets: [
          { Arn: fnArn, Id: 'WithInput', Input: '{"mode":"report"}' },
          { Arn: fnArn, Id: 'WithPath', InputPath: '$.resources' },
          { Arn: { 'Fn::GetAtt': ['Queue', 'Arn'] }, Id: 'ToQueue' },
        ],
      },
    },
    CronRule: {
      Type: 'AWS::Events::Rule',
      Properties: { ScheduleExpression: 'cron(0 2 * * ? *)', Targets: [{ Arn: fnArn, Id: 'T' }] },
    },
    Disabled: {
      Type: 'AWS::Events::Rule',
      Properties: {
        ScheduleExpression: 'rate(1 minute)',
        State: 'DISABLED',
        Targets: [{ Arn: fnArn, Id: 'T' }],
      },
    },
    OnEvent: {
      Type: 'AWS::Events::Rule',
      Properties: { EventPattern: { source: ['jobs'] }, Targets: [{ Arn: fnArn, Id: 'T' }] },
    },
    Reminder: {
      Type: 'AWS::Scheduler::Schedule',
      Properties: {
        ScheduleExpression: 'rate(10 minutes)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: fnArn, RoleArn: 'arn:aws:iam::000000000000:role/x', Input: '{"remind":true}' },
      },
    },
    Queue: { Type: 'AWS::SQS::Queue' },
  },
};

const names = physicalNames(template, { stackName: 'Sched' });
const ctx = createResolveContext(names, { stackName: 'Sched', template });
const sweeperArn = names.Sweeper?.attributes.Arn ?? '';

const runner = createLambdaRunner({ baseEnvironment: { AWS_REGION: 'us-east-1' }, onLog: () => undefined });
runner.register({
  logicalId: 'Sweeper',
  functionName: names.Sweeper?.ref ?? '',
  functionArn: sweeperArn,
  bundleDir: new URL('./fixtures/lambda-basic', import.meta.url).pathname,
  handler: 'index.handler',
  environment: {},
  timeoutSeconds: 3,
  memoryMb: 128,
});

// Records what reached the runner, so timer fires can be counted without racing the handler's own counter.
const payloads: unknown[] = [];
const invoker: LambdaInvoker = {
  invoke: async (functionNameOrArn, payload) => {
    payloads.push(payload);
    return runner.invoke(functionNameOrArn, payload);
  },
};

afterAll(async () => {
  await runner.stop();
});

describe('schedule expressions', () => {
  it('parses rate, cron and at, and rejects what AWS rejects', () => {
    expect(parseScheduleExpression('rate(1 minute)')).toEqual({ kind: 'rate', periodMs: 60_000 });
    expect(parseScheduleExpression('rate(2 hours)')).toEqual({ kind: 'rate', periodMs: 7_200_000 });
    expect(parseScheduleExpression('rate(1 day)')).toEqual({ kind: 'rate', periodMs: 86_400_000 });
    expect(parseScheduleExpression('cron(0/5 8-17 ? * MON-FRI *)')).toMatchObject({ kind: 'cron' });
    expect(parseScheduleExpression('at(2030-01-01T00:00:00)')).toMatchObject({ kind: 'at' });
    expect(() => parseScheduleExpression('rate(1 minutes)')).toThrow(/singular/);
    expect(() => parseScheduleExpression('rate(5 minute)')).toThrow(/singular/);
    expect(() => parseScheduleExpression('rate(5 seconds)')).toThrow(/unit/);
    expect(() => parseScheduleExpression('cron(0 2 * * *)')).toThrow(/6 fields/);
    expect(() => parseScheduleExpression('cron(0 2 * * MON *)')).toThrow(/'\?'/);
    expect(() => parseScheduleExpression('every day')).toThrow(/expected rate/);
  });

  it('reads schedules and their Lambda targets from the template', () => {
    const schedules = schedulesFromTemplate(template, ctx);
    expect(schedules.map((schedule) => [schedule.logicalId, schedule.name, schedule.enabled])).toEqual([
      ['SweepRule', 'Sched-SweepRule', true],
      ['NamedRule', 'nightly-report', true],
      ['CronRule', 'Sched-CronRule', true],
      ['Disabled', 'Sched-Disabled', false],
      ['Reminder', 'Sched-Reminder', true],
    ]);
    const named = schedules[1];
    expect(named?.targets.map((target) => target.input)).toEqual([
      { kind: 'constant', value: { mode: 'report' } },
      { kind: 'path', path: '$.resources' },
    ]);
    expect(named?.unsupportedTargets).toEqual([
      expect.stringMatching(/ToQueue: .* is not a Lambda function/),
    ]);
  });
});

describe('local schedules', () => {
  it('fires rate schedules on the scaled period and runs any schedule on demand', async () => {
    const trace: string[] = [];
    const schedules = startSchedules({
      template,
      ctx,
      invoker,
      timeScale: 0.005,
      onTrace: (line) => trace.push(line),
    });
    try {
      expect(schedules.names()).toContain('nightly-report');
      expect(trace).toContain('schedule CronRule (cron(0 2 * * ? *)) is not timed locally: use runNow');
      const started = performance.now();
      await vi.waitFor(
        () => {
          const sweeps = payloads.filter(
            (payload) => (payload as ScheduledEvent).resources?.[0] === names.SweepRule?.attributes.Arn,
          );
          expect(sweeps.length).toBeGreaterThanOrEqual(2);
        },
        { timeout: 3_000, interval: 20 },
      );
      console.log(
        `two timer fires of a 300 ms schedule after ${(performance.now() - started).toFixed(0)} ms`,
      );
      expect(payloads[0]).toMatchObject({
        version: '0',
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: '000000000000',
        region: 'us-east-1',
        resources: ['arn:aws:events:us-east-1:000000000000:rule/Sched-SweepRule'],
        detail: {},
      });
      expect((payloads[0] as ScheduledEvent).time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

      const byName = await schedules.runNow('nightly-report');
      expect(byName.trigger).toBe('manual');
      expect(byName.targets.map((target) => [target.targetId, target.outcome])).toEqual([
        [
          'WithInput',
          expect.objectContaining({
            ok: true,
            payload: expect.objectContaining({ echo: { mode: 'report' } }),
          }),
        ],
        [
          'WithPath',
          expect.objectContaining({
            ok: true,
            payload: expect.objectContaining({
              echo: ['arn:aws:events:us-east-1:000000000000:rule/nightly-report'],
            }),
          }),
        ],
      ]);
      const byLogicalId = await schedules.runNow('CronRule');
      expect(byLogicalId.targets[0]?.outcome).toMatchObject({ ok: true });
      const reminder = await schedules.runNow('Reminder');
      expect(reminder.targets[0]?.outcome).toMatchObject({ ok: true, payload: { echo: { remind: true } } });
      await expect(schedules.runNow('no-such-rule')).rejects.toBeInstanceOf(UnknownScheduleError);
      expect(schedules.list().find((schedule) => schedule.logicalId === 'Disabled')).toMatchObject({
        enabled: false,
        localPeriodMs: undefined,
      });
    } finally {
      schedules.stop();
    }
    const afterStop = payloads.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(payloads.length).toBe(afterStop);
  });

  it('skips a fire while the previous one is still running, and reports failed targets', async () => {
    const trace: string[] = [];
    let release: () => void = () => undefined;
    const slow: LambdaInvoker = {
      invoke: () =>
        new Promise((resolve) => {
          release = () => resolve({ ok: false, error: { errorType: 'Boom', errorMessage: 'bad sweep' } });
        }),
    };
    const single: CfnTemplate = {
      Resources: {
        Sweeper: template.Resources.Sweeper ?? { Type: '' },
        SweepRule: template.Resources.SweepRule ?? { Type: '' },
      },
    };
    const schedules = startSchedules({
      template: single,
      ctx,
      invoker: slow,
      timeScale: 0.002,
      minPeriodMs: 50,
      onTrace: (line) => trace.push(line),
    });
    try {
      await vi.waitFor(() =>
        expect(trace).toContain('schedule SweepRule skipped: the previous fire is still running'),
      );
      release();
      await vi.waitFor(() =>
        expect(trace).toContain('schedule SweepRule -> Target0 failed: Boom: bad sweep'),
      );
    } finally {
      schedules.stop();
    }
  });
});
