import { Aspects, Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { describe, expect, it } from 'vitest';
import { findDefinitionViolations, StateMachineGuardrails } from '../../lib/saga/guardrails.js';
import { synthOrderSaga, testApp } from './synth.js';

function guardedStack() {
  const app = testApp();
  const stack = new Stack(app, 'Guarded');
  Aspects.of(stack).add(new StateMachineGuardrails());
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  return { app, stack, fn };
}

describe('state machine guardrails', () => {
  it('fail synth for a Task without timeout, retry or catch', () => {
    const { app, stack, fn } = guardedStack();
    const bare = new tasks.LambdaInvoke(stack, 'Bare', {
      lambdaFunction: fn,
      retryOnServiceExceptions: false,
    });
    new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(bare) });

    expect(() => app.synth()).toThrow(
      /Bare: Task has no TimeoutSeconds[\s\S]*Bare: Task has no Retry[\s\S]*Bare: Task has no Catch/,
    );
  });

  it('fail synth for a JSONata state machine', () => {
    const { app, stack, fn } = guardedStack();
    const failed = new sfn.Fail(stack, 'Failed');
    const invoke = tasks.LambdaInvoke.jsonata(stack, 'Invoke', {
      lambdaFunction: fn,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(5)),
    });
    invoke.addRetry({ errors: ['States.ALL'] }).addCatch(failed);
    new sfn.StateMachine(stack, 'Machine', {
      queryLanguage: sfn.QueryLanguage.JSONATA,
      definitionBody: sfn.DefinitionBody.fromChainable(invoke),
    });

    expect(() => app.synth()).toThrow(/Saga guardrail: definition: uses JSONata/);
  });

  it('find variables and nested violations inside Parallel branches', () => {
    const violations = findDefinitionViolations({
      StartAt: 'P',
      States: {
        P: {
          Type: 'Parallel',
          End: true,
          Branches: [
            { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'x', End: true, Assign: { a: 1 } } } },
          ],
        },
      },
    });
    expect(violations).toEqual([
      'P/T: uses Assign (variables or JSONata)',
      'P/T: Task has no TimeoutSeconds',
      'P/T: Task has no Retry',
      'P/T: Task has no Catch',
    ]);
  });

  it('find nothing wrong with the order saga', () => {
    expect(findDefinitionViolations(synthOrderSaga().definition)).toEqual([]);
  });
});
