import { Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { OrderSagaStack } from '../../lib/order-saga-stack.js';
import { TEST_ENV, testApp } from './synth.js';

function nagCheckedStack() {
  const app = testApp();
  const stack = new OrderSagaStack(app, 'OrderSagaNag', { env: TEST_ENV });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

describe('cdk-nag AwsSolutions', () => {
  it('passes the real stack with no unacknowledged finding', () => {
    const { app } = nagCheckedStack();
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth when a finding is not acknowledged (the gate is live)', () => {
    const { app, stack } = nagCheckedStack();
    new sqs.Queue(stack, 'UnencryptedQueueWithoutDlq');
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });

  it('gives every acknowledgement a real reason and scopes IAM ones to one finding', () => {
    const { stack } = nagCheckedStack();
    const acknowledgements = stack.node
      .findAll()
      .flatMap((construct) =>
        construct.node.metadata.filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY),
      )
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));

    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgements) {
      expect(id).toMatch(/^(Annotation::)?AwsSolutions-[A-Z0-9]+/);
      // IAM rules report one finding per policy entry: a bare rule id would silence every future one.
      if (/AwsSolutions-IAM[45]/.test(id)) expect(id).toMatch(/\[(Resource|Policy|Action)::.+\]$/);
      expect(reason.length, id).toBeGreaterThan(40);
    }
  });
});
