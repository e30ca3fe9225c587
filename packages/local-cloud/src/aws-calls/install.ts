import type { FaultRegistry } from '../faults.js';
import type { IamEnforcement, IamPrincipal } from '../iam/enforcement.js';
import type { LambdaRunner } from '../lambda-runner.js';
import type { CfnTemplate, PhysicalNames } from '../template.js';
import type { Tracer } from '../trace.js';
import type { AwsCallHook } from './http-front.js';
import { type AwsCaller, AwsCallInterceptor } from './interceptor.js';
import { interceptedResources } from './resources.js';
import { SenderIds, type SendObserver } from './sender-ids.js';

/** Keys of the state machines' own integrations (an SQS callback step's message), by access key id. */
export type StateMachineCallers = ReadonlyMap<string, string>;

let stateMachineKeys = 0;
/** A dummy access key for one state machine's calls, shaped like the sandboxes' (see LambdaRunner.callerOf). */
export function nextStateMachineAccessKeyId(): string {
  stateMachineKeys += 1;
  return `ASIALOCALSM${String(stateMachineKeys).padStart(9, '0')}`;
}

/**
 * Puts one interception layer in front of every emulator the functions and state machines call: it learns the
 * caller from the access key, registers every AWS-call fault target in the registry, and returns the hook each
 * front (DynamoDB proxy, SQS proxy, Step Functions API) applies.
 */
export function interceptAwsCalls(from: {
  template: CfnTemplate;
  names: PhysicalNames;
  faults: FaultRegistry;
  runner: LambdaRunner;
  /** Construct ids by function name, as the trace shows functions. */
  functionLabels: ReadonlyMap<string, string>;
  stateMachineCallers: StateMachineCallers;
  tracer: Tracer;
  fronts: { interceptWith(hook: AwsCallHook): void }[];
  /** Checks each call against its caller's role first; a denied call gets AccessDenied and takes no fault. */
  iam?: IamEnforcement;
  /** The SQS front, which reports each message sent so that its receivers learn who sent it. */
  sqsFront?: { observeSends(observer: SendObserver): void };
}): { interceptor: AwsCallInterceptor; hook: AwsCallHook; senderIds: SenderIds } {
  const { runner, functionLabels, stateMachineCallers, tracer, faults } = from;
  const callerOf = (accessKeyId: string): AwsCaller | undefined => {
    const sandbox = runner.callerOf(accessKeyId);
    if (sandbox) {
      return {
        label: functionLabels.get(sandbox.functionName) ?? sandbox.functionName,
        correlationId: sandbox.event === undefined ? undefined : tracer.correlationIdOf(sandbox.event),
      };
    }
    const machine = stateMachineCallers.get(accessKeyId);
    return machine ? { label: machine } : undefined;
  };
  const interceptor = new AwsCallInterceptor({
    resources: interceptedResources(from.template, from.names),
    callerOf,
    takeFault: (targets, correlationId, modes) => faults.take(targets, correlationId, modes),
    correlationIdOf: tracer.correlationIdOf,
    onFault: (caller, target, mode) => tracer.fault(caller.correlationId, `${caller.label} ${target}`, mode),
  });
  faults.addTargets(interceptor.targets());
  const principalOf = (accessKeyId: string | undefined): IamPrincipal | undefined => {
    if (!accessKeyId) return undefined;
    const sandbox = runner.callerOf(accessKeyId);
    if (sandbox) return { kind: 'function', name: sandbox.functionName };
    const machine = stateMachineCallers.get(accessKeyId);
    return machine ? { kind: 'stateMachine', label: machine } : undefined;
  };
  const senderIds = new SenderIds(from.template, from.names);
  from.sqsFront?.observeSends(
    senderIds.observer((accessKeyId) => {
      const principal = principalOf(accessKeyId);
      return principal && senderIds.senderOf(principal);
    }),
  );
  const { iam } = from;
  const hook: AwsCallHook = iam
    ? async (call) => {
        const principal = principalOf(call.accessKeyId);
        return (principal && (await iam.answerFor(call, principal))) || interceptor.intercept(call);
      }
    : (call) => interceptor.intercept(call);
  for (const front of from.fronts) front.interceptWith(hook);
  return { interceptor, hook, senderIds };
}
