import { describe, expect, it } from 'vitest';
import { synthOrderSaga } from './synth.js';

type Resource = { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string };

const templates = {
  dev: synthOrderSaga({}, { stage: 'dev' }).template.toJSON(),
  prod: synthOrderSaga({}, { stage: 'prod' }).template.toJSON(),
};

const resourcesOf = (stage: keyof typeof templates) =>
  Object.entries(templates[stage].Resources as Record<string, Resource>);

describe('the order-id key', () => {
  it('is one generated secret, never rotated, kept after the stack in prod', () => {
    for (const stage of ['dev', 'prod'] as const) {
      const secrets = resourcesOf(stage).filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret');
      expect(secrets).toHaveLength(1);
      expect(secrets[0]?.[1].Properties?.GenerateSecretString).toMatchObject({
        PasswordLength: 64,
        ExcludePunctuation: true,
      });
    }
    expect(resourcesOf('dev').some(([, r]) => r.Type === 'AWS::SecretsManager::RotationSchedule')).toBe(
      false,
    );
    const [, prodSecret] =
      resourcesOf('prod').find(([, r]) => r.Type === 'AWS::SecretsManager::Secret') ?? [];
    expect(prodSecret?.DeletionPolicy).toBe('Retain');
  });

  it('is read by the orders API function alone, with GetSecretValue only', () => {
    const [secretId] = resourcesOf('dev').find(([, r]) => r.Type === 'AWS::SecretsManager::Secret') ?? [];
    const readers = resourcesOf('dev')
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
      .flatMap(([, r]) => {
        const document = r.Properties?.PolicyDocument as {
          Statement: { Action: string | string[]; Resource: unknown }[];
        };
        return document.Statement.filter((statement) =>
          JSON.stringify(statement).includes('secretsmanager:'),
        ).map((statement) => ({
          roles: r.Properties?.Roles,
          actions: [statement.Action].flat(),
          resource: statement.Resource,
        }));
      });
    expect(readers).toHaveLength(1);
    expect(readers[0]?.actions).toEqual(['secretsmanager:GetSecretValue']);
    expect(readers[0]?.resource).toEqual({ Ref: secretId });
    expect(JSON.stringify(readers[0]?.roles)).toContain('OrdersApiFunctionRole');
  });

  it('is named to the function by ORDER_ID_KEY_SECRET_ARN', () => {
    const [secretId] = resourcesOf('dev').find(([, r]) => r.Type === 'AWS::SecretsManager::Secret') ?? [];
    const [, fn] =
      resourcesOf('dev').find(
        ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.includes('OrdersApiFunction'),
      ) ?? [];
    const environment = fn?.Properties?.Environment as { Variables: Record<string, unknown> } | undefined;
    expect(environment?.Variables.ORDER_ID_KEY_SECRET_ARN).toEqual({ Ref: secretId });
  });
});
