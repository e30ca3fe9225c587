import { type CfnTemplate, isRecord, type ResolveContext } from '../template.js';

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
