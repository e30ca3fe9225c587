import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { definitionOf, synthOrderSaga } from './synth.js';

const { stack, template } = synthOrderSaga();
const resolve = (value: unknown) => stack.resolve(value);

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

function functionNamed(fragment: string): [string, Resource] {
  const functions = Object.entries(
    template.findResources('AWS::Lambda::Function') as Record<string, Resource>,
  );
  const match = functions.filter(([id]) => id.includes(fragment));
  if (match.length !== 1 || !match[0]) throw new Error(`Expected one function matching ${fragment}`);
  return match[0];
}

function tableRef(serviceFragment: string): unknown {
  const tables = Object.keys(template.findResources('AWS::DynamoDB::Table')).filter((id) =>
    id.startsWith(serviceFragment),
  );
  if (tables.length !== 1) throw new Error(`Expected one ${serviceFragment} table`);
  return { Ref: tables[0] };
}

function policyStatementsOf(functionId: string): Array<{ Action: string | string[]; Resource: unknown }> {
  const fn = template.findResources('AWS::Lambda::Function')[functionId] as Resource;
  const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy') as Record<string, Resource>,
  ).filter((policy) => (policy.Properties.Roles as Array<{ Ref: string }>).some((ref) => ref.Ref === role));
  return policies.flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: [] }).Statement);
}

describe('order saga stack', () => {
  it("gives each service its own on-demand, encrypted, recoverable table, removed with dev's stack", () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 5);
    template.allResourcesProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    });
    for (const table of Object.values(
      template.findResources('AWS::DynamoDB::Table') as Record<string, Resource>,
    )) {
      // prod keeps its tables (test/infra/stages.test.ts); dev's go with the stack, as `npm run destroy` says.
      expect(table.DeletionPolicy).toBe('Delete');
    }
  });

  it('indexes orders by status for the sweeper, and outbox rows not yet published for the republisher', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'byStatus',
          KeySchema: [
            { AttributeName: 'status', KeyType: 'HASH' },
            { AttributeName: 'updatedAt', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'byUnpublished',
          KeySchema: [
            { AttributeName: 'unpublishedShard', KeyType: 'HASH' },
            { AttributeName: 'occurredAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        }),
      ],
    });
  });

  it('republishes unpublished outbox rows every minute, through that index only', () => {
    const [republisherId, fn] = functionNamed('OutboxRepublisherFunction');
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [republisherId, 'Arn'] } })],
    });
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(Number(variables.REPUBLISH_AFTER_SECONDS)).toBeGreaterThanOrEqual(60);
    const dynamo = policyStatementsOf(republisherId).filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('dynamodb:')),
    );
    // It finds unpublished rows on their index and marks them on the table: no item action on the index, no
    // query of the table.
    const grants = dynamo.map((statement) => ({
      actions: [statement.Action].flat().sort(),
      onIndex: JSON.stringify(statement.Resource).includes('/index/'),
    }));
    expect(grants).toEqual(
      expect.arrayContaining([
        { actions: ['dynamodb:Query'], onIndex: true },
        { actions: ['dynamodb:UpdateItem'], onIndex: false },
      ]),
    );
    expect(grants).toHaveLength(2);
    expect(JSON.stringify(dynamo)).toContain('/index/byUnpublished');
  });

  it('runs every function on arm64 with the newest Node.js runtime, tracing and JSON logs', () => {
    // Nine Lambda saga steps, the shipping worker, two API functions, the outbox relay and republisher, the
    // notifications consumer and the sweeper.
    template.resourceCountIs('AWS::Lambda::Function', 16);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'nodejs24.x',
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
    });
  });

  it.each([
    [
      'ReserveInventory',
      'Inventory',
      ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    ],
    [
      'ReleaseInventory',
      'Inventory',
      ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    ],
    ['ChargePayment', 'Payments', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
    [
      'RefundPayment',
      'Payments',
      ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    ],
    ['ShippingWorker', 'Shipping', ['dynamodb:GetItem', 'dynamodb:PutItem']],
    [
      'CancelShipment',
      'Shipping',
      ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    ],
    ['ConfirmOrder', 'Orders', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
    ['CancelOrder', 'Orders', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
    ['MarkCompensationFailed', 'Orders', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
    ['MarkNeedsAttention', 'Orders', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
  ])('%s is bound to the %s table with exactly %j', (step, service, expectedActions) => {
    const [id, fn] = functionNamed(step);
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables.TABLE_NAME).toEqual(tableRef(service));
    expect(Number(variables.BARRIER_TTL_SECONDS)).toBeGreaterThan(14 * 24 * 3600);

    const dynamoStatements = policyStatementsOf(id).filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('dynamodb:')),
    );
    expect(dynamoStatements).toHaveLength(1);
    const [statement] = dynamoStatements;
    expect(statement?.Resource).toEqual({
      'Fn::GetAtt': [(tableRef(service) as { Ref: string }).Ref, 'Arn'],
    });
    expect([statement?.Action ?? []].flat().sort()).toEqual(expectedActions);
  });

  it.each([
    ['OrdersApiFunction', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
    ['ReconcileFunction', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
  ])('gives the API function %s only %j on the orders table', (name, expected) => {
    const [id, fn] = functionNamed(name);
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables.TABLE_NAME).toEqual(tableRef('Orders'));
    const dynamoStatements = policyStatementsOf(id).filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('dynamodb:')),
    );
    expect(dynamoStatements).toHaveLength(1);
    expect([dynamoStatements[0]?.Action ?? []].flat().sort()).toEqual(expected);
    expect(dynamoStatements[0]?.Resource).toEqual({
      'Fn::GetAtt': [(tableRef('Orders') as { Ref: string }).Ref, 'Arn'],
    });
  });

  it('configures shipping with the served countries', () => {
    const [, fn] = functionNamed('ShippingWorker');
    const variables = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
    expect(variables.SERVED_COUNTRIES?.split(',')).toEqual(expect.arrayContaining(['US', 'GB', 'DE']));
  });

  it('runs a Standard, traced, fully logged state machine', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
  });

  it('gives every queue a DLQ after 5 receives, SSE, TLS only, and a visibility of six consumer timeouts', () => {
    const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    const mappings = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping') as Record<string, Resource>,
    );
    const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const withDlq = Object.entries(queues).filter(([, queue]) => queue.Properties.RedrivePolicy);
    expect(withDlq.map(([id]) => id).sort()).toEqual(
      [expect.stringContaining('OrderEvents'), expect.stringContaining('Requests')].sort(),
    );
    for (const [id, queue] of withDlq) {
      expect(
        (queue.Properties.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount,
        id,
      ).toBeGreaterThanOrEqual(5);
      const consumer = mappings.find((mapping) =>
        JSON.stringify(mapping.Properties.EventSourceArn).includes(id),
      );
      const functionId = (consumer?.Properties.FunctionName as { Ref?: string } | undefined)?.Ref ?? '';
      const timeout = Number(functions[functionId]?.Properties.Timeout);
      expect(Number(queue.Properties.VisibilityTimeout), id).toBeGreaterThanOrEqual(6 * timeout);
      expect(consumer?.Properties.FunctionResponseTypes, id).toEqual(['ReportBatchItemFailures']);
    }
    // Encrypted at rest, with a data key where messages hold personal data (see data-protection.test.ts).
    for (const [id, queue] of Object.entries(queues))
      expect(
        queue.Properties.SqsManagedSseEnabled === true || queue.Properties.KmsMasterKeyId !== undefined,
        id,
      ).toBe(true);
    const policies = Object.values(
      template.findResources('AWS::SQS::QueuePolicy') as Record<string, Resource>,
    );
    expect(policies).toHaveLength(Object.keys(queues).length);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument).toMatchObject({
        Statement: expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      });
    }
  });

  it('alarms on every dead-letter queue as soon as one message lands', () => {
    const queues = Object.keys(template.findResources('AWS::SQS::Queue'));
    const dlqs = queues.filter(
      (id) => !(template.findResources('AWS::SQS::Queue')[id] as Resource).Properties.RedrivePolicy,
    );
    expect(dlqs).toHaveLength(3);
    for (const dlq of dlqs) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      });
    }
  });

  it('feeds the relay only new outbox rows, with retries, bisection and an on-failure destination', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OrdersTable'), 'StreamArn'] },
      FilterCriteria: {
        Filters: [
          {
            Pattern: JSON.stringify({
              eventName: ['INSERT'],
              dynamodb: { NewImage: { kind: { S: ['outbox'] } } },
            }),
          },
        ],
      },
      MaximumRetryAttempts: 5,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('RelayFailures'), 'Arn'] } },
      },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.anyValue(),
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
  });

  it('lets the shipping worker answer task tokens of this state machine only', () => {
    const [workerId] = functionNamed('ShippingWorker');
    const statement = policyStatementsOf(workerId).find((candidate) =>
      [candidate.Action].flat().includes('states:SendTaskSuccess'),
    );
    expect([statement?.Action].flat().sort()).toEqual([
      'states:SendTaskFailure',
      'states:SendTaskHeartbeat',
      'states:SendTaskSuccess',
    ]);
    expect(statement?.Resource).toEqual(resolve(stack.saga.stateMachine.stateMachineArn));
  });

  it('gives a failed shipping attempt time to be redelivered before CreateShipment gives up on its heartbeat', () => {
    const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    const [, requests] = Object.entries(queues).find(([id]) => id.startsWith('ShippingRequestsQueue')) ?? [];
    const heartbeat = definitionOf(stack).States.CreateShipment?.HeartbeatSeconds ?? 0;
    expect(heartbeat).toBeGreaterThanOrEqual(2 * Number(requests?.Properties.VisibilityTimeout));
  });

  it('sweeps stuck orders every five minutes, reading PENDING orders through the status index only', () => {
    const [sweeperId] = functionNamed('SweeperFunction');
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [sweeperId, 'Arn'] } })],
    });
    const queries = policyStatementsOf(sweeperId).filter((statement) =>
      [statement.Action].flat().includes('dynamodb:Query'),
    );
    const queried = JSON.stringify(queries.map((statement) => statement.Resource));
    expect(queried).toContain('/index/byStatus');
    expect(queried).not.toContain('index/*');
    // The oldest unpublished event's age: a Query on the outbox index alone, no other action there.
    const outboxIndex = policyStatementsOf(sweeperId).filter((statement) =>
      JSON.stringify(statement.Resource).includes('/index/byUnpublished'),
    );
    expect(outboxIndex.map((statement) => [statement.Action].flat())).toEqual([['dynamodb:Query']]);
  });

  it.each([
    ['ReconcileFunction', true],
    ['SweeperFunction', false],
  ])('gives %s what reconcile decides with, and only what it acts on', (name, operator) => {
    const [id, fn] = functionNamed(name);
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining([
        'STATE_MACHINE_ARN',
        'UNWIND_STATE_MACHINE_ARN',
        'COMPLETION_STATE_MACHINE_ARN',
        'BARRIER_TTL_SECONDS',
        'SAGA_TIMEOUT_SECONDS',
        'AUTO_REDRIVE_BUDGET',
        'STUCK_AFTER_SECONDS',
      ]),
    );
    const actions = policyStatementsOf(id).flatMap((statement) => [statement.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['states:DescribeExecution', 'states:RedriveExecution']));
    // Only a person's action stops an execution or starts the unwind and completion machines.
    expect(actions.includes('states:StopExecution')).toBe(operator);
    const starts = policyStatementsOf(id).filter((statement) =>
      [statement.Action].flat().includes('states:StartExecution'),
    );
    expect(starts.flatMap((statement) => [statement.Resource].flat())).toHaveLength(operator ? 3 : 1);
  });

  it.each([
    ['OrdersApiFunction', ['STATE_MACHINE_ARN']],
    ['ReconcileFunction', ['STATE_MACHINE_ARN', 'UNWIND_STATE_MACHINE_ARN', 'COMPLETION_STATE_MACHINE_ARN']],
    ['SweeperFunction', ['STATE_MACHINE_ARN', 'UNWIND_STATE_MACHINE_ARN', 'COMPLETION_STATE_MACHINE_ARN']],
  ])(
    '%s starts executions through the live aliases, so a rollback reaches it without a deploy',
    (name, names) => {
      const [, fn] = functionNamed(name);
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      const resources = template.toJSON().Resources as Record<string, { Type: string }>;
      for (const variable of names) {
        const ref = (variables[variable] as { Ref?: string }).Ref;
        expect(resources[ref ?? '']?.Type, variable).toBe('AWS::StepFunctions::StateMachineAlias');
      }
    },
  );

  it('keeps barrier rows far longer than a saga, its redrives, the redrive window and a person can take', () => {
    const [, fn] = functionNamed('ReconcileFunction');
    const variables = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
    const ttl = Number(variables.BARRIER_TTL_SECONDS);
    const sagaTimeout = Number(variables.SAGA_TIMEOUT_SECONDS);
    const budget = Number(variables.AUTO_REDRIVE_BUDGET);
    expect(ttl).toBeGreaterThanOrEqual(sagaTimeout * (budget + 1) + (14 + 30) * 24 * 3600);
    // Step Functions purges closed executions after 90 days: barrier safety must end before that.
    expect(ttl).toBeLessThan(90 * 24 * 3600);
  });

  it.each([
    ['ClientPolicy', ['POST/orders', 'GET/orders/*']],
    ['OperatorPolicy', ['POST/orders', 'GET/orders/*', 'POST/orders/*/reconcile']],
  ])('exports the %s granting exactly its routes', (name, routes) => {
    const [policyId, policy] =
      Object.entries(template.findResources('AWS::IAM::ManagedPolicy') as Record<string, Resource>).find(
        ([id]) => id.includes(name),
      ) ?? [];
    const document = policy?.Properties.PolicyDocument as
      | { Statement: { Action: string; Resource: unknown[] }[] }
      | undefined;
    const [statement, ...others] = document?.Statement ?? [];
    expect(others).toEqual([]);
    expect(statement?.Action).toBe('execute-api:Invoke');
    const granted = (statement?.Resource ?? []).map((resource) => {
      const parts = (resource as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      // …execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>: the stage, then the route.
      expect(JSON.stringify(parts.at(-2))).toContain('RestApiDeploymentStage');
      return String(parts.at(-1)).replace(/^\//, '');
    });
    expect(granted.sort()).toEqual([...routes].sort());
    expect(template.toJSON().Outputs[`${name}Arn`]).toMatchObject({
      Value: { Ref: policyId },
      Export: { Name: `OrderSagaTest-${name}Arn` },
    });
  });

  it('exports the state machine ARN', () => {
    expect(resolve(stack.saga.stateMachine.stateMachineArn)).toEqual(
      template.toJSON().Outputs.StateMachineArn.Value,
    );
  });
});

describe('publishers of order events', () => {
  it.each(['OutboxRelay', 'OutboxRepublisherFunction'])(
    '%s may only send to the order-events queue',
    (name) => {
      const [id] = functionNamed(name);
      const onOrderEvents = policyStatementsOf(id)
        .filter((statement) => JSON.stringify(statement.Resource).includes('OrderEventsQueue'))
        .flatMap((statement) => [statement.Action].flat());
      expect(onOrderEvents).toEqual(['sqs:SendMessage']);
    },
  );
});
