import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DUMMY_CREDENTIALS } from '../src/emulator-credentials.js';
import { unqualifiedFunctionArn } from '../src/lambda-runner.js';
import { StepFunctionsApi } from '../src/sfn-api.js';
import {
  createLocalStateMachine,
  type LambdaInvoker,
  TaskTokenRegistry,
} from '../src/stepfunctions-engine.js';
import { type CfnTemplate, physicalNames } from '../src/template.js';

/**
 * A template as CDK writes it for a machine whose task invokes a published function version, with the machine's
 * own version and `live` alias: the local cloud names them as Lambda and Step Functions do, and starts
 * executions through them.
 */
const template: CfnTemplate = {
  Resources: {
    Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'reserve' } },
    FnVersionA: { Type: 'AWS::Lambda::Version', Properties: { FunctionName: { Ref: 'Fn' } } },
    FnVersionB: { Type: 'AWS::Lambda::Version', Properties: { FunctionName: { Ref: 'Fn' } } },
    FnAlias: {
      Type: 'AWS::Lambda::Alias',
      Properties: {
        FunctionName: { Ref: 'Fn' },
        FunctionVersion: { 'Fn::GetAtt': ['FnVersionB', 'Version'] },
        Name: 'prod',
      },
    },
    Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { StateMachineName: 'saga' } },
    MachineVersion: {
      Type: 'AWS::StepFunctions::StateMachineVersion',
      Properties: { StateMachineArn: { Ref: 'Machine' } },
    },
    MachineAlias: {
      Type: 'AWS::StepFunctions::StateMachineAlias',
      Properties: {
        Name: 'live',
        RoutingConfiguration: [
          { StateMachineVersionArn: { 'Fn::GetAtt': ['MachineVersion', 'Arn'] }, Weight: 100 },
        ],
      },
    },
  },
};

const names = physicalNames(template, { stackName: 'Stack' });
const machineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:saga';
const functionArn = 'arn:aws:lambda:us-east-1:000000000000:function:reserve';

describe('versions and aliases in the template', () => {
  it('numbers versions per function in template order, as a first deploy publishes them', () => {
    expect(names.FnVersionA?.ref).toBe(`${functionArn}:1`);
    expect(names.FnVersionB?.ref).toBe(`${functionArn}:2`);
    expect(names.FnVersionB?.attributes.Version).toBe('2');
    expect(names.MachineVersion?.ref).toBe(`${machineArn}:1`);
  });

  it('names an alias by its function or machine and its own name', () => {
    expect(names.FnAlias?.ref).toBe(`${functionArn}:prod`);
    expect(names.MachineAlias?.ref).toBe(`${machineArn}:live`);
    expect(names.MachineAlias?.qualified).toMatchObject({ kind: 'alias', versionArn: `${machineArn}:1` });
  });

  it('runs any qualified function ARN as the function itself', () => {
    for (const arn of [`${functionArn}:2`, `${functionArn}:prod`, `${functionArn}:$LATEST`, functionArn])
      expect(unqualifiedFunctionArn(arn)).toBe(functionArn);
  });
});

describe('executions started through a version or an alias', () => {
  const invoked: string[] = [];
  const lambda: LambdaInvoker = {
    async invoke(functionName) {
      invoked.push(functionName);
      return { ok: true, payload: { reserved: true } };
    },
  };
  let server: Server;
  let sfn: SFNClient;

  beforeAll(async () => {
    const taskTokens = new TaskTokenRegistry();
    const api = new StepFunctionsApi(taskTokens);
    api.addStateMachine(
      await createLocalStateMachine({
        stateMachineArn: machineArn,
        lambda,
        taskTokens,
        definition: {
          StartAt: 'Reserve',
          States: { Reserve: { Type: 'Task', Resource: names.FnVersionB?.ref, End: true } },
        },
      }),
    );
    for (const { qualified } of Object.values(names))
      if (qualified?.arn.includes(':stateMachine:')) api.addQualifiedName(qualified);
    server = createServer((request, response) => void api.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sfn = new SFNClient({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: DUMMY_CREDENTIALS,
    });
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function settled(executionArn: string) {
    for (;;) {
      const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (description.status !== 'RUNNING') return description;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('an alias start is the machine’s execution, naming the alias and the version it routed to', async () => {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: `${machineArn}:live`,
        name: 'through-alias',
        input: '{}',
      }),
    );
    expect(executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:saga:through-alias');
    const description = await settled(executionArn as string);
    expect(description).toMatchObject({
      status: 'SUCCEEDED',
      stateMachineArn: machineArn,
      stateMachineAliasArn: `${machineArn}:live`,
      stateMachineVersionArn: `${machineArn}:1`,
    });
    // The task invoked the published function version its definition names.
    expect(invoked.at(-1)).toBe(`${functionArn}:2`);
  });

  it('a version start names the version and no alias; an unqualified start names neither', async () => {
    const byVersion = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: `${machineArn}:1`, name: 'through-version', input: '{}' }),
    );
    const versioned = await settled(byVersion.executionArn as string);
    expect(versioned.stateMachineVersionArn).toBe(`${machineArn}:1`);
    expect(versioned.stateMachineAliasArn).toBeUndefined();
    const plain = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: machineArn, name: 'plain', input: '{}' }),
    );
    const unqualified = await settled(plain.executionArn as string);
    expect(unqualified.stateMachineVersionArn).toBeUndefined();
  });

  it('refuses an alias or version the template does not publish', async () => {
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: `${machineArn}:canary`, input: '{}' })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });
});
