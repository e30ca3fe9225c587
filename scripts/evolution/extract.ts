import { readFileSync } from 'node:fs';
import { App, type Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { BUSINESS_ERROR_NAMES } from '../../lambdas/shared/errors.js';
import { SAGA_STEPS } from '../../lambdas/shared/saga-states.js';
import { OrderSagaStack, STEP_BUSINESS_ERRORS } from '../../lib/order-saga-stack.js';
import { renderDefinition, type StateDefinition } from '../../lib/saga/definition.js';
import { stageConfig } from '../../lib/stages.js';
import {
  type MachineExtract,
  REPLACEMENT_PROPERTIES,
  type Release,
  type ResourceExtract,
  type RoleExtract,
  type StateExtract,
} from './compare.js';

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}
type Resources = Record<string, CfnResource>;

/**
 * The default stage's stack, synthesized in-process with cdk.json's context. Bundling is skipped: the release
 * reads structure, never code, and esbuild would make the check slow and its output depend on the bundles.
 */
export function synthDefaultStage(): { stack: Stack; resources: Resources } {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  // As bin/order-saga.ts builds it without `-c stage`; the release names physical names relative to the stack.
  const stage = stageConfig();
  const stack = new OrderSagaStack(app, stage.stackName, { stage });
  const template = app.synth().getStackArtifact(stack.artifactId).template as { Resources: Resources };
  return { stack, resources: template.Resources };
}

export function extractRelease(stack: Stack, resources: Resources): Release {
  const paths = logicalPaths(stack);
  const render = referenceRenderer(resources);

  const tracked: Record<string, ResourceExtract> = {};
  for (const [id, resource] of sortedEntries(resources)) {
    const properties = REPLACEMENT_PROPERTIES[resource.Type];
    if (!properties) continue;
    const replacement: Record<string, unknown> = {};
    for (const property of properties) {
      const value = resource.Properties?.[property];
      if (value !== undefined) replacement[property] = withoutStackName(value, stack.stackName);
    }
    tracked[id] = { type: resource.Type, path: paths.get(id) ?? id, replacement };
  }

  const machines: Record<string, MachineExtract> = {};
  const definitions = new Map<string, Record<string, StateDefinition>>();
  for (const machine of stack.node.findAll().filter((node) => node instanceof sfn.CfnStateMachine)) {
    const id = stack.getLogicalId(machine as sfn.CfnStateMachine);
    const states = allStates(renderDefinition(machine as sfn.CfnStateMachine).States);
    definitions.set(id, states);
    machines[id] = {
      path: paths.get(id) ?? id,
      states: Object.fromEntries(
        Object.entries(states)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, state]) => [name, stateExtract(state, render)]),
      ),
    };
  }

  return {
    format: 1,
    resources: tracked,
    machines: sortedObject(machines),
    barriers: Object.fromEntries(
      Object.entries(SAGA_STEPS).map(([key, step]) => [
        key,
        { state: step.state, barrierId: step.barrierId },
      ]),
    ),
    businessErrors: {
      names: [...BUSINESS_ERROR_NAMES].sort(),
      steps: Object.fromEntries(
        Object.entries(STEP_BUSINESS_ERRORS).map(([step, names]) => [step, [...names].sort()]),
      ),
    },
    roles: sagaRoles(resources, definitions, render),
  };
}

function stateExtract(state: StateDefinition, render: (value: unknown) => string): StateExtract {
  const extract: StateExtract = { type: state.Type };
  if (state.Type !== 'Task') return extract;
  const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
  // An integration names what it calls among its parameters: the function, or the queue.
  const target = parameters.FunctionName ?? parameters.QueueUrl;
  extract.resource =
    target === undefined ? render(state.Resource) : `${render(state.Resource)} ${render(target)}`;
  const payload = payloadOf(state, extract.resource);
  if (payload !== undefined) extract.payload = payload;
  if (state.Retry) extract.retry = state.Retry.map((retrier) => retrier.ErrorEquals.join(', '));
  if (state.Catch) extract.catch = state.Catch.map((catcher) => catcher.ErrorEquals.join(', '));
  return extract;
}

/**
 * What the step itself receives, wherever the integration wraps it: a direct function ARN takes Parameters,
 * the lambda:invoke integration its Payload, an SQS message its MessageBody. So moving a task from the one
 * Lambda form to the other (e.g. to invoke a published version) keeps the payload comparable.
 */
function payloadOf(state: StateDefinition, resource: string): string[] | undefined {
  const parameters = state.Parameters as Record<string, unknown> | undefined;
  if (parameters === undefined) return undefined;
  let body: unknown = parameters;
  if (resource.includes(':::lambda:invoke')) body = parameters.Payload ?? parameters['Payload.$'];
  else if (resource.includes(':::sqs:sendMessage'))
    body = parameters.MessageBody ?? parameters['MessageBody.$'];
  if (!isObject(body)) return undefined;
  return fieldPaths(body).sort();
}

function fieldPaths(body: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(body).flatMap(([key, value]) => {
    const field = `${prefix}${key.replace(/\.\$$/, '')}`;
    return isObject(value) && !key.endsWith('.$') ? fieldPaths(value, `${field}.`) : [field];
  });
}

/** States of a machine including those nested in Parallel and Map states. */
function allStates(states: Record<string, StateDefinition>): Record<string, StateDefinition> {
  const all: Record<string, StateDefinition> = {};
  for (const [name, state] of Object.entries(states)) {
    all[name] = state;
    for (const nested of [...(state.Branches ?? []), state.ItemProcessor, state.Iterator]) {
      if (nested) Object.assign(all, allStates(nested.States));
    }
  }
  return all;
}

/**
 * The roles whose grants a running saga relies on: each machine's own role, the role of each function a task
 * calls, and the role of each function consuming a queue a task sends to (it does that step's work).
 */
function sagaRoles(
  resources: Resources,
  definitions: Map<string, Record<string, StateDefinition>>,
  render: (value: unknown) => string,
): Record<string, RoleExtract> {
  const serving = new Map<string, Set<string>>();
  const serve = (roleId: string | undefined, what: string) => {
    if (!roleId) return;
    const set = serving.get(roleId) ?? new Set<string>();
    set.add(what);
    serving.set(roleId, set);
  };
  const roleOfFunction = (functionId: string | undefined) =>
    functionId ? logicalIdIn(resources[functionId]?.Properties?.Role) : undefined;

  for (const [machineId, states] of definitions) {
    serve(logicalIdIn(resources[machineId]?.Properties?.RoleArn), machineId);
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Task') continue;
      const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
      const target = functionBehind(resources, logicalIdIn(parameters.FunctionName ?? state.Resource));
      serve(roleOfFunction(target), `${machineId}:${name}`);
      const queueId = logicalIdIn(parameters.QueueUrl);
      if (!queueId) continue;
      for (const mapping of Object.values(resources)) {
        if (mapping.Type !== 'AWS::Lambda::EventSourceMapping') continue;
        if (logicalIdIn(mapping.Properties?.EventSourceArn) !== queueId) continue;
        serve(roleOfFunction(logicalIdIn(mapping.Properties?.FunctionName)), `${machineId}:${name}`);
      }
    }
  }

  const roles: Record<string, RoleExtract> = {};
  for (const roleId of [...serving.keys()].sort()) {
    roles[roleId] = {
      serves: [...(serving.get(roleId) ?? [])].sort(),
      grants: [...new Set(grantsOf(resources, roleId, render))].sort(),
    };
  }
  return roles;
}

function grantsOf(resources: Resources, roleId: string, render: (value: unknown) => string): string[] {
  const role = resources[roleId]?.Properties ?? {};
  const documents: unknown[] = [];
  for (const policy of (role.Policies as { PolicyDocument: unknown }[] | undefined) ?? [])
    documents.push(policy.PolicyDocument);
  const managed: string[] = [];
  for (const arn of (role.ManagedPolicyArns as unknown[] | undefined) ?? []) {
    const policyId = logicalIdIn(arn);
    const inTemplate = policyId ? resources[policyId] : undefined;
    if (inTemplate?.Type === 'AWS::IAM::ManagedPolicy') documents.push(inTemplate.Properties?.PolicyDocument);
    else managed.push(`managed-policy ${render(arn)}`);
  }
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const attached = (resource.Properties?.Roles as unknown[] | undefined) ?? [];
    if (attached.some((ref) => logicalIdIn(ref) === roleId))
      documents.push(resource.Properties?.PolicyDocument);
  }
  const grants = documents.flatMap((document) =>
    asArray((document as { Statement?: unknown })?.Statement).flatMap((statement) => {
      const { Effect, Action, Resource } = statement as Record<string, unknown>;
      if (Effect !== 'Allow' || Action === undefined || Resource === undefined) return [];
      return asArray(Action).flatMap((action) =>
        asArray(Resource).map((resource) => `${String(action)} ${render(resource)}`),
      );
    }),
  );
  return [...managed, ...grants];
}

/**
 * Renders a CloudFormation value as text with references as `${LogicalId}` / `${LogicalId.Attr}`. A Lambda
 * version or alias is rendered as the ARN it is, `${Fn.Arn}:<version or alias>`, so a grant on `${Fn.Arn}:*`
 * is seen to cover it, and a grant on one version is seen not to cover the next.
 */
function referenceRenderer(resources: Resources): (value: unknown) => string {
  const render = (value: unknown): string => {
    if (value === undefined) return '';
    if (typeof value === 'string') return value;
    if (!isObject(value)) return JSON.stringify(value);
    if (typeof value.Ref === 'string') {
      const target = resources[value.Ref];
      const fn = logicalIdIn(target?.Properties?.FunctionName);
      if (target?.Type === 'AWS::Lambda::Version' && fn) return `\${${fn}.Arn}:\${${value.Ref}.Version}`;
      if (target?.Type === 'AWS::Lambda::Alias' && fn)
        return `\${${fn}.Arn}:${render(target.Properties?.Name)}`;
      return `\${${value.Ref}}`;
    }
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `\${${getAtt.join('.')}}`;
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1]))
      return (join[1] as unknown[]).map(render).join(join[0]);
    return JSON.stringify(value);
  };
  return render;
}

/** The function a task's target names: itself, or the function behind a version or alias. */
function functionBehind(resources: Resources, id: string | undefined): string | undefined {
  const target = id ? resources[id] : undefined;
  if (target?.Type === 'AWS::Lambda::Version' || target?.Type === 'AWS::Lambda::Alias')
    return logicalIdIn(target.Properties?.FunctionName);
  return target?.Type === 'AWS::Lambda::Function' ? id : undefined;
}

/** The logical id a Ref, a GetAtt, or the first reference inside a Join points to. */
function logicalIdIn(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref.startsWith('AWS::') ? undefined : value.Ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  const join = value['Fn::Join'];
  if (Array.isArray(join) && Array.isArray(join[1])) {
    for (const part of join[1] as unknown[]) {
      const id = logicalIdIn(part);
      if (id) return id;
    }
  }
  return undefined;
}

function logicalPaths(stack: Stack): Map<string, string> {
  const paths = new Map<string, string>();
  for (const node of stack.node.findAll()) {
    const cfn = node as unknown as { cfnResourceType?: string; logicalId?: unknown };
    if (typeof cfn.cfnResourceType !== 'string') continue;
    const id = stack.resolve(cfn.logicalId) as string;
    // Relative to the stack: the stack's name is the stage's, not the resource's.
    paths.set(id, node.node.path.split('/').slice(1).join('/'));
  }
  return paths;
}

/**
 * Physical names derived from the stack's name, written relative to it: another stack name is another
 * deployment, not a replacement within this one, and the release then holds for every stage.
 */
function withoutStackName(value: unknown, stackName: string): unknown {
  return JSON.parse(JSON.stringify(value).split(stackName).join(`\${AWS::StackName}`));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function sortedEntries<T>(record: Record<string, T>): [string, T][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

function sortedObject<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(sortedEntries(record));
}
