import { type FaultTargetEntry, LAMBDA_FAULT_MODES } from '../faults.js';
import type { FunctionLogs } from '../function-logs.js';
import {
  createLambdaRunner,
  type EmulatorEndpoints,
  emulatorEnvironment,
  type LambdaRunner,
  lambdaFunctionsFromTemplate,
} from '../lambda-runner.js';
import type { MetricTotals } from '../metrics.js';
import {
  type CfnTemplate,
  constructIdOf,
  type PhysicalNames,
  type ResolveContext,
  resourcesOfType,
} from '../template.js';
import type { Tracer } from '../trace.js';

/** Each function's construct id by function name ('ShippingWorker'), what faults target and the trace shows. */
export function functionConstructIds(template: CfnTemplate, names: PhysicalNames): Map<string, string> {
  const ids = new Map<string, string>();
  for (const [logicalId] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const functionName = names[logicalId]?.ref;
    if (functionName) ids.set(functionName, constructIdOf(template, logicalId));
  }
  return ids;
}

/** Every function by construct id, function name and logical id: what the invoker matches Lambda faults on. */
export function functionFaultTargets(template: CfnTemplate, names: PhysicalNames): FaultTargetEntry[] {
  return resourcesOfType(template, 'AWS::Lambda::Function').flatMap(([logicalId]) =>
    [constructIdOf(template, logicalId), names[logicalId]?.ref, logicalId]
      .filter((target): target is string => typeof target === 'string' && target !== '')
      .map((target) => ({ target, modes: LAMBDA_FAULT_MODES })),
  );
}

export function createFunctionRunner(
  tracer: Tracer,
  labels: Map<string, string>,
  endpoints: EmulatorEndpoints,
  timeScale: number | undefined,
  maxWorkersPerFunction?: number,
  output?: { metrics: MetricTotals; logs: FunctionLogs },
): LambdaRunner {
  return createLambdaRunner({
    timeScale,
    maxWorkersPerFunction,
    baseEnvironment: emulatorEnvironment(endpoints),
    // Handlers log JSON lines; their warnings and errors get a line each, unless the trace already tells it.
    // Every line is also kept and read for metrics, as CloudWatch Logs does with what a function prints.
    onLog: (functionName, _stream, line) => {
      const constructId = labels.get(functionName) ?? functionName;
      tracer.handlerLog(constructId, line);
      output?.logs.add(constructId, line);
      output?.metrics.record(line);
    },
  });
}

/** Registers every function of the template, from its bundle in cdk.out, with the runner. */
export function registerFunctions(
  runner: LambdaRunner,
  template: CfnTemplate,
  ctx: ResolveContext,
  cdkOutDir: string,
  timeScale: number | undefined,
): void {
  for (const config of lambdaFunctionsFromTemplate(template, ctx, { cdkOutDir, timeScale }))
    runner.register(config);
}
