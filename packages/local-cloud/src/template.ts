import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

// Only the parts of a CloudFormation template the local cloud reads.
export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
}

const GENERIC_CONSTRUCT_IDS = new Set(['StateMachine', 'Queue', 'Table', 'Function', 'Default']);

/**
 * A resource's construct id, from the path CDK records ('Shop/Billing/InvoiceWorker/Resource' is
 * InvoiceWorker): short and stable across deploys, unlike a hashed logical id. A construct named only for its
 * kind ('Shop/Checkout/StateMachine/Resource') is named with its parent (Checkout). Without a CDK path,
 * the logical id.
 */
export function constructIdOf(template: CfnTemplate, logicalId: string): string {
  const cdkPath = template.Resources[logicalId]?.Metadata?.['aws:cdk:path'];
  if (typeof cdkPath !== 'string') return logicalId;
  const segments = cdkPath.split('/');
  if (segments.at(-1) === 'Resource') segments.pop();
  const id = segments.at(-1);
  if (!id) return logicalId;
  const parent = segments.at(-2);
  return GENERIC_CONSTRUCT_IDS.has(id) && parent && segments.length > 2 ? parent : id;
}

export interface CfnParameter {
  Type: string;
  Default?: unknown;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Parameters?: Record<string, CfnParameter>;
  Conditions?: Record<string, unknown>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  Outputs?: Record<string, { Value: unknown; Export?: unknown }>;
}

export interface PhysicalResource {
  type: string;
  ref: string;
  attributes: Record<string, string>;
}

export type PhysicalNames = Record<string, PhysicalResource>;

export interface ResolveContext {
  resources: PhysicalNames;
  region: string;
  accountId: string;
  partition: string;
  urlSuffix: string;
  stackName: string;
  stackId: string;
  // Values for template Parameters; a parameter without one falls back to its Default.
  parameters?: Record<string, string>;
  // Needed for Fn::If / Condition; left out, conditions are evaluated lazily from this template.
  template?: CfnTemplate;
}

export interface PhysicalNameOptions {
  stackName: string;
  region?: string;
  accountId?: string;
  // Base of queue URLs, e.g. 'http://sqs.us-east-1.localhost:4566' (the emulator's host and port).
  sqsEndpoint?: string;
}

export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT_ID = '000000000000';

export function loadTemplate(templatePath: string): CfnTemplate {
  const parsed: unknown = JSON.parse(readFileSync(templatePath, 'utf8'));
  if (!isRecord(parsed) || !isRecord(parsed.Resources)) {
    throw new Error(`${templatePath} is not a CloudFormation template: no Resources section`);
  }
  return parsed as unknown as CfnTemplate;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function resourcesOfType(template: CfnTemplate, ...types: string[]): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => types.includes(resource.Type));
}

export function createResolveContext(
  resources: PhysicalNames,
  options: PhysicalNameOptions & { template?: CfnTemplate; parameters?: Record<string, string> },
): ResolveContext {
  const region = options.region ?? DEFAULT_REGION;
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  return {
    resources,
    region,
    accountId,
    partition: 'aws',
    urlSuffix: 'amazonaws.com',
    stackName: options.stackName,
    // Deterministic so that anything derived from it is stable between runs.
    stackId: `arn:aws:cloudformation:${region}:${accountId}:stack/${options.stackName}/${shortHash(options.stackName, 8)}-0000-0000-0000-000000000000`,
    parameters: options.parameters,
    template: options.template,
  };
}

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

// CloudFormation appends a random suffix; locally a hash of the logical id keeps names stable and unique.
function generatedName(stackName: string, logicalId: string, maxLength: number, suffix = ''): string {
  const full = `${stackName}-${logicalId}`;
  if (full.length + suffix.length <= maxLength) {
    return `${full}${suffix}`;
  }
  const hash = shortHash(full, 8);
  return `${full.slice(0, maxLength - suffix.length - hash.length - 1)}-${hash}${suffix}`;
}

function explicitName(resource: CfnResource, property: string): string | undefined {
  const value = resource.Properties?.[property];
  return typeof value === 'string' ? value : undefined;
}

function serviceOfType(type: string): string {
  const [, service = 'unknown'] = type.split('::');
  return service.toLowerCase();
}

/**
 * Deterministic local names and ARNs for every resource. Names given explicitly in the template win;
 * intrinsic-valued names are not supported (CDK emits literal strings when a name is set).
 */
export function physicalNames(template: CfnTemplate, options: PhysicalNameOptions): PhysicalNames {
  const region = options.region ?? DEFAULT_REGION;
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  const sqsEndpoint = options.sqsEndpoint ?? `http://sqs.${region}.localhost:4566`;
  const arn = (service: string, resource: string, regional = true): string =>
    `arn:aws:${service}:${regional ? region : ''}:${accountId}:${resource}`;
  const names: PhysicalNames = {};

  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const { Type: type } = resource;
    switch (type) {
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable': {
        const name = explicitName(resource, 'TableName') ?? generatedName(options.stackName, logicalId, 255);
        const tableArn = arn('dynamodb', `table/${name}`);
        names[logicalId] = {
          type,
          ref: name,
          // The real StreamArn comes from DynamoDB Local after CreateTable; see withStreamArns.
          attributes: { Arn: tableArn, StreamArn: `${tableArn}/stream/1970-01-01T00:00:00.000` },
        };
        break;
      }
      case 'AWS::SQS::Queue': {
        const isFifo = resource.Properties?.FifoQueue === true || resource.Properties?.FifoQueue === 'true';
        const name =
          explicitName(resource, 'QueueName') ??
          generatedName(options.stackName, logicalId, 80, isFifo ? '.fifo' : '');
        const url = `${sqsEndpoint}/${accountId}/${name}`;
        names[logicalId] = {
          type,
          ref: url,
          attributes: { Arn: arn('sqs', name), QueueName: name, QueueUrl: url },
        };
        break;
      }
      case 'AWS::Lambda::Function': {
        const name =
          explicitName(resource, 'FunctionName') ?? generatedName(options.stackName, logicalId, 64);
        names[logicalId] = { type, ref: name, attributes: { Arn: arn('lambda', `function:${name}`) } };
        break;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name =
          explicitName(resource, 'StateMachineName') ?? generatedName(options.stackName, logicalId, 80);
        const machineArn = arn('states', `stateMachine:${name}`);
        names[logicalId] = {
          type,
          ref: machineArn,
          attributes: { Arn: machineArn, Name: name, StateMachineRevisionId: machineArn },
        };
        break;
      }
      case 'AWS::Events::Rule': {
        const name = explicitName(resource, 'Name') ?? generatedName(options.stackName, logicalId, 64);
        const busName = explicitName(resource, 'EventBusName');
        const path = busName && busName !== 'default' ? `rule/${busName}/${name}` : `rule/${name}`;
        names[logicalId] = { type, ref: name, attributes: { Arn: arn('events', path) } };
        break;
      }
      case 'AWS::Events::EventBus': {
        const name = explicitName(resource, 'Name') ?? generatedName(options.stackName, logicalId, 256);
        const busArn = arn('events', `event-bus/${name}`);
        names[logicalId] = { type, ref: name, attributes: { Arn: busArn, Name: name } };
        break;
      }
      case 'AWS::Scheduler::Schedule': {
        const name = explicitName(resource, 'Name') ?? generatedName(options.stackName, logicalId, 64);
        const group = explicitName(resource, 'GroupName') ?? 'default';
        names[logicalId] = {
          type,
          ref: name,
          attributes: { Arn: arn('scheduler', `schedule/${group}/${name}`) },
        };
        break;
      }
      case 'AWS::Logs::LogGroup': {
        const name =
          explicitName(resource, 'LogGroupName') ??
          generatedName(`/aws/local/${options.stackName}`, logicalId, 512);
        names[logicalId] = { type, ref: name, attributes: { Arn: arn('logs', `log-group:${name}:*`) } };
        break;
      }
      case 'AWS::IAM::Role': {
        const name = explicitName(resource, 'RoleName') ?? generatedName(options.stackName, logicalId, 64);
        names[logicalId] = {
          type,
          ref: name,
          attributes: {
            Arn: arn('iam', `role/${name}`, false),
            RoleId: `AROA${shortHash(name, 16).toUpperCase()}`,
          },
        };
        break;
      }
      default: {
        // Anything else gets a plausible name so that resolving unrelated properties does not fail.
        const name = generatedName(options.stackName, logicalId, 128);
        names[logicalId] = {
          type,
          ref: name,
          attributes: { Arn: arn(serviceOfType(type), `${logicalId.toLowerCase()}/${name}`) },
        };
      }
    }
  }
  return names;
}

export class IntrinsicResolutionError extends Error {
  override name = 'IntrinsicResolutionError';
}

const PSEUDO_PARAMETERS: Record<string, (ctx: ResolveContext) => string> = {
  'AWS::Region': (ctx) => ctx.region,
  'AWS::AccountId': (ctx) => ctx.accountId,
  'AWS::Partition': (ctx) => ctx.partition,
  'AWS::URLSuffix': (ctx) => ctx.urlSuffix,
  'AWS::StackName': (ctx) => ctx.stackName,
  'AWS::StackId': (ctx) => ctx.stackId,
};

// Returned for Ref AWS::NoValue; the enclosing object or array drops it.
const NO_VALUE = Symbol('AWS::NoValue');

function resolveRef(name: string, ctx: ResolveContext): unknown {
  if (name === 'AWS::NoValue') {
    return NO_VALUE;
  }
  const pseudo = PSEUDO_PARAMETERS[name];
  if (pseudo) {
    return pseudo(ctx);
  }
  if (name === 'AWS::NotificationARNs') {
    return [];
  }
  const parameterValue = ctx.parameters?.[name];
  if (parameterValue !== undefined) {
    return parameterValue;
  }
  const parameter = ctx.template?.Parameters?.[name];
  if (parameter) {
    return parameter.Default ?? '';
  }
  const resource = ctx.resources[name];
  if (!resource) {
    throw new IntrinsicResolutionError(`Ref ${name}: no such resource, parameter or pseudo parameter`);
  }
  return resource.ref;
}

function resolveGetAtt(logicalId: string, attribute: string): (ctx: ResolveContext) => string {
  return (ctx) => {
    const resource = ctx.resources[logicalId];
    if (!resource) {
      throw new IntrinsicResolutionError(`Fn::GetAtt ${logicalId}.${attribute}: no such resource`);
    }
    const value = resource.attributes[attribute];
    if (value === undefined) {
      throw new IntrinsicResolutionError(
        `Fn::GetAtt ${logicalId}.${attribute}: attribute not known locally for ${resource.type}`,
      );
    }
    return value;
  };
}

function asString(value: unknown, where: string): string {
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  throw new IntrinsicResolutionError(`${where}: expected a string, got ${JSON.stringify(value)}`);
}

function asArray(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new IntrinsicResolutionError(`${where}: expected a list, got ${JSON.stringify(value)}`);
  }
  return value;
}

function substitute(template: string, variables: Record<string, unknown>, ctx: ResolveContext): string {
  // ${!Literal} is the documented escape for a literal ${Literal}.
  return template.replace(/\$\{([^}]*)\}/g, (whole, rawName: string) => {
    if (rawName.startsWith('!')) {
      return `\${${rawName.slice(1)}}`;
    }
    const name = rawName.trim();
    if (name in variables) {
      return asString(variables[name], `Fn::Sub variable ${name}`);
    }
    const dot = name.indexOf('.');
    if (dot > 0 && !name.startsWith('AWS::')) {
      return resolveGetAtt(name.slice(0, dot), name.slice(dot + 1))(ctx);
    }
    const resolved = resolveRef(name, ctx);
    if (resolved === NO_VALUE) {
      throw new IntrinsicResolutionError(`Fn::Sub: cannot substitute ${whole}`);
    }
    return asString(resolved, `Fn::Sub ${whole}`);
  });
}

export function evaluateCondition(name: string, ctx: ResolveContext): boolean {
  const condition = ctx.template?.Conditions?.[name];
  if (condition === undefined) {
    throw new IntrinsicResolutionError(`Condition ${name} is not defined (pass the template in the context)`);
  }
  return conditionValue(condition, ctx);
}

function conditionValue(expression: unknown, ctx: ResolveContext): boolean {
  if (typeof expression === 'boolean') {
    return expression;
  }
  if (isRecord(expression)) {
    const [key, argument] = Object.entries(expression)[0] ?? [];
    switch (key) {
      case 'Condition':
        return evaluateCondition(asString(argument, 'Condition'), ctx);
      case 'Fn::Equals': {
        const [left, right] = asArray(argument, 'Fn::Equals').map((item) => resolveIntrinsics(item, ctx));
        return JSON.stringify(left) === JSON.stringify(right);
      }
      case 'Fn::Not':
        return !conditionValue(asArray(argument, 'Fn::Not')[0], ctx);
      case 'Fn::And':
        return asArray(argument, 'Fn::And').every((item) => conditionValue(item, ctx));
      case 'Fn::Or':
        return asArray(argument, 'Fn::Or').some((item) => conditionValue(item, ctx));
    }
  }
  throw new IntrinsicResolutionError(`Unsupported condition expression ${JSON.stringify(expression)}`);
}

type IntrinsicFunction = (argument: unknown, ctx: ResolveContext) => unknown;

const INTRINSIC_FUNCTIONS: Record<string, IntrinsicFunction> = {
  Ref: (argument, ctx) => resolveRef(asString(argument, 'Ref'), ctx),
  'Fn::GetAtt': (argument, ctx) => {
    const [logicalId, ...attributeParts] =
      typeof argument === 'string'
        ? argument.split('.')
        : asArray(resolveIntrinsics(argument, ctx), 'Fn::GetAtt');
    return resolveGetAtt(asString(logicalId, 'Fn::GetAtt'), attributeParts.map(String).join('.'))(ctx);
  },
  'Fn::Join': (argument, ctx) => {
    const [delimiter, list] = asArray(argument, 'Fn::Join');
    const items = asArray(resolveIntrinsics(list, ctx), 'Fn::Join list');
    return items
      .map((item) => asString(item, 'Fn::Join item'))
      .join(asString(delimiter, 'Fn::Join delimiter'));
  },
  'Fn::Sub': (argument, ctx) => {
    if (typeof argument === 'string') {
      return substitute(argument, {}, ctx);
    }
    const [text, variables] = asArray(argument, 'Fn::Sub');
    const resolvedVariables = resolveIntrinsics(variables ?? {}, ctx);
    if (!isRecord(resolvedVariables)) {
      throw new IntrinsicResolutionError('Fn::Sub: the variables map must be an object');
    }
    return substitute(asString(text, 'Fn::Sub'), resolvedVariables, ctx);
  },
  'Fn::Select': (argument, ctx) => {
    const [index, list] = asArray(argument, 'Fn::Select');
    const position = Number(resolveIntrinsics(index, ctx));
    const items = asArray(resolveIntrinsics(list, ctx), 'Fn::Select list');
    if (!Number.isInteger(position) || position < 0 || position >= items.length) {
      throw new IntrinsicResolutionError(`Fn::Select: index ${String(position)} out of range`);
    }
    return items[position];
  },
  'Fn::Split': (argument, ctx) => {
    const [delimiter, text] = asArray(argument, 'Fn::Split');
    return asString(resolveIntrinsics(text, ctx), 'Fn::Split').split(
      asString(delimiter, 'Fn::Split delimiter'),
    );
  },
  'Fn::If': (argument, ctx) => {
    const [conditionName, whenTrue, whenFalse] = asArray(argument, 'Fn::If');
    return resolveIntrinsics(
      evaluateCondition(asString(conditionName, 'Fn::If'), ctx) ? whenTrue : whenFalse,
      ctx,
    );
  },
  'Fn::GetAZs': (_argument, ctx) => ['a', 'b', 'c'].map((zone) => `${ctx.region}${zone}`),
  'Fn::Base64': (argument, ctx) =>
    Buffer.from(asString(resolveIntrinsics(argument, ctx), 'Fn::Base64')).toString('base64'),
  'Fn::ToJsonString': (argument, ctx) => JSON.stringify(resolveIntrinsics(argument, ctx)),
  'Fn::FindInMap': (argument, ctx) => {
    const [mapName, topKey, secondKey] = asArray(resolveIntrinsics(argument, ctx), 'Fn::FindInMap').map(
      (item) => asString(item, 'Fn::FindInMap'),
    );
    const value = ctx.template?.Mappings?.[mapName ?? '']?.[topKey ?? '']?.[secondKey ?? ''];
    if (value === undefined) {
      throw new IntrinsicResolutionError(`Fn::FindInMap: ${mapName}/${topKey}/${secondKey} not found`);
    }
    return value;
  },
  'Fn::ImportValue': (argument) => {
    throw new IntrinsicResolutionError(
      `Fn::ImportValue ${JSON.stringify(argument)}: cross-stack imports are not emulated`,
    );
  },
};

/** Resolves every CloudFormation intrinsic in a value, depth first. */
export function resolveIntrinsics(value: unknown, ctx: ResolveContext): unknown {
  const resolved = resolveValue(value, ctx);
  return resolved === NO_VALUE ? undefined : resolved;
}

function resolveValue(value: unknown, ctx: ResolveContext): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => resolveValue(item, ctx)).filter((item) => item !== NO_VALUE);
  }
  if (!isRecord(value)) {
    return value;
  }
  const keys = Object.keys(value);
  const onlyKey = keys.length === 1 ? keys[0] : undefined;
  const intrinsic = onlyKey === undefined ? undefined : INTRINSIC_FUNCTIONS[onlyKey];
  if (onlyKey !== undefined && intrinsic) {
    return intrinsic(value[onlyKey], ctx);
  }
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const resolvedItem = resolveValue(item, ctx);
    if (resolvedItem !== NO_VALUE) {
      result[key] = resolvedItem;
    }
  }
  return result;
}

/** The resolved Properties of one resource (an empty object when it has none). */
export function resolveProperties(
  template: CfnTemplate,
  logicalId: string,
  ctx: ResolveContext,
): Record<string, unknown> {
  const resource = template.Resources[logicalId];
  if (!resource) {
    throw new Error(`Resource ${logicalId} not found in the template`);
  }
  const resolved = resolveIntrinsics(resource.Properties ?? {}, {
    ...ctx,
    template: ctx.template ?? template,
  });
  return isRecord(resolved) ? resolved : {};
}

/**
 * The state machine definition as plain JSON: DefinitionString (or Definition) resolved, then
 * DefinitionSubstitutions applied the way Step Functions does (${key} replaced by its value).
 */
export function resolveStateMachineDefinition(
  template: CfnTemplate,
  logicalId: string,
  ctx: ResolveContext,
): Record<string, unknown> {
  const properties = resolveProperties(template, logicalId, ctx);
  const substitutions = isRecord(properties.DefinitionSubstitutions)
    ? properties.DefinitionSubstitutions
    : {};
  let text: string;
  if (typeof properties.DefinitionString === 'string') {
    text = properties.DefinitionString;
  } else if (isRecord(properties.Definition)) {
    text = JSON.stringify(properties.Definition);
  } else {
    throw new Error(
      `State machine ${logicalId} has neither DefinitionString nor Definition (DefinitionS3Location is not supported)`,
    );
  }
  const substituted = text.replace(/\$\{([^}]+)\}/g, (whole, key: string) => {
    const value = substitutions[key];
    return value === undefined ? whole : asString(value, `DefinitionSubstitutions ${key}`);
  });
  const definition: unknown = JSON.parse(substituted);
  if (!isRecord(definition)) {
    throw new Error(`State machine ${logicalId}: the definition is not a JSON object`);
  }
  return definition;
}

/** Replaces the placeholder StreamArn of tables with the ARN DynamoDB Local actually assigned. */
export function withAttributes(
  names: PhysicalNames,
  extraAttributes: Record<string, Record<string, string>>,
): PhysicalNames {
  const updated: PhysicalNames = { ...names };
  for (const [logicalId, attributes] of Object.entries(extraAttributes)) {
    const existing = updated[logicalId];
    if (existing) {
      updated[logicalId] = { ...existing, attributes: { ...existing.attributes, ...attributes } };
    }
  }
  return updated;
}
