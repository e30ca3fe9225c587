import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OrderSagaStack } from '../lib/order-saga-stack.js';

const app = new App();
new OrderSagaStack(app, 'OrderSaga', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Tags.of(app).add('project', 'order-saga');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
