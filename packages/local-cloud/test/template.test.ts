import { describe, expect, it } from 'vitest';
import {
  type CfnTemplate,
  createResolveContext,
  physicalNames,
  resolveIntrinsics,
  resolveStateMachineDefinition,
  withAttributes,
} from '../src/template.js';

const template: CfnTemplate = {
  Parameters: {
    BootstrapVersion: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/cdk-bootstrap/version' },
  },
  Conditions: { IsUsEast1: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] } },
  Resources: {
    JobsTable: { Type: 'AWS::DynamoDB::Table', Properties: { KeySchema: [] } },
    NamedTable: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'explicit-table' } },
    WorkQueue: { Type: 'AWS::SQS::Queue', Properties: {} },
    FifoQueue: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true } },
    ReserveFn: { Type: 'AWS::Lambda::Function', Properties: {} },
    Saga: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        DefinitionString: {
          'Fn::Join': [
            '',
            [
              '{"StartAt":"Reserve","States":{"Reserve":{"Type":"Task","Resource":"',
              { 'Fn::GetAtt': ['ReserveFn', 'Arn'] },
              '","Next":"Notify"},"Notify":{"Type":"Task","Resource":"arn:',
              { Ref: 'AWS::Partition' },
              // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation substitution syntax
              ':states:::sqs:sendMessage","Parameters":{"QueueUrl":"${QueueUrl}","MessageBody.$":"$"},"End":true}}}',
            ],
          ],
        },
        DefinitionSubstitutions: { QueueUrl: { Ref: 'WorkQueue' } },
      },
    },
    Rule: { Type: 'AWS::Events::Rule', Properties: {} },
    Schedule: { Type: 'AWS::Scheduler::Schedule', Properties: { GroupName: 'saga' } },
    Logs: { Type: 'AWS::Logs::LogGroup', Properties: {} },
  },
};

const options = { stackName: 'JobFlow', sqsEndpoint: 'http://sqs.us-east-1.localhost:4566' };
const names = physicalNames(template, options);
const ctx = createResolveContext(names, { ...options, template });

describe('physicalNames', () => {
  it('assigns deterministic names, ARNs and honours explicit names', () => {
    expect(physicalNames(template, options)).toEqual(names);
    expect(names.JobsTable?.ref).toBe('JobFlow-JobsTable');
    expect(names.NamedTable?.attributes.Arn).toBe(
      'arn:aws:dynamodb:us-east-1:000000000000:table/explicit-table',
    );
    expect(names.WorkQueue?.ref).toBe('http://sqs.us-east-1.localhost:4566/000000000000/JobFlow-WorkQueue');
    expect(names.WorkQueue?.attributes.Arn).toBe('arn:aws:sqs:us-east-1:000000000000:JobFlow-WorkQueue');
    expect(names.FifoQueue?.attributes.QueueName).toBe('JobFlow-FifoQueue.fifo');
    expect(names.ReserveFn?.attributes.Arn).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:JobFlow-ReserveFn',
    );
    expect(names.Saga?.ref).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:JobFlow-Saga');
    expect(names.Rule?.attributes.Arn).toBe('arn:aws:events:us-east-1:000000000000:rule/JobFlow-Rule');
    expect(names.Schedule?.attributes.Arn).toBe(
      'arn:aws:scheduler:us-east-1:000000000000:schedule/saga/JobFlow-Schedule',
    );
    expect(names.Logs?.ref).toBe('/aws/local/JobFlow-Logs');
  });

  it('keeps long generated names within service limits', () => {
    const long = physicalNames(
      { Resources: { ['F'.repeat(90)]: { Type: 'AWS::Lambda::Function' } } },
      { stackName: 'S'.repeat(30) },
    );
    expect(Object.values(long)[0]?.ref.length).toBeLessThanOrEqual(64);
  });
});

describe('resolveIntrinsics', () => {
  it('resolves Ref, GetAtt, Join, Sub, Select, Split, If and pseudo parameters', () => {
    const resolved = resolveIntrinsics(
      {
        table: { Ref: 'JobsTable' },
        arn: { 'Fn::GetAtt': 'JobsTable.Arn' },
        queueName: { 'Fn::GetAtt': ['WorkQueue', 'QueueName'] },
        joined: { 'Fn::Join': ['/', [{ Ref: 'AWS::AccountId' }, { Ref: 'AWS::Region' }, 'x']] },
        sub: {
          'Fn::Sub':
            // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation substitution syntax
            'arn:${AWS::Partition}:s3:::${AWS::StackName}-${JobsTable}-${ReserveFn.Arn}-${!Literal}',
        },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation substitution syntax
        subWithVars: { 'Fn::Sub': ['${A}.${AWS::URLSuffix}', { A: { Ref: 'NamedTable' } }] },
        selected: { 'Fn::Select': [1, { 'Fn::Split': [':', { 'Fn::GetAtt': ['ReserveFn', 'Arn'] }] }] },
        conditional: { 'Fn::If': ['IsUsEast1', 'east', 'elsewhere'] },
        dropped: { Ref: 'AWS::NoValue' },
        parameter: { Ref: 'BootstrapVersion' },
        list: ['a', { Ref: 'AWS::NoValue' }, 'b'],
      },
      ctx,
    );
    expect(resolved).toEqual({
      table: 'JobFlow-JobsTable',
      arn: 'arn:aws:dynamodb:us-east-1:000000000000:table/JobFlow-JobsTable',
      queueName: 'JobFlow-WorkQueue',
      joined: '000000000000/us-east-1/x',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation substitution syntax
      sub: 'arn:aws:s3:::JobFlow-JobFlow-JobsTable-arn:aws:lambda:us-east-1:000000000000:function:JobFlow-ReserveFn-${Literal}',
      subWithVars: 'explicit-table.amazonaws.com',
      selected: 'aws',
      conditional: 'east',
      parameter: '/cdk-bootstrap/version',
      list: ['a', 'b'],
    });
  });

  it('fails clearly on unknown references', () => {
    expect(() => resolveIntrinsics({ Ref: 'Nope' }, ctx)).toThrow(/Ref Nope/);
    expect(() => resolveIntrinsics({ 'Fn::GetAtt': ['JobsTable', 'Nope'] }, ctx)).toThrow(/JobsTable.Nope/);
  });
});

describe('resolveStateMachineDefinition', () => {
  it('yields plain JSON with GetAtt ARNs and DefinitionSubstitutions applied', () => {
    const definition = resolveStateMachineDefinition(template, 'Saga', ctx);
    expect(definition).toEqual({
      StartAt: 'Reserve',
      States: {
        Reserve: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:us-east-1:000000000000:function:JobFlow-ReserveFn',
          Next: 'Notify',
        },
        Notify: {
          Type: 'Task',
          Resource: 'arn:aws:states:::sqs:sendMessage',
          Parameters: { QueueUrl: names.WorkQueue?.ref, 'MessageBody.$': '$' },
          End: true,
        },
      },
    });
  });

  it('lets real attributes replace the placeholders', () => {
    const updated = withAttributes(names, { JobsTable: { StreamArn: 'arn:real-stream' } });
    expect(
      resolveIntrinsics({ 'Fn::GetAtt': ['JobsTable', 'StreamArn'] }, { ...ctx, resources: updated }),
    ).toBe('arn:real-stream');
  });
});
