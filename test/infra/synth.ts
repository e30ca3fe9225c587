import { readFileSync } from 'node:fs';
import { App, type Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OrderSagaStack, type OrderSagaStackProps } from '../../lib/order-saga-stack.js';
import { renderDefinition, type StatesDefinition } from '../../lib/saga/definition.js';
import { type StageName, stageConfig } from '../../lib/stages.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

/**
 * The app as `cdk synth` builds it, with cdk.json's feature flags, so tests read the template that deploys.
 * Template tests read structure, not bundles: skipping esbuild makes a synth take a fraction of the time.
 */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context } });
}

export const TEST_ENV = { account: '111111111111', region: 'us-east-1' };

/**
 * The stack synthesized alone. With `stage`, it is that stage's stack as `cdk synth -c stage=<name>` builds
 * it (its name, so its physical names, and its configuration); without, a test stack of the default stage.
 * With `nag`, the synth runs the cdk-nag AwsSolutions checks as `cdk synth` does, and throws on a finding.
 */
export function synthOrderSaga(
  props: OrderSagaStackProps = {},
  options: { stage?: StageName; context?: Record<string, unknown>; nag?: boolean } = {},
): {
  stack: OrderSagaStack;
  template: Template;
  definition: StatesDefinition;
  unwind: StatesDefinition;
  completion: StatesDefinition;
} {
  const stage = options.stage ? stageConfig(options.stage) : undefined;
  const app = testApp(options.context);
  const stack = new OrderSagaStack(app, stage?.stackName ?? 'OrderSagaTest', {
    env: TEST_ENV,
    stage,
    ...props,
  });
  return {
    stack,
    template: options.nag ? nagCheckedTemplate(app, stack) : Template.fromStack(stack),
    definition: definitionOf(stack),
    unwind: definitionOf(stack, 'UnwindStateMachine'),
    completion: definitionOf(stack, 'CompletionStateMachine'),
  };
}

function nagCheckedTemplate(app: App, stack: Stack): Template {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return Template.fromJSON(app.synth().getStackByName(stack.stackName).template);
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
