import {
  createResolveContext,
  findLocallyUnsupported,
  loadTemplate,
  physicalNames,
  resolveStateMachineDefinition,
  resourcesOfType,
} from '@order-saga/local-cloud';
import { describe, expect, it } from 'vitest';

describe('what the local cloud can run', () => {
  it('runs every state machine of the synthesized stack', () => {
    // The local layer's global setup synthesized cdk.out (or found it fresh) before any test ran.
    const template = loadTemplate('cdk.out/OrderSaga.template.json');
    const names = physicalNames(template, { stackName: 'OrderSaga' });
    const ctx = createResolveContext(names, { stackName: 'OrderSaga', template });
    const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');

    expect(machines.length).toBeGreaterThan(0);
    for (const [logicalId] of machines) {
      expect(
        findLocallyUnsupported(resolveStateMachineDefinition(template, logicalId, ctx)),
        logicalId,
      ).toEqual([]);
    }
  });

  it('flags JSONata, variables, unscaled timeouts, missing context values and unknown integrations', () => {
    const problems = findLocallyUnsupported({
      QueryLanguage: 'JSONata',
      StartAt: 'A',
      States: {
        A: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:putItem',
          Assign: { x: 1 },
          TimeoutSecondsPath: '$.t',
          Next: 'B',
        },
        B: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { 'n.$': '$$.State.EnteredTime', 'f.$': "States.Format('{}', $$.State.RetryCount)" },
          Next: 'C',
        },
        // A whole value of $$.State.RetryCount in a Task's parameters is what the local engine fills in.
        C: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { Payload: { 'attempt.$': '$$.State.RetryCount' } },
          End: true,
        },
      },
    });
    expect(problems).toEqual([
      'definition: JSONata is silently mis-run by the local engine',
      'A: variables (Assign) are not supported locally',
      'A: TimeoutSecondsPath is not time-scaled locally',
      'A: resource arn:aws:states:::dynamodb:putItem has no local integration',
      'B: context value $$.State.EnteredTime is not available locally',
      'B: context value $$.State.RetryCount is not available locally',
    ]);
  });
});
