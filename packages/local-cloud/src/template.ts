import { readFileSync } from 'node:fs';
import { shortHash } from './template/physical-names.js';
import type { QualifiedName } from './template/qualified-names.js';

export {
  evaluateCondition,
  IntrinsicResolutionError,
  resolveIntrinsics,
  resolveProperties,
  resolveStateMachineDefinition,
} from './template/intrinsics.js';
export { physicalNames, withAttributes } from './template/physical-names.js';

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
  /** For a published version or an alias: what it qualifies. */
  qualified?: QualifiedName;
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
