import type { SQSClient } from '@aws-sdk/client-sqs';
import { withCallbackFaults } from '../callback-faults.js';
import {
  CALLBACK_FAULT_MODES,
  type FaultRegistry,
  type FaultTargetEntry,
  LAMBDA_FAULT_MODES,
} from '../faults.js';
import type { IamEnforcement } from '../iam/enforcement.js';
import type { FaultInjectingInvoker } from '../invoker.js';
import type { StepFunctionsApi } from '../sfn-api.js';
import type { TaskStateInfo } from '../stepfunctions/definition.js';
import { WAIT_FOR_TASK_TOKEN_SUFFIX } from '../stepfunctions/definition.js';
import {
  createLocalStateMachine,
  prepareDefinition,
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

const SQS_SEND_MESSAGE = 'arn:aws:states:::sqs:sendMessage';

/**
 * The faults each Task state of a definition (nested ones included) can take, by how it is served: through the
 * Lambda invoker, or as an SQS callback (withCallbackFaults). Other tasks (a plain sqs:sendMessage) take none.
 */
export function taskFaultTargets(definition: Record<string, unknown>): FaultTargetEntry[] {
  const taskStates = new Map<string, TaskStateInfo>();
  prepareDefinition(definition, 1, taskStates);
  return [...taskStates].flatMap(([stateName, { resource }]): FaultTargetEntry[] => {
    if (resource === `${SQS_SEND_MESSAGE}${WAIT_FOR_TASK_TOKEN_SUFFIX}`)
      return [{ target: stateName, modes: CALLBACK_FAULT_MODES }];
    if (/^arn:[^:]+:(lambda:|states:::lambda:invoke)/.test(resource))
      return [{ target: stateName, modes: LAMBDA_FAULT_MODES }];
    return [];
  });
}

/**
 * Builds every state machine of the template on the local engine and adds it to the Step Functions API;
 * returns the fault targets their Task states offer.
 */
export async function registerStateMachines(
  sfnApi: StepFunctionsApi,
  from: {
    template: CfnTemplate;
    names: PhysicalNames;
    ctx: ResolveContext;
    timeScale: number | undefined;
    invoker: FaultInjectingInvoker;
    /** A client signed as this state machine (by construct id), so its own calls are known as its own. */
    sqsClientFor: (stateMachine: string) => SQSClient;
    taskTokens: TaskTokenRegistry;
    tracer: Tracer;
    faults: FaultRegistry;
    /** Authorizes each machine's Lambda invokes against its role. */
    iam?: IamEnforcement;
  },
): Promise<FaultTargetEntry[]> {
  const { template, names, ctx, invoker, sqsClientFor, taskTokens, tracer, faults } = from;
  const targets: FaultTargetEntry[] = [];
  for (const [logicalId] of resourcesOfType(template, 'AWS::StepFunctions::StateMachine')) {
    const arn = names[logicalId]?.ref;
    if (!arn) throw new Error(`No local ARN for state machine ${logicalId}`);
    const definition = resolveStateMachineDefinition(template, logicalId, ctx);
    const unsupported = findLocallyUnsupported(definition);
    if (unsupported.length > 0)
      throw new Error(`State machine ${logicalId} cannot run locally:\n  ${unsupported.join('\n  ')}`);
    const label = constructIdOf(template, logicalId);
    const sendMessage = withCallbackFaults(sqsSendMessageIntegration(sqsClientFor(label)), {
      faults,
      tracer,
      taskTokens,
    });
    sfnApi.addStateMachine(
      await createLocalStateMachine({
        definition,
        stateMachineArn: arn,
        timeScale: from.timeScale,
        lambda: from.iam ? from.iam.invokerFor(label, invoker) : invoker,
        integrations: { [SQS_SEND_MESSAGE]: sendMessage },
        taskTokens,
        onHistoryEvent: traceExecutions(tracer, label),
      }),
    );
    targets.push(...taskFaultTargets(definition));
  }
  for (const { qualified } of Object.values(names))
    if (qualified?.arn.includes(':stateMachine:')) sfnApi.addQualifiedName(qualified);
  return targets;
}
