/**
 * The released shape of the app that running sagas depend on, and the comparison of a new app against it.
 * Pure: no CDK here, so tests can mutate a release and compare without synthesizing.
 */

/** One state machine's states: what an execution started on the release expects to find. */
export interface MachineExtract {
  /** The construct path, so a reader knows which machine a logical id is. */
  path: string;
  states: Record<string, StateExtract>;
}

export interface StateExtract {
  type: string;
  /** What a Task calls, references rendered as `${LogicalId.Attr}`. */
  resource?: string;
  /** The step's payload fields as dotted paths (`.$` dropped: a field may move between constant and path). */
  payload?: string[];
  /** ErrorEquals of each retrier, in order, comma-separated. */
  retry?: string[];
  /** ErrorEquals of each catcher, in order, comma-separated. */
  catch?: string[];
}

export interface ResourceExtract {
  type: string;
  path: string;
  /** Properties whose change makes CloudFormation replace the resource; absent ones are absent here too. */
  replacement: Record<string, unknown>;
}

export interface RoleExtract {
  /** Which saga tasks run with this role: the machine itself, or a function a task calls or feeds. */
  serves: string[];
  /** `action resource` pairs the role is allowed, resources as logical references. */
  grants: string[];
}

export interface Release {
  format: 1;
  /** State machines, tables and queues, by logical id. */
  resources: Record<string, ResourceExtract>;
  /** Each state machine's definition, by logical id. */
  machines: Record<string, MachineExtract>;
  /** SAGA_STEPS: each step's barrier id, the key of stored barrier rows. */
  barriers: Record<string, { state: string; barrierId: string }>;
  businessErrors: { names: string[]; steps: Record<string, string[]> };
  /** Roles of whatever runs a saga's step, by logical id. */
  roles: Record<string, RoleExtract>;
}

export type Rule = 'replacement' | 'barrier' | 'business-error' | 'payload' | 'grant';

export interface Finding {
  rule: Rule;
  message: string;
}

export interface Comparison {
  /** Changes that would strand or corrupt a saga started on the release. */
  failures: Finding[];
  /** Additions and compatible changes, for the reviewer. */
  notes: string[];
}

/**
 * Properties that, per the CloudFormation resource reference, require replacement when they change. Aliases are
 * tracked (a running execution or task may call one by its ARN), versions are not: a new one each change is
 * their point, and the grants tell whether the one a running saga calls is still allowed.
 */
export const REPLACEMENT_PROPERTIES: Record<string, readonly string[]> = {
  'AWS::StepFunctions::StateMachine': ['StateMachineName', 'StateMachineType'],
  'AWS::StepFunctions::StateMachineAlias': ['Name'],
  'AWS::DynamoDB::Table': ['TableName', 'KeySchema', 'LocalSecondaryIndexes'],
  'AWS::SQS::Queue': ['QueueName', 'FifoQueue'],
  'AWS::Lambda::Alias': ['Name', 'FunctionName'],
};

export function compareReleases(released: Release, current: Release): Comparison {
  const failures: Finding[] = [];
  const notes: string[] = [];
  const fail = (rule: Rule, message: string) => failures.push({ rule, message });

  compareResources(released, current, fail, notes);
  compareBarriers(released, current, fail, notes);
  compareBusinessErrors(released, current, fail, notes);
  comparePayloads(released, current, fail, notes);
  compareGrants(released, current, fail, notes);
  return { failures, notes };
}

type Fail = (rule: Rule, message: string) => void;

function compareResources(released: Release, current: Release, fail: Fail, notes: string[]): void {
  for (const [id, before] of Object.entries(released.resources)) {
    const after = current.resources[id];
    if (!after) {
      const successor = Object.entries(current.resources).find(
        ([otherId, other]) =>
          other.type === before.type && other.path === before.path && !released.resources[otherId],
      );
      fail(
        'replacement',
        `${before.type} ${id} (${before.path}) is gone: CloudFormation would delete it` +
          (successor ? ` and create ${successor[0]} in its place` : '') +
          ', stranding the sagas and data that live in it',
      );
      continue;
    }
    if (after.type !== before.type) {
      fail('replacement', `${id} (${before.path}) changes type from ${before.type} to ${after.type}`);
      continue;
    }
    for (const property of REPLACEMENT_PROPERTIES[before.type] ?? []) {
      const was = before.replacement[property];
      const now = after.replacement[property];
      if (canonical(was) !== canonical(now)) {
        fail(
          'replacement',
          `${before.type} ${id} (${before.path}): ${property} changes from ${shown(was)} to ${shown(now)}, ` +
            'which makes CloudFormation replace it',
        );
      }
    }
  }
  for (const [id, after] of Object.entries(current.resources)) {
    if (!released.resources[id]) notes.push(`new ${after.type} ${id} (${after.path})`);
  }
}

function compareBarriers(released: Release, current: Release, fail: Fail, notes: string[]): void {
  const currentIds = new Set(Object.values(current.barriers).map((step) => step.barrierId));
  for (const [key, before] of Object.entries(released.barriers)) {
    const after = current.barriers[key];
    if (after && after.barrierId !== before.barrierId) {
      fail(
        'barrier',
        `step ${key} (${before.state}) changes its barrier id from ${before.barrierId} to ${after.barrierId}: ` +
          'a running saga would look for its barrier rows under a key they are not stored under',
      );
    } else if (!after && !currentIds.has(before.barrierId)) {
      fail(
        'barrier',
        `step ${key} (${before.state}) and its barrier id ${before.barrierId} are gone: ` +
          'a running saga could no longer find its barrier rows',
      );
    } else if (!after) {
      notes.push(`step ${key} is gone but its barrier id ${before.barrierId} is kept by another step`);
    } else if (after.state !== before.state) {
      notes.push(`step ${key} renamed from ${before.state} to ${after.state}, barrier id kept`);
    }
  }
  for (const [key, after] of Object.entries(current.barriers)) {
    if (!released.barriers[key]) notes.push(`new step ${key} with barrier id ${after.barrierId}`);
  }
}

function compareBusinessErrors(released: Release, current: Release, fail: Fail, notes: string[]): void {
  const names = new Set(current.businessErrors.names);
  for (const name of released.businessErrors.names) {
    if (!names.has(name)) {
      fail(
        'business-error',
        `business error ${name} is renamed or removed: a step raising it, or a saga that failed with it, ` +
          'is no longer recognised',
      );
    }
  }
  for (const [step, before] of Object.entries(released.businessErrors.steps)) {
    const after = new Set(current.businessErrors.steps[step] ?? []);
    for (const name of before) {
      if (!after.has(name)) fail('business-error', `step ${step} no longer declares business error ${name}`);
    }
  }
  const releasedNames = new Set(released.businessErrors.names);
  for (const name of current.businessErrors.names) {
    if (!releasedNames.has(name)) notes.push(`new business error ${name}`);
  }
  for (const [step, after] of Object.entries(current.businessErrors.steps)) {
    const before = new Set(released.businessErrors.steps[step] ?? []);
    for (const name of after) if (!before.has(name)) notes.push(`step ${step} now declares ${name}`);
  }
}

function comparePayloads(released: Release, current: Release, fail: Fail, notes: string[]): void {
  for (const [id, machine] of Object.entries(released.machines)) {
    const now = current.machines[id];
    // A machine that is gone already fails as a replacement.
    if (!now) continue;
    for (const [name, before] of Object.entries(machine.states)) {
      const after = now.states[name];
      if (before.type !== 'Task') {
        if (!after) notes.push(`${machine.path}: state ${name} removed`);
        continue;
      }
      if (after?.type !== 'Task') {
        fail(
          'payload',
          `${machine.path}: task ${name} is gone (it received ${(before.payload ?? []).join(', ') || 'the whole state'}): ` +
            'a redriven or reconciled saga started on the release expects it',
        );
        continue;
      }
      const fields = new Set(after.payload ?? []);
      const gone = (before.payload ?? []).filter((field) => !fields.has(field));
      if (before.payload && !after.payload) {
        notes.push(`${machine.path}: task ${name} now receives the whole state`);
      } else if (gone.length > 0) {
        fail(
          'payload',
          `${machine.path}: task ${name} no longer sends ${gone.join(', ')}: ` +
            'a step of a running saga would receive a payload it cannot read',
        );
      }
      const added = (after.payload ?? []).filter((field) => !(before.payload ?? []).includes(field));
      if (added.length > 0) notes.push(`${machine.path}: task ${name} also sends ${added.join(', ')}`);
      if (before.resource !== after.resource) {
        notes.push(`${machine.path}: task ${name} now calls ${after.resource} (was ${before.resource})`);
      }
      if (canonical(before.retry) !== canonical(after.retry))
        notes.push(
          `${machine.path}: task ${name} retries ${shown(after.retry)} (was ${shown(before.retry)})`,
        );
      if (canonical(before.catch) !== canonical(after.catch))
        notes.push(
          `${machine.path}: task ${name} catches ${shown(after.catch)} (was ${shown(before.catch)})`,
        );
    }
    for (const name of Object.keys(now.states)) {
      if (!machine.states[name]) notes.push(`${machine.path}: new state ${name}`);
    }
  }
  for (const [id, machine] of Object.entries(current.machines)) {
    if (!released.machines[id]) notes.push(`new state machine definition ${id} (${machine.path})`);
  }
}

function compareGrants(released: Release, current: Release, fail: Fail, notes: string[]): void {
  for (const [roleId, before] of Object.entries(released.roles)) {
    const after = current.roles[roleId];
    const granted = after?.grants ?? [];
    const missing = before.grants.filter((grant) => !granted.some((held) => covers(held, grant)));
    if (!after) {
      fail(
        'grant',
        `role ${roleId} (serving ${before.serves.join(', ')}) is gone with all its grants: ` +
          'a running saga\u2019s step would be denied',
      );
      continue;
    }
    for (const grant of missing) {
      fail(
        'grant',
        `role ${roleId} (serving ${before.serves.join(', ')}) loses "${grant}": ` +
          'a running saga\u2019s step still needs it',
      );
    }
    for (const grant of after.grants) {
      if (!before.grants.includes(grant)) notes.push(`role ${roleId} is also granted "${grant}"`);
    }
  }
  for (const [roleId, after] of Object.entries(current.roles)) {
    if (!released.roles[roleId]) notes.push(`new role ${roleId} serving ${after.serves.join(', ')}`);
  }
}

/** Whether a held `action resource` grant allows what `needed` allowed: the same pair, or a wildcard over it. */
function covers(held: string, needed: string): boolean {
  if (held === needed) return true;
  const [heldAction, heldResource] = splitGrant(held);
  const [neededAction, neededResource] = splitGrant(needed);
  return matches(heldAction, neededAction) && matches(heldResource, neededResource);
}

/** IAM's wildcard: `*` in what is held matches any run of characters in what is needed. */
function matches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const regex = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${regex}$`).test(value);
}

function splitGrant(grant: string): [string, string] {
  const space = grant.indexOf(' ');
  return [grant.slice(0, space), grant.slice(space + 1)];
}

/** JSON with sorted keys, so two extracts compare by value. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => a.localeCompare(b)))
      : item,
  );
}

function shown(value: unknown): string {
  return value === undefined ? '(unset)' : canonical(value);
}

/** The report the check prints. */
export function formatComparison(comparison: Comparison, releasePath: string): string {
  const lines = comparison.failures.map((finding) => `FAIL [${finding.rule}] ${finding.message}`);
  lines.push(...comparison.notes.map((note) => `note: ${note}`));
  const verdict =
    comparison.failures.length === 0
      ? `The app can evolve from ${releasePath} without stranding a running saga.`
      : `${comparison.failures.length} change(s) would strand or corrupt sagas started on ${releasePath}. ` +
        'Keep what they depend on, or, once no saga of the release can still run, release deliberately with ' +
        '`npm run release:definition`.';
  return [...lines, verdict].join('\n');
}
