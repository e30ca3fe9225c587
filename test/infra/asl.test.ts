import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { StateDefinition } from '../../lib/saga/definition.js';
import { synthOrderSaga, TEST_ENV } from './synth.js';

interface AslError {
  'Error code': string;
  Message: string;
}
type AslValidator = (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => { isValid: boolean; errors: AslError[] };
// asl-validator 4 is CommonJS without type declarations.
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

const { template, definition, unwind, completion } = synthOrderSaga();
const resources = template.toJSON().Resources as Record<string, { Type: string }>;

const { account, region } = TEST_ENV;
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': region,
  'AWS::AccountId': account,
  'AWS::URLSuffix': 'amazonaws.com',
};
/** What `Ref` and `Fn::GetAtt .Arn` return for each resource type a definition may name. */
const STAND_INS: Record<string, { ref: (id: string) => string; arn?: (id: string) => string }> = {
  'AWS::Lambda::Version': { ref: (id) => `arn:aws:lambda:${region}:${account}:function:${id}:1` },
  'AWS::Lambda::Alias': { ref: (id) => `arn:aws:lambda:${region}:${account}:function:${id}:live` },
  'AWS::Lambda::Function': {
    ref: (id) => id,
    arn: (id) => `arn:aws:lambda:${region}:${account}:function:${id}`,
  },
  'AWS::SQS::Queue': {
    ref: (id) => `https://sqs.${region}.amazonaws.com/${account}/${id}`,
    arn: (id) => `arn:aws:sqs:${region}:${account}:${id}`,
  },
  'AWS::DynamoDB::Table': {
    ref: (id) => id,
    arn: (id) => `arn:aws:dynamodb:${region}:${account}:table/${id}`,
  },
};

function standIn(id: string, attribute?: string): string {
  if (!attribute && PSEUDO[id]) return PSEUDO[id];
  const type = resources[id]?.Type ?? 'unknown';
  const forType = STAND_INS[type];
  const value = attribute === 'Arn' ? forType?.arn?.(id) : attribute ? undefined : forType?.ref(id);
  // A new kind of reference must be given its real shape here, or the ARN check would pass it unseen.
  if (value === undefined)
    throw new Error(`No stand-in for ${attribute ? `${id}.${attribute}` : id} (${type})`);
  return value;
}

/**
 * The definition as Step Functions receives it: CloudFormation resolves every Ref, GetAtt and Join to a string,
 * which the validator checks (ARNs included); left as objects, it would accept them unchecked.
 */
function deployed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deployed);
  if (typeof value !== 'object' || value === null) return value;
  const node = value as Record<string, unknown>;
  if (typeof node.Ref === 'string') return standIn(node.Ref);
  const getAtt = node['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return standIn(getAtt[0], getAtt[1]);
  const join = node['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(deployed).join(join[0]);
  return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, deployed(item)]));
}

const errorsOf = (states: unknown) =>
  aslValidator(deployed(states), { checkPaths: true, checkArn: true }).errors.map(
    (error) => `${error['Error code']}: ${error.Message}`,
  );

describe('the synthesized state machines against the Amazon States Language (asl-validator)', () => {
  it.each([
    ['saga', definition],
    ['unwind', unwind],
    ['completion', completion],
  ])('the %s machine has no errors, paths and ARNs checked', (_, states) => {
    expect(JSON.stringify(deployed(states))).not.toMatch(/"(Ref|Fn::[A-Za-z]+)"/);
    expect(errorsOf(states)).toEqual([]);
  });

  /** A copy of the saga whose first Task with a Catch is changed. */
  const sagaWith = (change: (task: StateDefinition) => unknown) => {
    const broken = structuredClone(definition);
    const task = Object.values(broken.States).find((state) => state.Type === 'Task' && state.Catch);
    if (!task) throw new Error('The saga has no Task with a Catch');
    change(task);
    return broken;
  };

  it.each<[string, (task: StateDefinition) => unknown, RegExp]>([
    [
      'a Resource that is no ARN',
      (task) => Object.assign(task, { Resource: 'reserve-inventory' }),
      /Resource/,
    ],
    [
      'a Catch into a state that does not exist',
      (task) => Object.assign(task, { Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Gone' }] }),
      /MISSING_TRANSITION_TARGET.*Gone/,
    ],
  ])('finds %s in these definitions', (_, change, expected) => {
    expect(errorsOf(sagaWith(change)).join('\n')).toMatch(expected);
  });
});
