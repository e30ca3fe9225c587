import { describe, expect, it } from 'vitest';
import { stageConfig } from '../../lib/stages.js';
import { synthOrderSaga } from './synth.js';

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  DependsOn?: string[];
}

function resourcesOf(stage: 'dev' | 'prod' = 'dev', breakGlassRole?: 'none') {
  const config = stageConfig(stage);
  const { template } = synthOrderSaga({
    stage: breakGlassRole ? { ...config, breakGlassRole } : config,
  });
  return template.toJSON().Resources as Record<string, Resource>;
}

const actionsOf = (statement: Statement) => [statement.Action].flat();
const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);
/** The logical ids of the roles an ARN list names by `Fn::GetAtt [Role, Arn]`. */
const rolesIn = (value: unknown): string[] =>
  [value]
    .flat(2)
    .map((entry) => (entry as { 'Fn::GetAtt'?: string[] } | undefined)?.['Fn::GetAtt']?.[0])
    .filter((id): id is string => id !== undefined);
const logicalIdOf = (resources: Record<string, Resource>, prefix: string, type: string) => {
  const found = ofType(resources, type).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1) throw new Error(`${found.length} ${type} named ${prefix}*`);
  return found[0]?.[0] ?? '';
};

/** The roles whose IAM policies allow one of `actions` on a resource whose text names `logicalId`. */
function rolesGranted(resources: Record<string, Resource>, actions: string[], logicalId: string): string[] {
  const roles = new Set<string>();
  for (const [, policy] of ofType(resources, 'AWS::IAM::Policy')) {
    const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    const grants = statements.some(
      (statement) =>
        statement.Effect === 'Allow' &&
        actionsOf(statement).some((action) => actions.includes(action)) &&
        JSON.stringify(statement.Resource).includes(`"${logicalId}"`),
    );
    if (grants) for (const role of policy.Properties.Roles as { Ref: string }[]) roles.add(role.Ref);
  }
  return [...roles].sort();
}

const BREAK_GLASS = 'BreakGlassRole9919F022';

describe('keys per data class', () => {
  const resources = resourcesOf();
  const keyOf = (resource: Resource | undefined): string | undefined => {
    const sse = resource?.Properties.SSESpecification as { KMSMasterKeyId?: unknown } | undefined;
    const id = sse?.KMSMasterKeyId ?? resource?.Properties.KmsMasterKeyId;
    return rolesIn(id)[0];
  };

  it('gives orders, payments and shipping a key each, and the shipping requests and their DLQ the shipping one', () => {
    const table = (prefix: string) => resources[logicalIdOf(resources, prefix, 'AWS::DynamoDB::Table')];
    const queue = (prefix: string) => resources[logicalIdOf(resources, prefix, 'AWS::SQS::Queue')];
    const keys = {
      orders: keyOf(table('OrdersTable')),
      payments: keyOf(table('PaymentsTable')),
      shipping: keyOf(table('ShippingTable')),
    };
    expect(keys).toEqual({
      orders: expect.stringMatching(/^OrdersKey/),
      payments: expect.stringMatching(/^PaymentsKey/),
      shipping: expect.stringMatching(/^ShippingKey/),
    });
    expect(keyOf(queue('ShippingRequestsQueue'))).toBe(keys.shipping);
    expect(keyOf(queue('ShippingRequestsDeadLetters'))).toBe(keys.shipping);
    // No personal data beyond ids: AWS's keys are enough there.
    expect(keyOf(table('InventoryTable'))).toBeUndefined();
    expect(keyOf(table('NotificationsTable'))).toBeUndefined();
  });

  it('encrypts every saga machine (definitions and histories hold addresses) with the saga key', () => {
    const machines = ofType(resources, 'AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(3);
    for (const [id, machine] of machines)
      expect(machine.Properties.EncryptionConfiguration, id).toEqual({
        Type: 'CUSTOMER_MANAGED_KMS_KEY',
        KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^SagaKey/), 'Arn'] },
        KmsDataKeyReusePeriodSeconds: 300,
      });
  });
});

describe('key policies', () => {
  const resources = resourcesOf();
  const dataKeys = ofType(resources, 'AWS::KMS::Key').filter(([id]) => !id.startsWith('Monitoring'));
  const statementsOf = (id: string) =>
    (resources[id]?.Properties.KeyPolicy as { Statement: Statement[] } | undefined)?.Statement ?? [];
  const USE = /^kms:(Decrypt|Encrypt|GenerateDataKey|ReEncrypt|CreateGrant|\*)/;

  it('rotates every data key and lets IAM administer it, never use it', () => {
    expect(dataKeys).toHaveLength(4);
    for (const [id, key] of dataKeys) {
      expect(key.Properties.EnableKeyRotation, id).toBe(true);
      for (const statement of statementsOf(id)) {
        const actions = actionsOf(statement);
        expect(actions, id).not.toContain('kms:*');
        const root = JSON.stringify(statement.Principal).includes(':root');
        // The root principal delegates to IAM: use through it is only the deploy role's, through the services.
        if (root && actions.some((action) => USE.test(action)))
          expect(Object.keys(statement.Condition?.ArnEquals ?? {}), `${id} ${statement.Sid}`).toEqual([
            'aws:PrincipalArn',
          ]);
      }
    }
  });

  it('lets a role use a key only through the service its data lives in', () => {
    for (const [id] of dataKeys)
      for (const statement of statementsOf(id)) {
        const principal = statement.Principal as { AWS?: unknown; Service?: unknown };
        if (!principal.AWS || !actionsOf(statement).some((action) => USE.test(action))) continue;
        expect(statement.Condition?.StringEquals?.['kms:ViaService'], `${id} ${statement.Sid}`).toBeDefined();
      }
  });

  it('names exactly the roles that touch the data, and the break-glass role', () => {
    const principalsOf = (keyPrefix: string, via: string, action = 'kms:Decrypt') => {
      const id = logicalIdOf(resources, keyPrefix, 'AWS::KMS::Key');
      return [
        ...new Set(
          statementsOf(id)
            .filter((statement) => JSON.stringify(statement.Condition ?? {}).includes(`${via}.us-east-1`))
            .filter((statement) => actionsOf(statement).includes(action))
            .flatMap((statement) => rolesIn((statement.Principal as { AWS?: unknown }).AWS)),
        ),
      ].sort();
    };
    const table = (prefix: string) => logicalIdOf(resources, prefix, 'AWS::DynamoDB::Table');
    const tableActions = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
    for (const [key, tableId] of [
      ['OrdersKey', table('OrdersTable')],
      ['PaymentsKey', table('PaymentsTable')],
      ['ShippingKey', table('ShippingTable')],
    ] as const) {
      expect(principalsOf(key, 'dynamodb'), key).toEqual(
        [...rolesGranted(resources, tableActions, tableId), BREAK_GLASS].sort(),
      );
      // New ciphertext only for the roles that write.
      expect(principalsOf(key, 'dynamodb', 'kms:GenerateDataKey'), key).toEqual(
        [
          ...rolesGranted(resources, ['dynamodb:PutItem', 'dynamodb:UpdateItem'], tableId),
          BREAK_GLASS,
        ].sort(),
      );
    }

    const requests = logicalIdOf(resources, 'ShippingRequestsQueue', 'AWS::SQS::Queue');
    expect(principalsOf('ShippingKey', 'sqs')).toEqual(
      [
        ...rolesGranted(resources, ['sqs:SendMessage', 'sqs:ReceiveMessage'], requests).filter(
          (role) => role !== BREAK_GLASS,
        ),
        BREAK_GLASS,
      ].sort(),
    );

    const machines = ofType(resources, 'AWS::StepFunctions::StateMachine').map(([id]) => id);
    const machineRoles = machines.flatMap((id) => rolesIn(resources[id]?.Properties.RoleArn));
    // Every role that starts, reads, redrives or answers the saga's executions.
    const callers = new Set<string>();
    for (const [, policy] of ofType(resources, 'AWS::IAM::Policy')) {
      const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
      const touches = statements.some(
        (statement) =>
          actionsOf(statement).some((action) => action.startsWith('states:')) &&
          machines.some((machine) => JSON.stringify(statement.Resource).includes(machine)),
      );
      if (touches) for (const role of policy.Properties.Roles as { Ref: string }[]) callers.add(role.Ref);
    }
    expect(callers.size).toBeGreaterThanOrEqual(4);
    expect(principalsOf('SagaKey', 'states')).toEqual(
      [...new Set([...machineRoles, ...callers, BREAK_GLASS])].sort(),
    );
  });

  it('keeps the keys of kept tables: retained in prod, deleted with the stack in dev', () => {
    const deletionOf = (stage: 'dev' | 'prod') =>
      ofType(resourcesOf(stage), 'AWS::KMS::Key')
        .filter(([id]) => !id.startsWith('Monitoring'))
        .map(([, key]) => key.DeletionPolicy);
    expect(new Set(deletionOf('prod'))).toEqual(new Set(['Retain']));
    expect(new Set(deletionOf('dev'))).toEqual(new Set(['Delete']));
  });
});

describe('internal channels trust only their senders', () => {
  const resources = resourcesOf();
  const policyOf = (queueId: string) => {
    const found = ofType(resources, 'AWS::SQS::QueuePolicy').find(([, policy]) =>
      JSON.stringify(policy.Properties.Queues).includes(`"${queueId}"`),
    );
    return (found?.[1].Properties.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? [];
  };
  /** The principals a Deny of `action` spares: its ArnNotEquals on aws:PrincipalArn; none when it denies all. */
  const sparedFrom = (queueId: string, action: string) => {
    const deny = policyOf(queueId).find(
      (statement) => statement.Effect === 'Deny' && actionsOf(statement).includes(action),
    );
    expect(deny?.Principal, `${queueId} ${action}`).toEqual({ AWS: '*' });
    return rolesIn(deny?.Condition?.ArnNotEquals?.['aws:PrincipalArn']).sort();
  };

  it('denies sending to all but the roles IAM lets send, and receiving to all but the consumer', () => {
    const queues = ofType(resources, 'AWS::SQS::Queue').map(([id]) => id);
    expect(queues).toHaveLength(5);
    for (const queue of queues) {
      // The break-glass role is spared everywhere; every other spared role is one the stack grants the action.
      expect(sparedFrom(queue, 'sqs:SendMessage'), queue).toEqual(
        rolesGranted(resources, ['sqs:SendMessage'], queue),
      );
      expect(sparedFrom(queue, 'sqs:ReceiveMessage'), queue).toEqual(
        rolesGranted(resources, ['sqs:ReceiveMessage'], queue),
      );
      expect(sparedFrom(queue, 'sqs:DeleteMessage'), queue).toEqual(sparedFrom(queue, 'sqs:ReceiveMessage'));
      expect(sparedFrom(queue, 'sqs:PurgeQueue'), queue).toEqual([BREAK_GLASS]);
    }
    const events = logicalIdOf(resources, 'NotificationsOrderEventsQueue', 'AWS::SQS::Queue');
    expect(sparedFrom(events, 'sqs:SendMessage')).toEqual(
      [
        BREAK_GLASS,
        expect.stringMatching(/^OrdersOutboxRelayRole/),
        expect.stringMatching(/^OutboxRepublisher/),
      ].sort(),
    );
    const requests = logicalIdOf(resources, 'ShippingRequestsQueue', 'AWS::SQS::Queue');
    expect(sparedFrom(requests, 'sqs:SendMessage')).toEqual([
      BREAK_GLASS,
      expect.stringMatching(/^OrderSagaStateMachineRole/),
    ]);
    expect(sparedFrom(requests, 'sqs:ReceiveMessage')).toEqual([
      BREAK_GLASS,
      expect.stringMatching(/^ShippingShippingWorkerRole/),
    ]);
  });

  it('leaves the queues manageable by CloudFormation: nothing but message actions is denied beyond TLS', () => {
    for (const [, policy] of ofType(resources, 'AWS::SQS::QueuePolicy'))
      for (const statement of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
        if (statement.Condition?.Bool?.['aws:SecureTransport'] === 'false') continue;
        for (const action of actionsOf(statement))
          expect(action).toMatch(
            /^sqs:(SendMessage|ReceiveMessage|DeleteMessage|ChangeMessageVisibility|PurgeQueue|StartMessageMoveTask|CancelMessageMoveTask)$/,
          );
      }
  });

  it('tells the consumer the role ids of the relay, the republisher and the break-glass role', () => {
    const [, consumer] =
      ofType(resources, 'AWS::Lambda::Function').find(([id]) =>
        id.startsWith('NotificationsNotificationsConsumer'),
      ) ?? [];
    const trusted = (consumer?.Properties.Environment as { Variables: Record<string, unknown> } | undefined)
      ?.Variables?.TRUSTED_SENDER_ROLE_IDS as { 'Fn::Join': [string, { 'Fn::GetAtt': [string, string] }[]] };
    expect(trusted['Fn::Join'][1].map((part) => part['Fn::GetAtt'])).toEqual([
      [expect.stringMatching(/^OrdersOutboxRelayRole/), 'RoleId'],
      [expect.stringMatching(/^OutboxRepublisherOutboxRepublisherFunctionRole/), 'RoleId'],
      [BREAK_GLASS, 'RoleId'],
    ]);
  });

  it('makes the break-glass role assumable within the account with MFA only', () => {
    const trust = resources[BREAK_GLASS]?.Properties.AssumeRolePolicyDocument as { Statement: Statement[] };
    expect(trust.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
      }),
    ]);
    expect(JSON.stringify(trust.Statement[0]?.Principal)).toContain(':root');
  });

  it("without a break-glass role, spares nobody but the channel's own roles, and leaves dead letters to IAM", () => {
    const none = resourcesOf('dev', 'none');
    expect(ofType(none, 'AWS::IAM::Role').map(([id]) => id)).not.toContain(BREAK_GLASS);
    const receiveOf = (queueId: string) => {
      const queue = logicalIdOf(none, queueId, 'AWS::SQS::Queue');
      const policy = ofType(none, 'AWS::SQS::QueuePolicy').find(([, candidate]) =>
        JSON.stringify(candidate.Properties.Queues).includes(queue),
      )?.[1];
      return (
        (policy?.Properties.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? []
      ).find((statement) => actionsOf(statement).includes('sqs:ReceiveMessage'));
    };
    // The requests queue still trusts its consumer alone.
    expect(receiveOf('ShippingRequestsQueue')).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
    expect(JSON.stringify(receiveOf('ShippingRequestsQueue')?.Condition)).toContain('ShippingWorkerRole');
    // Denying its dead letters to everyone would leave them where nobody can look at or redrive them.
    expect(receiveOf('ShippingRequestsDeadLetters')).toBeUndefined();
  });
});

describe('retention', () => {
  it('protects tables from deletion in prod only', () => {
    for (const stage of ['dev', 'prod'] as const)
      for (const [id, table] of ofType(resourcesOf(stage), 'AWS::DynamoDB::Table'))
        expect(table.Properties.DeletionProtectionEnabled, `${stage} ${id}`).toBe(stage === 'prod');
  });

  it("manages the API's execution log group with the stage's retention, created before the stage", () => {
    for (const stage of ['dev', 'prod'] as const) {
      const resources = resourcesOf(stage);
      const [id, group] =
        ofType(resources, 'AWS::Logs::LogGroup').find(([, candidate]) =>
          JSON.stringify(candidate.Properties.LogGroupName ?? '').includes('API-Gateway-Execution-Logs_'),
        ) ?? [];
      expect(group?.Properties.LogGroupName).toEqual({
        'Fn::Join': [
          '',
          ['API-Gateway-Execution-Logs_', { Ref: expect.stringMatching(/^ApiRestApi/) }, '/v1'],
        ],
      });
      expect(group?.Properties.RetentionInDays, stage).toBe(stageConfig(stage).logRetention);
      const [, apiStage] = ofType(resources, 'AWS::ApiGateway::Stage')[0] ?? [];
      expect(apiStage?.DependsOn).toContain(id);
    }
  });

  it("sets API Gateway's account-wide logging role where the stage asks for it", () => {
    expect(ofType(resourcesOf('dev'), 'AWS::ApiGateway::Account')).toHaveLength(1);
    expect(ofType(resourcesOf('prod'), 'AWS::ApiGateway::Account')).toHaveLength(0);
  });
});
