/**
 * Which published versions a stage may lose. A version stays while anything can still run it: an alias routes to
 * it, it is a recent rollback target, or an execution that is running or may still be redriven runs its
 * definition (and so the Lambda versions that definition names). Everything else is only storage.
 */

/** A published state machine version and the definition it froze. */
export interface MachineVersion {
  arn: string;
  created: Date;
  definition: string;
}

export interface MachineFacts {
  arn: string;
  versions: MachineVersion[];
  /** Version ARNs the machine's aliases route to, at any weight. */
  aliasTargets: string[];
}

export interface FunctionFacts {
  /** The unqualified function ARN. */
  arn: string;
  /** Published version numbers (`$LATEST` excluded). */
  versions: string[];
  /** Version numbers the function's aliases route to, at any weight. */
  aliasTargets: string[];
}

/** An execution that can still run a task: RUNNING, or closed and still redrivable. */
export interface ReachableExecution {
  executionArn: string;
  /** The version it runs, when it was started through a version or an alias. */
  versionArn?: string;
  /** The definition it runs. */
  definition: string;
}

export interface PruneFacts {
  machines: MachineFacts[];
  functions: FunctionFacts[];
  reachable: ReachableExecution[];
  /** Versions kept behind the newest one of each machine, as rollback targets. */
  keepPrevious: number;
}

export interface PrunePlan {
  /** Why each kept version stays, by version ARN. */
  kept: Map<string, string>;
  deleteMachineVersions: string[];
  /** Qualified function ARNs (`…:function:<name>:<version>`). */
  deleteFunctionVersions: string[];
}

const QUALIFIED_FUNCTION_ARN =
  /arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+:[A-Za-z0-9_$-]+/g;

/** The qualified function ARNs a definition invokes (Resource or FunctionName, wherever they sit). */
export function functionVersionsIn(definition: string): string[] {
  return [...new Set(definition.match(QUALIFIED_FUNCTION_ARN) ?? [])];
}

export function planPrune(facts: PruneFacts): PrunePlan {
  const kept = new Map<string, string>();
  const keep = (arn: string, reason: string) => {
    if (!kept.has(arn)) kept.set(arn, reason);
  };
  const keptDefinitions: string[] = [];

  for (const machine of facts.machines) {
    const newestFirst = [...machine.versions].sort((a, b) => b.created.getTime() - a.created.getTime());
    newestFirst.forEach((version, index) => {
      if (index === 0) keep(version.arn, 'newest version');
      else if (index <= facts.keepPrevious) keep(version.arn, 'rollback target');
    });
    for (const target of machine.aliasTargets) keep(target, 'an alias routes to it');
  }
  for (const execution of facts.reachable) {
    if (execution.versionArn) keep(execution.versionArn, `execution ${execution.executionArn} runs it`);
    keptDefinitions.push(execution.definition);
  }
  const deleteMachineVersions: string[] = [];
  for (const machine of facts.machines)
    for (const version of machine.versions) {
      if (kept.has(version.arn)) keptDefinitions.push(version.definition);
      else deleteMachineVersions.push(version.arn);
    }

  for (const definition of keptDefinitions)
    for (const arn of functionVersionsIn(definition)) keep(arn, 'a kept definition invokes it');

  const deleteFunctionVersions: string[] = [];
  for (const fn of facts.functions) {
    const newest = Math.max(0, ...fn.versions.map(Number).filter(Number.isFinite));
    for (const version of fn.versions) {
      const arn = `${fn.arn}:${version}`;
      if (Number(version) === newest) keep(arn, 'newest version');
      if (fn.aliasTargets.includes(version)) keep(arn, 'an alias routes to it');
      if (!kept.has(arn)) deleteFunctionVersions.push(arn);
    }
  }
  return { kept, deleteMachineVersions, deleteFunctionVersions };
}
