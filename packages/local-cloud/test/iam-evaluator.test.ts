import { describe, expect, it } from 'vitest';
import { type IamPolicy, isAllowed } from '../src/iam/evaluator.js';

const table = 'arn:aws:dynamodb:us-east-1:000000000000:table/Payments';
const machine = 'arn:aws:states:us-east-1:000000000000:stateMachine:Saga';
const fn = 'arn:aws:lambda:us-east-1:000000000000:function:Charge';

const policies: IamPolicy[] = [
  {
    name: 'Default',
    document: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: table },
        { Sid: 'Invoke', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [fn, `${fn}:*`] },
        {
          Effect: 'Allow',
          Action: 'states:StartExecution',
          Resource: machine,
          Condition: { 'ForAnyValue:StringEquals': { 'states:StateMachineQualifier': ['live'] } },
        },
      ],
    },
  },
  {
    name: 'Guard',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Action: 'dynamodb:PutItem',
          Resource: table,
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    },
  },
];

describe('isAllowed', () => {
  it('allows a granted action on its resource and names the statement that granted it', async () => {
    const answer = await isAllowed({ policies, action: 'dynamodb:PutItem', resource: table });
    expect(answer).toEqual({
      allowed: true,
      decision: 'Allowed',
      matchedStatements: [{ policy: 'Default', index: 0, effect: 'Allow' }],
    });
  });

  it('denies implicitly an action that is not granted, or a granted one on another resource', async () => {
    expect(await isAllowed({ policies, action: 'dynamodb:DeleteItem', resource: table })).toMatchObject({
      allowed: false,
      decision: 'ImplicitlyDenied',
      matchedStatements: [],
    });
    const other = await isAllowed({ policies, action: 'dynamodb:PutItem', resource: `${table}2` });
    expect(other.allowed).toBe(false);
  });

  it('lets an explicit Deny win over an Allow', async () => {
    const answer = await isAllowed({
      policies,
      action: 'dynamodb:PutItem',
      resource: table,
      context: { 'aws:SecureTransport': 'false' },
    });
    expect(answer).toMatchObject({
      allowed: false,
      decision: 'ExplicitlyDenied',
      matchedStatements: [{ policy: 'Guard', index: 0, effect: 'Deny' }],
    });
  });

  it('covers a published version or alias of a function with the `:*` resource', async () => {
    for (const qualified of [`${fn}:7`, `${fn}:live`]) {
      const answer = await isAllowed({ policies, action: 'lambda:InvokeFunction', resource: qualified });
      expect(answer.matchedStatements).toEqual([
        { policy: 'Default', index: 1, sid: 'Invoke', effect: 'Allow' },
      ]);
    }
    const other = await isAllowed({ policies, action: 'lambda:InvokeFunction', resource: `${fn}Other:7` });
    expect(other.allowed).toBe(false);
  });

  it('reads array-valued condition keys such as states:StateMachineQualifier', async () => {
    const live = await isAllowed({
      policies,
      action: 'states:StartExecution',
      resource: machine,
      context: { 'states:StateMachineQualifier': ['live'] },
    });
    expect(live.allowed).toBe(true);
    const unqualified = await isAllowed({ policies, action: 'states:StartExecution', resource: machine });
    expect(unqualified.allowed).toBe(false);
  });

  it('refuses a malformed policy loudly instead of treating it as a denial', async () => {
    await expect(
      isAllowed({
        policies: [
          { name: 'Broken', document: { Statement: [{ Effect: 'Maybe', Action: 'x:Y', Resource: '*' }] } },
        ],
        action: 'dynamodb:GetItem',
        resource: table,
      }),
    ).rejects.toThrow(/IAM simulation/);
  });
});
