import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FaultInjectingInvoker } from '../invoker.js';
import type { StepFunctionsApi } from '../sfn-api.js';
import {
  createLocalStateMachine,
  sqsSendMessageIntegration,
  type TaskTokenRegistry,
} from '../stepfunctions-engine.js';
import {
  type CfnTemplate,
  constructIdOf,
  type PhysicalNames,
  type ResolveContext,
  resolveStateMachineDefinition,
  resourcesOfType,
} from '../template.js';
import { type Tracer, traceExecutions } from '../trace.js';
import { findLocallyUnsupported } from '../unsupported-features.js';

/** Builds every state machine of the template on the local engine and adds it to the Step Functions API. */
export async function registerStateMachines(
  sfnApi: StepFunctionsApi,
  from: {
    template: CfnTemplate;
    names: PhysicalNames;
    ctx: ResolveContext;
    timeScale: number | undefined;
    invoker: FaultInjectingInvoker;
    sqsClient: SQSClient;
    taskTokens: TaskTokenRegistry;
    tracer: Tracer;
  },
): Promise<void> {
  const { template, names, ctx, invoker, sqsClient, taskTokens, tracer } = from;
  for (const [logicalId] of resourcesOfType(template, 'AWS::StepFunctions::StateMachine')) {
    const arn = names[logicalId]?.ref;
    if (!arn) throw new Error(`No local ARN for state machine ${logicalId}`);
    const definition = resolveStateMachineDefinition(template, logicalId, ctx);
    const unsupported = findLocallyUnsupported(definition);
    if (unsupported.length > 0)
      throw new Error(`State machine ${logicalId} cannot run locally:\n  ${unsupported.join('\n  ')}`);
    sfnApi.addStateMachine(
      await createLocalStateMachine({
        definition,
        stateMachineArn: arn,
        timeScale: from.timeScale,
        lambda: invoker,
        integrations: { 'arn:aws:states:::sqs:sendMessage': sqsSendMessageIntegration(sqsClient) },
        taskTokens,
        onHistoryEvent: traceExecutions(tracer, constructIdOf(template, logicalId)),
      }),
    );
  }
}
