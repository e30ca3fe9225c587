import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OrderSagaStack } from '../lib/order-saga-stack.js';
import { STAGE_CONTEXT_KEY, type StageConfig, stageConfig } from '../lib/stages.js';

const app = new App();
// One stage per synth: the local cloud and `cdk deploy` each find exactly the stack they mean.
let stage: StageConfig;
try {
  stage = stageConfig(app.node.tryGetContext(STAGE_CONTEXT_KEY) ?? undefined);
} catch (error) {
  // The message is the whole story (which stages exist); a stack trace into the app would bury it.
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
new OrderSagaStack(app, stage.stackName, {
  stage,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Tags.of(app).add('project', 'order-saga');
Tags.of(app).add('stage', stage.name);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
