import { readFileSync } from 'node:fs';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE } from '../../lib/ops/monitoring.js';
import { lambdaEntry } from '../../lib/platform/paths.js';
import { ServiceFunction } from '../../lib/platform/service-function.js';
import {
  bindStage,
  DEFAULT_STACK_NAME,
  STAGES,
  type StageName,
  stageConfig,
  stageOf,
} from '../../lib/stages.js';
import { keptResources } from '../../scripts/cdk-stage.js';
import { synthOrderSaga, TEST_ENV, testApp } from './synth.js';

type Resource = {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};
type Output = { Export?: { Name: string } };

const ALARM_EMAIL = 'oncall@example.com';

// Both stages as `cdk synth -c stage=<name>` builds them, cdk-nag included: a finding throws here.
// prod is synthesized with the alarmEmail context, dev without.
const synthesized = {
  dev: synthOrderSaga({}, { stage: 'dev', nag: true }),
  prod: synthOrderSaga({}, { stage: 'prod', nag: true, context: { alarmEmail: ALARM_EMAIL } }),
} satisfies Record<StageName, unknown>;

function resourcesOf(stage: StageName, type?: string): [string, Resource][] {
  const resources = synthesized[stage].template.toJSON().Resources as Record<string, Resource>;
  return Object.entries(resources).filter(([, resource]) => !type || resource.Type === type);
}

/** Property keys whose values must be unique in an account and region. */
const UNIQUE_NAME_KEYS = [
  'QueueName',
  'TopicName',
  'AlarmName',
  'DashboardName',
  'TableName',
  'StateMachineName',
  'FunctionName',
  'LogGroupName',
  'RoleName',
  'ManagedPolicyName',
  'ScheduleName',
];
const NAMED_BY_NAME = ['AWS::Events::Rule', 'AWS::Scheduler::Schedule', 'AWS::Scheduler::ScheduleGroup'];

/** Every physical name of the stage that another stack in the same account and region could collide with. */
function physicalNames(stage: StageName): string[] {
  const fromResources = resourcesOf(stage).flatMap(([, resource]) =>
    Object.entries(resource.Properties ?? {})
      .filter(
        ([key]) =>
          UNIQUE_NAME_KEYS.includes(key) || (key === 'Name' && NAMED_BY_NAME.includes(resource.Type)),
      )
      // A reference (a Permission's FunctionName) names a resource CloudFormation named uniquely.
      .flatMap(([, value]) => (typeof value === 'string' ? [value] : [])),
  );
  const outputs = synthesized[stage].template.toJSON().Outputs as Record<string, Output>;
  const exports = Object.values(outputs).flatMap((output) => (output.Export ? [output.Export.Name] : []));
  return [...fromResources, ...exports].sort();
}

describe('stage selection', () => {
  it('defaults to dev, whose stack keeps the name the local cloud, its tests and the README use', () => {
    expect(stageConfig()).toBe(STAGES.dev);
    expect(DEFAULT_STACK_NAME).toBe('OrderSaga');
    expect(stageConfig('prod').stackName).toBe('OrderSaga-prod');
  });

  it('refuses an unknown stage, naming the valid ones', () => {
    expect(() => stageConfig('production')).toThrow(
      'Unknown stage "production": valid stages are dev, prod (select one with -c stage=<name>)',
    );
    // Inherited keys are no stages either.
    expect(() => stageConfig('toString')).toThrow(/valid stages are dev, prod/);
  });

  it('gives each stage its own stack name', () => {
    const names = Object.values(STAGES).map((stage) => stage.stackName);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("the README's table of stages", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const rowOf = (setting: string) => readme.split('\n').find((line) => line.startsWith(`| ${setting}`)) ?? '';

  it('says what lib/stages.ts says', () => {
    const days = (retention: number) => (retention === 365 ? '1 year' : retention === 30 ? '1 month' : '?');
    const cells = (row: string) =>
      row
        .split('|')
        .slice(2, -1)
        .map((cell) => cell.trim());
    expect(cells(rowOf('stack name'))).toEqual([
      `\`${STAGES.dev.stackName}\``,
      `\`${STAGES.prod.stackName}\``,
    ]);
    expect(cells(rowOf('API throttling'))).toEqual(
      [STAGES.dev, STAGES.prod].map(
        (stage) => `${stage.apiThrottling.rateLimit} / ${stage.apiThrottling.burstLimit}`,
      ),
    );
    expect(cells(rowOf('log retention')).map((cell) => cell.split(',')[0])).toEqual([
      days(STAGES.dev.logRetention),
      days(STAGES.prod.logRetention),
    ]);
    expect(cells(rowOf('saga timeout'))).toEqual(
      [STAGES.dev, STAGES.prod].map(
        (stage) => `${stage.sagaTimeout.toHumanString()}, ${stage.redriveBudget}`,
      ),
    );
  });
});

describe.each(Object.keys(STAGES) as StageName[])('the %s stage', (name) => {
  const stage = STAGES[name];
  const { stack } = synthesized[name];

  it("is a stack of the stage's name, clean under cdk-nag", () => {
    expect(stack.stackName).toBe(stage.stackName);
    expect(stack.stage).toBe(stage);
  });

  it("prefixes every physical name with the stack's name", () => {
    const names = physicalNames(name);
    // Queues (3 + 2 DLQs), two rules, the topic, the dashboard, 13 alarms, two exports at least.
    expect(names.length).toBeGreaterThan(20);
    for (const physical of names) expect(physical.startsWith(`${stage.stackName}-`), physical).toBe(true);
  });

  it("names every function's service after the stack, and the alarms read that service only", () => {
    const functions = resourcesOf(name, 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(10);
    for (const [id, fn] of functions) {
      const environment = fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
      expect(environment?.Variables?.POWERTOOLS_SERVICE_NAME, id).toBe(stage.stackName);
    }
    const queries = resourcesOf(name, 'AWS::CloudWatch::Alarm').flatMap(([, alarm]) =>
      ((alarm.Properties?.Metrics ?? []) as { Expression?: string }[]).flatMap((query) =>
        query.Expression?.startsWith('SELECT') ? [query.Expression] : [],
      ),
    );
    expect(queries.length).toBeGreaterThan(3);
    for (const query of queries)
      expect(query).toContain(`FROM "${METRICS_NAMESPACE}" WHERE service = '${stage.stackName}'`);
  });

  it("keeps every log group for the stage's retention, and removes or keeps it with the stack as set", () => {
    const logGroups = resourcesOf(name, 'AWS::Logs::LogGroup');
    // Every function's, the executions' and the API's access logs.
    expect(logGroups.length).toBeGreaterThan(10);
    const policy = stage.logRemovalPolicy === RemovalPolicy.RETAIN ? 'Retain' : 'Delete';
    for (const [id, logGroup] of logGroups) {
      expect(logGroup.Properties?.RetentionInDays, id).toBe(stage.logRetention);
      expect(logGroup.DeletionPolicy, id).toBe(policy);
    }
  });

  it("throttles the API at the stage's rate and burst", () => {
    synthesized[name].template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [
        Match.objectLike({
          ThrottlingRateLimit: stage.apiThrottling.rateLimit,
          ThrottlingBurstLimit: stage.apiThrottling.burstLimit,
        }),
      ],
    });
  });

  it("runs the saga for the stage's timeout", () => {
    expect(synthesized[name].definition.TimeoutSeconds).toBe(stage.sagaTimeout.toSeconds());
  });
});

describe('dev and prod side by side', () => {
  it('share no physical name: both fit in one account and region', () => {
    const dev = physicalNames('dev');
    const prod = physicalNames('prod');
    expect(prod.filter((physical) => dev.includes(physical))).toEqual([]);
    // The same resources, named for their stage.
    expect(prod).toEqual(dev.map((physical) => physical.replace(/^OrderSaga-/, 'OrderSaga-prod-')).sort());
  });

  it('prod keeps its tables and refuses their deletion; dev removes them with the stack', () => {
    const prodTables = resourcesOf('prod', 'AWS::DynamoDB::Table');
    const devTables = resourcesOf('dev', 'AWS::DynamoDB::Table');
    expect(prodTables).toHaveLength(5);
    expect(devTables).toHaveLength(5);
    for (const [id, table] of prodTables) {
      expect(table.DeletionPolicy, id).toBe('Retain');
      expect(table.UpdateReplacePolicy, id).toBe('Retain');
      expect(table.Properties?.DeletionProtectionEnabled, id).toBe(true);
    }
    for (const [id, table] of devTables) {
      expect(table.DeletionPolicy, id).toBe('Delete');
      expect(table.Properties?.DeletionProtectionEnabled, id).not.toBe(true);
    }
  });

  it('prod keeps its logs a year, dev a month; prod throttles higher', () => {
    expect(STAGES.prod.logRetention).toBe(365);
    expect(STAGES.dev.logRetention).toBe(30);
    expect(STAGES.prod.apiThrottling.rateLimit).toBeGreaterThan(STAGES.dev.apiThrottling.rateLimit);
  });

  it('emails the alarmEmail context to the alarm topic; without it, nobody', () => {
    synthesized.prod.template.resourcePropertiesCountIs(
      'AWS::SNS::Subscription',
      { Protocol: 'email', Endpoint: ALARM_EMAIL },
      1,
    );
    synthesized.dev.template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it("subscribes the stage's own alarm email, unless the alarmEmail context names another", () => {
    const stage = { ...STAGES.prod, alarmEmail: 'prod-oncall@example.com' };
    const fromStage = synthOrderSaga({ stage }).template;
    fromStage.resourcePropertiesCountIs('AWS::SNS::Subscription', { Endpoint: stage.alarmEmail }, 1);
    fromStage.resourceCountIs('AWS::SNS::Subscription', 1);
    const overridden = synthOrderSaga({ stage }, { context: { alarmEmail: ALARM_EMAIL } }).template;
    overridden.resourcePropertiesCountIs('AWS::SNS::Subscription', { Endpoint: ALARM_EMAIL }, 1);
    overridden.resourceCountIs('AWS::SNS::Subscription', 1);
  });
});

describe('what npm run destroy reports as kept, from the synthesized templates', () => {
  const keptIds = (stage: StageName) =>
    keptResources(synthesized[stage].template.toJSON()).map((resource) => resource.logicalId);

  it("prod: every table, named by the deploy's outputs, and every log group", () => {
    const tables = resourcesOf('prod', 'AWS::DynamoDB::Table').map(([id]) => id);
    const logGroups = resourcesOf('prod', 'AWS::Logs::LogGroup').map(([id]) => id);
    expect(keptIds('prod')).toEqual(expect.arrayContaining([...tables, ...logGroups]));
    const kept = keptResources(synthesized.prod.template.toJSON(), {
      OrdersTableName: 'OrderSaga-prod-Orders-1',
    });
    expect(kept.filter((resource) => resource.physicalId)).toEqual([
      expect.objectContaining({ type: 'AWS::DynamoDB::Table', physicalId: 'OrderSaga-prod-Orders-1' }),
    ]);
  });

  it('dev: no table and no log group', () => {
    const kept = keptResources(synthesized.dev.template.toJSON());
    expect(kept.filter((resource) => /DynamoDB::Table|Logs::LogGroup/.test(resource.type))).toEqual([]);
    expect(keptIds('dev').length).toBeLessThan(keptIds('prod').length);
  });
});

describe('published versions', () => {
  function versionOf(name: StageName): Resource {
    const stack = new Stack(testApp(), `Versions-${name}`, { env: TEST_ENV });
    bindStage(stack, STAGES[name]);
    expect(stageOf(stack)).toBe(STAGES[name]);
    const fn = new ServiceFunction(stack, 'Fn', { entry: lambdaEntry('inventory/reserve-handler.ts') });
    expect(fn.currentVersion).toBeDefined();
    const versions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Version'));
    expect(versions).toHaveLength(1);
    return versions[0] as Resource;
  }

  it.each(['dev', 'prod'] as const)(
    'outlive their replacement in %s: executions of the previous release still invoke them',
    (name) => {
      expect(versionOf(name).DeletionPolicy).toBe('Retain');
      expect(versionOf(name).UpdateReplacePolicy).toBe('Retain');
    },
  );

  it.each(['dev', 'prod'] as const)(
    'each state machine of %s publishes a retained version and starts through a live alias on it',
    (name) => {
      const template = synthesized[name].template.toJSON();
      const resources = Object.entries(template.Resources) as [string, Resource][];
      const machines = resources.filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
      expect(machines).toHaveLength(3);
      for (const [machineId] of machines) {
        const [versionId, version] = resources.find(
          ([, r]) =>
            r.Type === 'AWS::StepFunctions::StateMachineVersion' &&
            JSON.stringify(r.Properties?.StateMachineArn) === JSON.stringify({ Ref: machineId }),
        ) as [string, Resource];
        expect(version.Properties?.StateMachineRevisionId).toEqual({
          'Fn::GetAtt': [machineId, 'StateMachineRevisionId'],
        });
        expect(version.UpdateReplacePolicy).toBe('Retain');
        const alias = resources.find(
          ([, r]) =>
            r.Type === 'AWS::StepFunctions::StateMachineAlias' &&
            JSON.stringify(r.Properties?.RoutingConfiguration).includes(versionId),
        )?.[1];
        expect(alias?.Properties).toMatchObject({
          Name: 'live',
          RoutingConfiguration: [
            { StateMachineVersionArn: { 'Fn::GetAtt': [versionId, 'Arn'] }, Weight: 100 },
          ],
        });
      }
    },
  );

  it('belong to the default stage in a stack no stage was bound to', () => {
    expect(stageOf(new Stack(testApp(), 'Unbound'))).toBe(STAGES.dev);
  });
});
