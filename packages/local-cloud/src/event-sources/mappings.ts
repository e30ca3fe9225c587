import {
  type CfnTemplate,
  constructIdOf,
  isRecord,
  type PhysicalResource,
  type ResolveContext,
  resolveProperties,
  resourcesOfType,
} from '../template.js';

import {
  type EventSourceKind,
  type EventSourceMappingConfig,
  SQS_DEFAULT_BATCH_SIZE,
  STREAM_DEFAULT_BATCH_SIZE,
} from './types.js';

export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

function booleanOf(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  return undefined;
}

export function kindOfArn(arn: string): EventSourceKind {
  if (arn.startsWith('arn:') && arn.split(':')[2] === 'sqs') return 'sqs';
  if (/^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\//.test(arn)) return 'dynamodb-stream';
  return 'unsupported';
}

export function findResource(
  ctx: ResolveContext,
  type: string,
  matches: (resource: PhysicalResource) => boolean,
): [string, PhysicalResource] | undefined {
  return Object.entries(ctx.resources).find(([, resource]) => resource.type === type && matches(resource));
}

function filterPatternsOf(logicalId: string, filterCriteria: unknown): Record<string, unknown>[] {
  const filters =
    isRecord(filterCriteria) && Array.isArray(filterCriteria.Filters) ? filterCriteria.Filters : [];
  return filters.map((filter, index) => {
    const source = isRecord(filter) ? filter.Pattern : undefined;
    const pattern: unknown = typeof source === 'string' ? JSON.parse(source) : source;
    if (!isRecord(pattern)) {
      throw new Error(`${logicalId}: FilterCriteria.Filters[${index}].Pattern is not a JSON object`);
    }
    return pattern;
  });
}

/** Every AWS::Lambda::EventSourceMapping of the template, resolved and with AWS defaults filled in. */
export function eventSourceMappingsFromTemplate(
  template: CfnTemplate,
  ctx: ResolveContext,
): EventSourceMappingConfig[] {
  return resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').map(([logicalId]) => {
    const properties = resolveProperties(template, logicalId, ctx);
    const functionName = String(properties.FunctionName ?? '');
    const eventSourceArn = String(properties.EventSourceArn ?? '');
    const kind = kindOfArn(eventSourceArn);
    const functionEntry = findResource(
      ctx,
      'AWS::Lambda::Function',
      (resource) => resource.ref === functionName || resource.attributes.Arn === functionName,
    );
    const source =
      kind === 'sqs'
        ? findResource(ctx, 'AWS::SQS::Queue', (resource) => resource.attributes.Arn === eventSourceArn)
        : findResource(
            ctx,
            'AWS::DynamoDB::Table',
            (resource) => resource.attributes.StreamArn === eventSourceArn,
          );
    const scaling = isRecord(properties.ScalingConfig) ? properties.ScalingConfig : {};
    const destination = isRecord(properties.DestinationConfig) ? properties.DestinationConfig : {};
    const onFailure = isRecord(destination.OnFailure) ? destination.OnFailure.Destination : undefined;
    const responseTypes = Array.isArray(properties.FunctionResponseTypes)
      ? properties.FunctionResponseTypes
      : [];
    const startingPosition = properties.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON';
    return {
      logicalId,
      label: functionEntry ? constructIdOf(template, functionEntry[0]) : logicalId,
      sourceName:
        (kind === 'dynamodb-stream' ? eventSourceArn.split('/')[1] : eventSourceArn.split(':').pop()) ||
        eventSourceArn,
      kind,
      enabled: booleanOf(properties.Enabled) ?? true,
      functionName,
      functionArn: functionEntry?.[1].attributes.Arn ?? functionName,
      functionLogicalId: functionEntry?.[0],
      eventSourceArn,
      sourceLogicalId: source?.[0],
      batchSize:
        numberOf(properties.BatchSize) ??
        (kind === 'sqs' ? SQS_DEFAULT_BATCH_SIZE : STREAM_DEFAULT_BATCH_SIZE),
      maximumBatchingWindowSeconds: numberOf(properties.MaximumBatchingWindowInSeconds) ?? 0,
      filterPatterns: filterPatternsOf(logicalId, properties.FilterCriteria),
      reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
      maximumConcurrency: numberOf(scaling.MaximumConcurrency),
      startingPosition: kind === 'dynamodb-stream' ? startingPosition : undefined,
      maximumRetryAttempts: numberOf(properties.MaximumRetryAttempts),
      bisectBatchOnFunctionError: booleanOf(properties.BisectBatchOnFunctionError) ?? false,
      onFailureDestination: typeof onFailure === 'string' ? onFailure : undefined,
    };
  });
}
