import { readFileSync } from 'node:fs';
import { App, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { OrderSagaStack, type OrderSagaStackProps } from '../../lib/order-saga-stack.js';
import { renderDefinition, type StatesDefinition } from '../../lib/saga/definition.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

/**
 * The app as `cdk synth` builds it, with cdk.json's feature flags, so tests read the template that deploys.
 * Template tests read structure, not bundles: skipping esbuild makes a synth take a fraction of the time.
 */
export function testApp(): App {
  return new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
}

export const TEST_ENV = { account: '111111111111', region: 'us-east-1' };

export function synthOrderSaga(props: OrderSagaStackProps = {}): {
  stack: OrderSagaStack;
  template: Template;
  definition: StatesDefinition;
  unwind: StatesDefinition;
  completion: StatesDefinition;
} {
  const stack = new OrderSagaStack(testApp(), 'OrderSagaTest', { env: TEST_ENV, ...props });
  return {
    stack,
    template: Template.fromStack(stack),
    definition: definitionOf(stack),
    unwind: definitionOf(stack, 'UnwindStateMachine'),
    completion: definitionOf(stack, 'CompletionStateMachine'),
  };
}

/** Which of a Saga's machines: the saga itself, the operator's unwind, or the operator's completion. */
export type SagaMachineId = 'StateMachine' | 'UnwindStateMachine' | 'CompletionStateMachine';

export function definitionOf(stack: Stack, machineId: SagaMachineId = 'StateMachine'): StatesDefinition {
  const machines = stack.node
    .findAll()
    .filter((node) => node instanceof sfn.CfnStateMachine && node.node.scope?.node.id === machineId);
  const [machine] = machines;
  if (!machine || machines.length !== 1)
    throw new Error(`Expected one ${machineId}, found ${machines.length}`);
  return renderDefinition(machine as sfn.CfnStateMachine);
}

/** Follows Next from a state to a terminal state, returning the names visited after it. */
export function pathFrom(definition: StatesDefinition, start: string): string[] {
  const visited: string[] = [];
  let current: string | undefined = start;
  while (current) {
    visited.push(current);
    if (visited.length > Object.keys(definition.States).length) throw new Error(`Cycle through ${current}`);
    current = definition.States[current]?.Next;
  }
  return visited;
}

/** The state a failure of `stateName` is caught into. */
export function catchTarget(definition: StatesDefinition, stateName: string): string | undefined {
  const catchers = definition.States[stateName]?.Catch ?? [];
  return catchers.find((catcher) => catcher.ErrorEquals.includes('States.ALL'))?.Next;
}
