import type { IAspect } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import { renderDefinition, type StatesDefinition } from './definition.js';

/**
 * What every state machine in this app must satisfy: each Task bounded by a timeout, retried and caught,
 * and JSONPath only. The local engine runs JSONata and variables silently wrong, and a Task without a
 * timeout, retry or catch is how sagas hang or fail without compensating.
 */
export function findDefinitionViolations(definition: StatesDefinition, scope = ''): string[] {
  const violations: string[] = [];
  if (definition.QueryLanguage === 'JSONata') violations.push(`${scope || 'definition'}: uses JSONata`);
  for (const [name, state] of Object.entries(definition.States)) {
    const where = scope ? `${scope}/${name}` : name;
    if (state.QueryLanguage === 'JSONata') violations.push(`${where}: uses JSONata`);
    for (const field of ['Assign', 'Arguments', 'Output'] as const) {
      if (state[field] !== undefined) violations.push(`${where}: uses ${field} (variables or JSONata)`);
    }
    if (state.Type === 'Task') {
      if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
        violations.push(`${where}: Task has no TimeoutSeconds`);
      }
      if (!state.Retry?.length) violations.push(`${where}: Task has no Retry`);
      if (!state.Catch?.length) violations.push(`${where}: Task has no Catch`);
    }
    const nested = [...(state.Branches ?? []), state.ItemProcessor, state.Iterator];
    for (const child of nested) {
      if (child) violations.push(...findDefinitionViolations(child, where));
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
