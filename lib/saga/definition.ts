import { Stack } from 'aws-cdk-lib';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { joinedText } from '../platform/cfn-join.js';

/** An Amazon States Language document, loosely typed: it is read, never built, through this type. */
export interface StatesDefinition {
  QueryLanguage?: string;
  StartAt: string;
  States: Record<string, StateDefinition>;
  TimeoutSeconds?: number;
}

export interface CatcherDefinition {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

export interface RetrierDefinition {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}

export interface StateDefinition {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: unknown;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  HeartbeatSeconds?: number;
  Retry?: RetrierDefinition[];
  Catch?: CatcherDefinition[];
  QueryLanguage?: string;
  Assign?: unknown;
  Arguments?: unknown;
  Output?: unknown;
  Branches?: StatesDefinition[];
  ItemProcessor?: StatesDefinition;
  Iterator?: StatesDefinition;
  [field: string]: unknown;
}

/** Marks where a CloudFormation reference sat in the definition text while it is parsed as JSON. */
const TOKEN_MARK = /@@token:(\d+)@@/g;

/**
 * Renders a state machine's definition as JSON, each CloudFormation reference (a function's ARN, a queue's
 * URL) in place as the `{ Ref }` or `{ Fn::GetAtt }` it is, so checks can read which resource each state
 * uses, the way aws-cdk's own state-graph tests do.
 */
export function renderDefinition(machine: sfn.CfnStateMachine): StatesDefinition {
  const resolved: unknown = Stack.of(machine).resolve(machine.definitionString);
  if (typeof resolved === 'string') return JSON.parse(resolved) as StatesDefinition;
  const references: unknown[] = [];
  const text = joinedText(resolved, (part) =>
    typeof part === 'string' ? part : `@@token:${references.push(part) - 1}@@`,
  );
  if (text === undefined) throw new Error('State machine definition is neither a string nor an Fn::Join');
  return withReferences(JSON.parse(text), references) as StatesDefinition;
}

function withReferences(value: unknown, references: unknown[]): unknown {
  if (typeof value === 'string') {
    const pieces = value
      .split(TOKEN_MARK)
      .map((piece, index) => (index % 2 === 1 ? references[Number(piece)] : piece));
    if (pieces.length === 1) return value;
    const nonEmpty = pieces.filter((piece) => piece !== '');
    // A reference standing alone is the reference itself; one inside text stays a join, as CloudFormation has it.
    return nonEmpty.length === 1 ? nonEmpty[0] : { 'Fn::Join': ['', nonEmpty] };
  }
  if (Array.isArray(value)) return value.map((item) => withReferences(item, references));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, withReferences(item, references)]),
    );
  }
  return value;
}
