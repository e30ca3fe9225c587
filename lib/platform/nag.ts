import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { joinedText } from './cfn-join.js';

/** A resolved CloudFormation value flattened the way cdk-nag names a finding: `<Logical.Attr>` for GetAtt, `<Ref>` for Ref. */
function flatten(node: unknown): string {
  if (typeof node === 'string') return node;
  if (typeof node === 'object' && node !== null) {
    const value = node as Record<string, unknown>;
    const joined = joinedText(value, flatten);
    if (joined !== undefined) return joined;
    if (Array.isArray(value['Fn::GetAtt'])) {
      const [resource, attribute] = value['Fn::GetAtt'] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if (value.Ref !== undefined) return `<${flatten(value.Ref)}>`;
  }
  return JSON.stringify(node);
}

/**
 * Acknowledges the one IAM5 wildcard finding for `resourceArn` on `scope`, so a new wildcard elsewhere
 * on the same principal still fails synth.
 */
export function acknowledgeWildcardResource(scope: IConstruct, resourceArn: string, reason: string): void {
  const finding = flatten(Stack.of(scope).resolve(resourceArn));
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${finding}]`, reason });
}
