import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { STAGES } from '../../lib/stages.js';
import {
  describeKept,
  keptResources,
  outputsFileOf,
  readStageOutputs,
  stageInvocation,
} from '../../scripts/cdk-stage.js';

describe('stageInvocation', () => {
  it('deploys dev by default, with the stage explicit and its outputs file', () => {
    const { stage, cdkArgs, outputDir } = stageInvocation('deploy', []);
    expect(stage).toBe(STAGES.dev);
    expect(cdkArgs).toEqual(['deploy', '--context', 'stage=dev', '--outputs-file', 'cdk-outputs/dev.json']);
    expect(outputDir).toBe('cdk.out');
  });

  it.each([
    [['-c', 'stage=prod']],
    [['--context', 'stage=prod']],
    [['--context=stage=prod']],
    [['--require-approval', 'never', '-c', 'alarmEmail=a@example.com', '-c', 'stage=prod']],
  ])('reads the stage from %j and passes every arg through', (args) => {
    const { stage, cdkArgs } = stageInvocation('deploy', args);
    expect(stage).toBe(STAGES.prod);
    expect(cdkArgs).toEqual(['deploy', '--outputs-file', 'cdk-outputs/prod.json', ...args]);
  });

  it('does not take another context key, or a value that only mentions the stage, for the stage', () => {
    expect(stageInvocation('deploy', ['-c', 'alarmEmail=stage=prod@example.com']).stage).toBe(STAGES.dev);
    expect(stageInvocation('deploy', ['--tags', 'stage=prod']).stage).toBe(STAGES.dev);
  });

  it('destroys with the same stage selection, and writes no outputs file', () => {
    expect(stageInvocation('destroy', ['-c', 'stage=prod']).cdkArgs).toEqual(['destroy', '-c', 'stage=prod']);
    expect(stageInvocation('destroy', []).cdkArgs).toEqual(['destroy', '--context', 'stage=dev']);
  });

  it('reads the template from the output directory cdk is given', () => {
    expect(stageInvocation('destroy', ['-o', 'out']).outputDir).toBe('out');
    expect(stageInvocation('destroy', ['--output=elsewhere']).outputDir).toBe('elsewhere');
  });

  it('refuses an unknown stage, conflicting stages, and an outputs file of its own', () => {
    expect(() => stageInvocation('deploy', ['-c', 'stage=qa'])).toThrow(
      'Unknown stage "qa": valid stages are dev, prod',
    );
    expect(() => stageInvocation('deploy', ['-c', 'stage=dev', '-c', 'stage=prod'])).toThrow(
      'Conflicting stages in the args: dev, prod',
    );
    expect(() => stageInvocation('deploy', ['--outputs-file', 'x.json'])).toThrow(
      /cdk-outputs\/<stage>\.json/,
    );
  });
});

describe('what a destroy keeps', () => {
  const template = {
    Resources: {
      OrdersTable1: { Type: 'AWS::DynamoDB::Table', DeletionPolicy: 'Retain' },
      Queue1: { Type: 'AWS::SQS::Queue', DeletionPolicy: 'Delete' },
      Fn1: { Type: 'AWS::Lambda::Function' },
      Logs1: { Type: 'AWS::Logs::LogGroup', DeletionPolicy: 'RetainExceptOnCreate' },
      Volume1: { Type: 'AWS::EC2::Volume', DeletionPolicy: 'Snapshot' },
    },
    Outputs: {
      OrdersTableName: { Value: { Ref: 'OrdersTable1' } },
      ApiUrl: { Value: { 'Fn::Join': ['', ['https://', { Ref: 'Api1' }]] } },
    },
  };

  it('is every resource whose DeletionPolicy keeps it or a snapshot, named by the outputs that Ref it', () => {
    expect(
      keptResources(template, { OrdersTableName: 'OrderSaga-prod-OrdersTable-X1', ApiUrl: 'https://a' }),
    ).toEqual([
      { logicalId: 'Logs1', type: 'AWS::Logs::LogGroup', policy: 'RetainExceptOnCreate' },
      {
        logicalId: 'OrdersTable1',
        type: 'AWS::DynamoDB::Table',
        policy: 'Retain',
        physicalId: 'OrderSaga-prod-OrdersTable-X1',
      },
      { logicalId: 'Volume1', type: 'AWS::EC2::Volume', policy: 'Snapshot' },
    ]);
    expect(keptResources(template).map((resource) => resource.physicalId)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('is reported with the names, the tables’ deletion protection in prod, or as nothing', () => {
    const report = describeKept(
      STAGES.prod,
      keptResources(template, { OrdersTableName: 'OrderSaga-prod-OrdersTable-X1' }),
    );
    expect(report).toContain('OrderSaga-prod kept 3 resource(s)');
    expect(report).toContain('AWS::DynamoDB::Table  OrdersTable1 (OrderSaga-prod-OrdersTable-X1)');
    expect(report).toContain('AWS::EC2::Volume  Volume1  [snapshot]');
    expect(report).toContain('deletion protection');
    expect(describeKept(STAGES.dev, [])).toBe('OrderSaga kept nothing: every resource went with the stack.');
  });
});

describe('stage outputs', () => {
  it("are read from cdk-outputs/<stage>.json, the stage's stack's entry; none before a deploy", () => {
    const root = mkdtempSync(path.join(tmpdir(), 'outputs-'));
    expect(readStageOutputs(STAGES.prod, root)).toEqual({});
    mkdirSync(path.join(root, 'cdk-outputs'));
    writeFileSync(
      path.join(root, outputsFileOf(STAGES.prod)),
      JSON.stringify({ 'OrderSaga-prod': { ApiUrl: 'https://prod' }, OrderSaga: { ApiUrl: 'https://dev' } }),
    );
    expect(readStageOutputs(STAGES.prod, root)).toEqual({ ApiUrl: 'https://prod' });
    expect(readStageOutputs(STAGES.dev, root)).toEqual({});
  });
});
