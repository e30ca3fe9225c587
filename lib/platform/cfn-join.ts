/**
 * Text of a resolved CloudFormation value that may be an `Fn::Join`: each part through `partText` (which
 * decides what a reference becomes), joined by the separator. Undefined when the value is not a join.
 * The one walker over joins in the app: cdk-nag names and rendered definitions both go through it.
 */
export function joinedText(value: unknown, partText: (part: unknown) => string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const join = (value as Record<string, unknown>)['Fn::Join'];
  if (!Array.isArray(join)) return undefined;
  const [separator, parts] = join as [string, unknown[]];
  return parts.map(partText).join(separator);
}
