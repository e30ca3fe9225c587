import { findJsonataAndVariables } from '@order-saga/local-cloud/query-language';
import type { IAspect } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import { renderDefinition, type StatesDefinition } from './definition.js';

/**
 * What every state machine in this app must satisfy: each Task bounded by a timeout, retried and caught,
 * and JSONPath only. The local engine runs JSONata and variables silently wrong, and a Task without a
 * timeout, retry or catch is how sagas hang or fail without compensating.
 */
export function findDefinitionViolations(definition: StatesDefinition): string[] {
  return [
    // The local cloud's own check: what it refuses to run is what synth refuses to build.
    ...findJsonataAndVariables(definition).map(({ where, feature }) =>
      feature === 'JSONata' ? `${where}: uses JSONata` : `${where}: uses ${feature} (variables or JSONata)`,
    ),
    ...findUnboundedTasks(definition),
  ];
}

/** Tasks without a timeout, a retry or a catch, nested states included. */
function findUnboundedTasks(definition: StatesDefinition, scope = ''): string[] {
  const violations: string[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    const where = scope ? `${scope}/${name}` : name;
    if (state.Type === 'Task') {
      if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
        violations.push(`${where}: Task has no TimeoutSeconds`);
      }
      if (!state.Retry?.length) violations.push(`${where}: Task has no Retry`);
      if (!state.Catch?.length) violations.push(`${where}: Task has no Catch`);
    }
    const nested = [...(state.Branches ?? []), state.ItemProcessor, state.Iterator];
    for (const child of nested) {
      if (child) violations.push(...findUnboundedTasks(child, where));
    }
  }
  return violations;
}

/** Fails synth (as a construct validation) when a state machine breaks the rules above. */
export class StateMachineGuardrails implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof sfn.CfnStateMachine)) return;
    node.node.addValidation({
      validate: () =>
        findDefinitionViolations(renderDefinition(node)).map((violation) => `Saga guardrail: ${violation}`),
    });
  }
}
