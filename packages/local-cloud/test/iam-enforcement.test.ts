import { describe, expect, it } from 'vitest';
import type { AwsCall } from '../src/aws-calls/requests.js';
import { AccessDeniedError, IamEnforcement, unusedGrants } from '../src/iam/enforcement.js';
import { authorizationRequestsOf, functionInvokeArn } from '../src/iam/request-arns.js';
import { rolePoliciesOf } from '../src/iam/role-policies.js';
import type { LambdaInvoker } from '../src/stepfunctions/tasks.js';
import { type CfnTemplate, createResolveContext, physicalNames, withAttributes } from '../src/template.js';

const scope = { region: 'us-east-1', accountId: '000000000000' };
const arn = (service: string, resource: string) => `arn:aws:${service}:us-east-1:000000000000:${resource}`;
const getAtt = (logicalId: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [logicalId, attribute] });
const document = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });

// A function and a state machine with their roles, granted the way CDK grants: an AWS::IAM::Policy per role,
// plus an inline policy and a managed policy of the template, all with intrinsics to resolve.
const template: CfnTemplate = {
  Resources: {
    Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'payments' } },
    Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'requests' } },
    Charge: {
      Type: 'AWS::Lambda::Function',
      Properties: { FunctionName: 'charge', Role: getAtt('ChargeRole') },
      Metadata: { 'aws:cdk:path': 'Shop/Payments/Charge/Resource' },
    },
    Refund: {
      Type: 'AWS::Lambda::Function',
      Properties: { FunctionName: 'refund', Role: getAtt('ChargeRole') },
    },
    ChargeRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        Policies: [
          {
            PolicyName: 'Inline',
            PolicyDocument: document({
              Effect: 'Allow',
              Action: 'sqs:SendMessage',
              Resource: getAtt('Queue'),
            }),
          },
        ],
        ManagedPolicyArns: [
          { Ref: 'Reader' },
          'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
        ],
      },
    },
    ChargePolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'ChargeDefault',
        Roles: [{ Ref: 'ChargeRole' }],
        PolicyDocument: document(
          { Effect: 'Allow', Action: ['logs:PutLogEvents'], Resource: '*' },
          { Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], Resource: getAtt('Table') },
          { Effect: 'Allow', Action: 'dynamodb:DeleteItem', Resource: getAtt('Table') },
        ),
      },
    },
    Reader: {
      Type: 'AWS::IAM::ManagedPolicy',
      Properties: {
        PolicyDocument: document({
          Effect: 'Allow',
          Action: 'dynamodb:Query',
          Resource: { 'Fn::Join': ['', [getAtt('Table'), '/index/*']] },
        }),
      },
    },
    Saga: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: { StateMachineName: 'saga', RoleArn: getAtt('SagaRole') },
      Metadata: { 'aws:cdk:path': 'Shop/Saga/StateMachine/Resource' },
    },
    SagaRole: { Type: 'AWS::IAM::Role', Properties: {} },
    SagaPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'SagaDefault',
        Roles: [{ Ref: 'SagaRole' }],
        PolicyDocument: document(
          {
            Effect: 'Allow',
            Action: 'lambda:InvokeFunction',
            Resource: [getAtt('Charge'), { 'Fn::Join': ['', [getAtt('Charge'), ':*']] }],
          },
          {
            Effect: 'Allow',
            Action: ['states:SendTaskSuccess', 'states:SendTaskHeartbeat'],
            Resource: { Ref: 'Saga' },
          },
          {
            Effect: 'Allow',
            Action: 'states:StartExecution',
            Resource: { Ref: 'Saga' },
            Condition: { 'ForAnyValue:StringEquals': { 'states:StateMachineQualifier': ['live'] } },
          },
        ),
      },
    },
  },
};
const ctx = createResolveContext(physicalNames(template, { stackName: 'Shop' }), {
  stackName: 'Shop',
  template,
});

const call = (service: AwsCall['service'], operation: string, body: Record<string, unknown>): AwsCall => ({
  service,
  operation,
  resources: [],
  body,
});
const charge = { kind: 'function', name: 'charge' } as const;
const saga = { kind: 'stateMachine', label: 'Saga' } as const;

describe('rolePoliciesOf', () => {
  it("collects a role's inline, attached and managed policies with their intrinsics resolved", () => {
    const role = rolePoliciesOf(template, ctx).get('ChargeRole');
    expect(role?.policies.map((policy) => policy.name)).toEqual(['Inline', 'Reader', 'ChargeDefault']);
    expect(JSON.stringify(role?.policies)).toContain(`"${arn('dynamodb', 'table/payments')}/index/*"`);
    expect(JSON.stringify(role?.policies)).toContain(`"${arn('sqs', 'requests')}"`);
  });
});

describe('authorizationRequestsOf', () => {
  const table = arn('dynamodb', 'table/payments');

  it('authorizes a transaction item by item, each as its single-item action', () => {
    const items = [
      { Put: { TableName: 'payments' } },
      { ConditionCheck: { TableName: 'barriers' } },
      { Update: { TableName: 'payments' } },
    ];
    expect(
      authorizationRequestsOf(call('dynamodb', 'TransactWriteItems', { TransactItems: items }), scope),
    ).toEqual([
      { action: 'dynamodb:PutItem', resource: table },
      { action: 'dynamodb:ConditionCheckItem', resource: arn('dynamodb', 'table/barriers') },
      { action: 'dynamodb:UpdateItem', resource: table },
    ]);
  });

  it('authorizes a query of an index on the index', () => {
    const query = call('dynamodb', 'Query', { TableName: 'payments', IndexName: 'byCustomer' });
    expect(authorizationRequestsOf(query, scope)).toEqual([
      { action: 'dynamodb:Query', resource: `${table}/index/byCustomer` },
    ]);
  });

  it('authorizes an SQS batch as the single-message action on the queue of its URL', () => {
    const batch = call('sqs', 'SendMessageBatch', {
      QueueUrl: 'http://sqs.us-east-1.localhost:4566/000000000000/requests',
    });
    expect(authorizationRequestsOf(batch, scope)).toEqual([
      { action: 'sqs:SendMessage', resource: arn('sqs', 'requests') },
    ]);
  });

  it('authorizes a call on a state machine alias or version on the state machine, with the qualifier', () => {
    const machine = arn('states', 'stateMachine:saga');
    for (const qualifier of ['live', '3']) {
      const start = call('states', 'StartExecution', { stateMachineArn: `${machine}:${qualifier}` });
      expect(authorizationRequestsOf(start, scope)).toEqual([
        {
          action: 'states:StartExecution',
          resource: machine,
          context: { 'states:StateMachineQualifier': [qualifier] },
        },
      ]);
    }
    const describe = call('states', 'DescribeExecution', {
      executionArn: arn('states', 'execution:saga:o-1'),
    });
    expect(authorizationRequestsOf(describe, scope)).toEqual([
      { action: 'states:DescribeExecution', resource: arn('states', 'execution:saga:o-1') },
    ]);
  });

  it("authorizes a task token's answer on the state machine whose execution issued it", () => {
    const tokens = {
      ...scope,
      executionOfTaskToken: (token: string) =>
        token === 't-1' ? arn('states', 'execution:saga:o-1') : undefined,
    };
    expect(authorizationRequestsOf(call('states', 'SendTaskSuccess', { taskToken: 't-1' }), tokens)).toEqual([
      { action: 'states:SendTaskSuccess', resource: arn('states', 'stateMachine:saga') },
    ]);
    // A token Step Functions never issued is refused by the API (InvalidToken), not by IAM.
    expect(
      authorizationRequestsOf(call('states', 'SendTaskFailure', { taskToken: 'forged' }), tokens),
    ).toEqual([]);
  });

  it('keeps a function qualifier in the ARN lambda:InvokeFunction is authorized on', () => {
    expect(functionInvokeArn('charge', scope)).toBe(arn('lambda', 'function:charge'));
    expect(functionInvokeArn(arn('lambda', 'function:charge:7'), scope)).toBe(
      arn('lambda', 'function:charge:7'),
    );
  });
});

describe('IamEnforcement', () => {
  it("lets through what the caller's role allows and answers AccessDenied as each service does", async () => {
    const iam = new IamEnforcement(template, ctx);
    const put = call('dynamodb', 'PutItem', { TableName: 'payments' });
    expect(await iam.answerFor(put, charge)).toBeUndefined();

    const get = await iam.answerFor(call('dynamodb', 'GetItem', { TableName: 'payments' }), charge);
    expect(get?.status).toBe(400);
    expect(JSON.parse(get?.body ?? '{}')).toEqual({
      __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException',
      message:
        'User: arn:aws:sts::000000000000:assumed-role/Shop-ChargeRole/charge is not authorized to perform: ' +
        `dynamodb:GetItem on resource: ${arn('dynamodb', 'table/payments')} because no identity-based policy ` +
        'allows the dynamodb:GetItem action',
    });

    const receive = await iam.answerFor(
      call('sqs', 'ReceiveMessage', { QueueUrl: 'http://x/000000000000/requests' }),
      charge,
    );
    expect(receive?.status).toBe(403);
    expect(receive?.headers['x-amzn-query-error']).toBe('AccessDenied;Sender');
    expect(JSON.parse(receive?.body ?? '{}').message).toMatch(
      /perform: sqs:receivemessage on resource: .* allows the sqs:receivemessage action$/,
    );

    const start = call('states', 'StartExecution', {
      stateMachineArn: arn('states', 'stateMachine:saga:live'),
    });
    const started = await iam.answerFor(start, charge);
    expect(started?.status).toBe(400);
    expect(JSON.parse(started?.body ?? '{}').__type).toBe('AccessDeniedException');
  });

  it("reads DynamoDB Local's `ddblocal` table ARNs as the stack's region, as the stack's own ARNs are", async () => {
    const local = withAttributes(ctx.resources, {
      Table: { Arn: 'arn:aws:dynamodb:ddblocal:000000000000:table/payments' },
    });
    const iam = new IamEnforcement(template, createResolveContext(local, { stackName: 'Shop', template }));
    expect(
      await iam.answerFor(call('dynamodb', 'PutItem', { TableName: 'payments' }), charge),
    ).toBeUndefined();
    const query = call('dynamodb', 'Query', { TableName: 'payments', IndexName: 'byCustomer' });
    expect(await iam.answerFor(query, charge)).toBeUndefined();
  });

  it('denies a whole transaction when one of its items is not allowed', async () => {
    const iam = new IamEnforcement(template, ctx);
    const items = [{ Put: { TableName: 'payments' } }, { Put: { TableName: 'other' } }];
    const answer = await iam.answerFor(
      call('dynamodb', 'TransactWriteItems', { TransactItems: items }),
      charge,
    );
    expect(JSON.parse(answer?.body ?? '{}').message).toContain(
      `dynamodb:PutItem on resource: ${arn('dynamodb', 'table/other')}`,
    );
  });

  it("authorizes a state machine's Lambda invokes on the qualified ARN, and fails the task as Step Functions does", async () => {
    const iam = new IamEnforcement(template, ctx);
    const invoked: string[] = [];
    const invoker: LambdaInvoker = {
      invoke: async (name) => {
        invoked.push(name);
        return { ok: true, payload: {} };
      },
    };
    const sagaInvoker = iam.invokerFor('Saga', invoker);
    await sagaInvoker.invoke(arn('lambda', 'function:charge:7'), {});
    await sagaInvoker.invoke('charge', {});
    await expect(sagaInvoker.invoke(arn('lambda', 'function:refund:7'), {})).rejects.toMatchObject({
      name: 'Lambda.AWSLambdaException',
      message: expect.stringMatching(
        /^User: arn:aws:sts::000000000000:assumed-role\/Shop-SagaRole\/\S+ is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:refund:7 because no identity-based policy allows the lambda:InvokeFunction action \(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: [\w-]+; Proxy: null\)$/,
      ),
    });
    expect(invoked).toEqual([arn('lambda', 'function:charge:7'), 'charge']);
  });

  it('evaluates a task answer on the state machine, which IAM data lists as a `*`-only action', async () => {
    const iam = new IamEnforcement(template, ctx, {
      executionOfTaskToken: (token) => arn('states', `execution:${token}:o-1`),
    });
    const answer = (operation: string, token: string) =>
      iam.answerFor(call('states', operation, { taskToken: token }), saga);
    expect(await answer('SendTaskSuccess', 'saga')).toBeUndefined();
    expect(await answer('SendTaskHeartbeat', 'saga')).toBeUndefined();
    expect(await answer('SendTaskFailure', 'saga')).toBeDefined();
    expect(await answer('SendTaskSuccess', 'other')).toBeDefined();
    const sagaRole = iam.report().roles.find((role) => role.role === 'SagaRole');
    expect(sagaRole?.grants.filter((grant) => grant.uses > 0).map((grant) => grant.action)).toEqual([
      'states:SendTaskSuccess',
      'states:SendTaskHeartbeat',
    ]);
  });

  it('lets a role scope an alias with states:StateMachineQualifier', async () => {
    const iam = new IamEnforcement(template, ctx);
    const startOn = (qualifier: string) =>
      call('states', 'StartExecution', { stateMachineArn: arn('states', `stateMachine:saga${qualifier}`) });
    expect(await iam.answerFor(startOn(':live'), saga)).toBeUndefined();
    expect(await iam.answerFor(startOn(':3'), saga)).toBeDefined();
    expect(await iam.answerFor(startOn(''), saga)).toBeDefined();
  });

  it("makes a poller act as its function's role, by name or by qualified ARN", async () => {
    const iam = new IamEnforcement(template, ctx);
    await expect(
      iam.authorizePoller('charge', 'sqs:SendMessage', arn('sqs', 'requests')),
    ).resolves.toBeUndefined();
    await expect(
      iam.authorizePoller(
        arn('lambda', 'function:charge:live'),
        'sqs:ReceiveMessage',
        arn('sqs', 'requests'),
      ),
    ).rejects.toBeInstanceOf(AccessDeniedError);
  });

  it('reports which grant each allowed call used, the grants never used, and the denials', async () => {
    const denials: string[] = [];
    const iam = new IamEnforcement(template, ctx, {
      onDenial: (denial) => denials.push(`${denial.principal} ${denial.action}`),
    });
    await iam.answerFor(call('dynamodb', 'PutItem', { TableName: 'payments' }), charge);
    await iam.answerFor(call('dynamodb', 'PutItem', { TableName: 'payments' }), {
      kind: 'function',
      name: 'refund',
    });
    await iam.answerFor(call('dynamodb', 'Query', { TableName: 'payments', IndexName: 'i' }), charge);
    await iam.answerFor(call('dynamodb', 'Scan', { TableName: 'payments' }), charge);

    const report = iam.report();
    const chargeRole = report.roles.find((role) => role.role === 'ChargeRole');
    expect(chargeRole?.principals).toEqual(['Charge', 'Refund']);
    expect(chargeRole?.grants.map((grant) => [grant.action, grant.uses])).toEqual([
      ['sqs:SendMessage', 0],
      ['dynamodb:Query', 1],
      ['dynamodb:PutItem', 2],
      ['dynamodb:UpdateItem', 0],
      ['dynamodb:DeleteItem', 0],
    ]);
    expect(unusedGrants(report)).toEqual([
      `Charge,Refund: sqs:SendMessage on ${arn('sqs', 'requests')}`,
      `Charge,Refund: dynamodb:UpdateItem on ${arn('dynamodb', 'table/payments')}`,
      `Charge,Refund: dynamodb:DeleteItem on ${arn('dynamodb', 'table/payments')}`,
      `Saga: lambda:InvokeFunction on ${arn('lambda', 'function:charge')}, ${arn('lambda', 'function:charge')}:*`,
      `Saga: states:SendTaskSuccess on ${arn('states', 'stateMachine:saga')}`,
      `Saga: states:SendTaskHeartbeat on ${arn('states', 'stateMachine:saga')}`,
      `Saga: states:StartExecution on ${arn('states', 'stateMachine:saga')}`,
    ]);
    expect(report.denials).toMatchObject([
      { principal: 'Charge', role: 'Shop-ChargeRole', action: 'dynamodb:Scan' },
    ]);
    expect(denials).toEqual(['Charge dynamodb:Scan']);
  });
});

describe('IamEnforcement with queue policies', () => {
  // The queue trusts only the saga's role to send, however widely IAM grants SendMessage.
  const guarded: CfnTemplate = {
    Resources: {
      ...template.Resources,
      QueuePolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: {
          Queues: [{ Ref: 'Queue' }],
          PolicyDocument: document(
            {
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 'sqs:*',
              Resource: getAtt('Queue'),
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
            {
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 'sqs:SendMessage',
              Resource: getAtt('Queue'),
              Condition: { ArnNotEquals: { 'aws:PrincipalArn': [getAtt('SagaRole')] } },
            },
          ),
        },
      },
      SagaQueuePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'SagaSends',
          Roles: [{ Ref: 'SagaRole' }],
          PolicyDocument: document({ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: getAtt('Queue') }),
        },
      },
    },
  };
  const guardedCtx = createResolveContext(physicalNames(guarded, { stackName: 'Shop' }), {
    stackName: 'Shop',
    template: guarded,
  });
  const send = call('sqs', 'SendMessage', { QueueUrl: 'http://x/000000000000/requests' });

  it("denies a role the queue's policy does not spare, though its identity policy allows it", async () => {
    const iam = new IamEnforcement(guarded, guardedCtx);
    const refused = await iam.answerFor(send, charge);
    expect(refused?.status).toBe(403);
    expect(JSON.parse(refused?.body ?? '{}').message).toMatch(
      /perform: sqs:sendmessage on resource: .*requests with an explicit deny in a resource-based policy$/,
    );
    expect(await iam.answerFor(send, saga)).toBeUndefined();
  });

  it('lets the same call through without the queue policy', async () => {
    expect(await new IamEnforcement(template, ctx).answerFor(send, charge)).toBeUndefined();
  });
});
