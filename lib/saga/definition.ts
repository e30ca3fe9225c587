import { Stack } from 'aws-cdk-lib';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';

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

/** Stands in for a token (an ARN, a name) so the rendered definition is plain JSON. */
export const TOKEN_PLACEHOLDER = 'TOKEN';

/**
 * Renders a state machine's definition as JSON. CloudFormation references inside it (function ARNs,
 * queue URLs) become a placeholder: structure, names and policies are what the checks read.
 */
export function renderDefinition(machine: sfn.CfnStateMachine): StatesDefinition {
  const resolved: unknown = Stack.of(machine).resolve(machine.definitionString);
  return JSON.parse(joinResolved(resolved)) as StatesDefinition;
}

function joinResolved(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'Fn::Join' in value) {
    const [separator, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map((part) => (typeof part === 'string' ? part : TOKEN_PLACEHOLDER)).join(separator);
  }
  throw new Error('State machine definition is neither a string nor an Fn::Join');
}
