import { type CfnResource, isRecord, type PhysicalNames } from '../template.js';

/** A published version or an alias, and the function or state machine it qualifies. */
export interface QualifiedName {
  kind: 'version' | 'alias';
  /** `…:function:<name>:<qualifier>` or `…:stateMachine:<name>:<qualifier>`. */
  arn: string;
  /** The unqualified ARN of the function or state machine. */
  qualifies: string;
  /** For an alias, the version ARN it routes to; for a version, its own ARN. */
  versionArn: string;
}

const QUALIFIED_TYPES = {
  'AWS::Lambda::Version': { kind: 'version', target: 'FunctionName' },
  'AWS::Lambda::Alias': { kind: 'alias', target: 'FunctionName' },
  'AWS::StepFunctions::StateMachineVersion': { kind: 'version', target: 'StateMachineArn' },
  'AWS::StepFunctions::StateMachineAlias': { kind: 'alias', target: undefined },
} as const;

/** The logical id a `{ Ref }` or `{ Fn::GetAtt: [id, …] }` names, when the value is one. */
function referencedId(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
}

/** A Step Functions alias names no machine itself: it routes to versions, and those name the machine. */
function routedVersionId(resource: CfnResource): string | undefined {
  const routing = resource.Properties?.RoutingConfiguration;
  const first = Array.isArray(routing) ? routing[0] : undefined;
  return isRecord(first) ? referencedId(first.StateMachineVersionArn) : undefined;
}

/**
 * Names versions and aliases the way their services do: a version is its function's or machine's ARN with a
 * number counted per function or machine in template order (the order CloudFormation would publish them in
 * on a first deploy), an alias is that ARN with the alias name. They run what the unqualified resource runs:
 * locally there is only the current template.
 */
export function withQualifiedNames(
  resources: Record<string, CfnResource>,
  names: PhysicalNames,
): PhysicalNames {
  const updated: PhysicalNames = { ...names };
  const published = new Map<string, number>();
  const qualifiedIds = Object.keys(resources).filter((id) => (resources[id]?.Type ?? '') in QUALIFIED_TYPES);
  // Versions first: an alias's ARN follows from the version it routes to.
  qualifiedIds.sort((a, b) => kindRank(resources[a]) - kindRank(resources[b]));
  for (const logicalId of qualifiedIds) {
    const resource = resources[logicalId] as CfnResource;
    const qualifiedName = qualify(resource, updated, published);
    if (!qualifiedName) continue;
    const { arn } = qualifiedName;
    const version = qualifiedName.kind === 'version' ? arn.slice(arn.lastIndexOf(':') + 1) : undefined;
    updated[logicalId] = {
      type: resource.Type,
      ref: arn,
      attributes: {
        Arn: arn,
        AliasArn: arn,
        FunctionArn: qualifiedName.qualifies,
        ...(version ? { Version: version } : {}),
      },
      qualified: qualifiedName,
    };
  }
  return updated;
}

const kindRank = (resource: CfnResource | undefined) =>
  resource && QUALIFIED_TYPES[resource.Type as keyof typeof QUALIFIED_TYPES]?.kind === 'version' ? 0 : 1;

function qualify(
  resource: CfnResource,
  names: PhysicalNames,
  published: Map<string, number>,
): QualifiedName | undefined {
  const shape = QUALIFIED_TYPES[resource.Type as keyof typeof QUALIFIED_TYPES];
  if (shape.kind === 'version') {
    const targetId = referencedId(resource.Properties?.[shape.target]);
    const target = targetId ? names[targetId] : undefined;
    const qualifies = target?.attributes.Arn;
    if (!qualifies) return undefined;
    const number = (published.get(qualifies) ?? 0) + 1;
    published.set(qualifies, number);
    return {
      kind: 'version',
      arn: `${qualifies}:${number}`,
      qualifies,
      versionArn: `${qualifies}:${number}`,
    };
  }
  const aliasName = resource.Properties?.Name;
  if (typeof aliasName !== 'string') return undefined;
  const versionId =
    shape.target === undefined
      ? routedVersionId(resource)
      : referencedId(resource.Properties?.FunctionVersion);
  const version = versionId ? names[versionId]?.qualified : undefined;
  const targetId = shape.target ? referencedId(resource.Properties?.[shape.target]) : undefined;
  const qualifies = version?.qualifies ?? (targetId ? names[targetId]?.attributes.Arn : undefined);
  if (!qualifies) return undefined;
  return {
    kind: 'alias',
    arn: `${qualifies}:${aliasName}`,
    qualifies,
    versionArn: version?.arn ?? qualifies,
  };
}
