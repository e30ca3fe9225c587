import { type CfnTemplate, type PhysicalNames, resourcesOfType } from '../template.js';
import type { InterceptedResource } from './interceptor.js';
import { type AwsCallService, queueNameOfUrl, secretNameOf, stateMachineNameOfArn } from './requests.js';

/**
 * A resource's construct path without the stack and the trailing `Resource` (`Inventory/Table`). A queue made
 * as the `Queue` child of a construct that stands for it is named by that construct (`Shipping/Requests`), the
 * name its users know.
 */
export function constructPathOf(template: CfnTemplate, logicalId: string): string {
  const cdkPath = template.Resources[logicalId]?.Metadata?.['aws:cdk:path'];
  if (typeof cdkPath !== 'string') return logicalId;
  const segments = cdkPath.split('/').slice(1);
  if (segments.at(-1) === 'Resource') segments.pop();
  const isQueue = template.Resources[logicalId]?.Type === 'AWS::SQS::Queue';
  if (isQueue && segments.at(-1) === 'Queue' && segments.length > 1) segments.pop();
  return segments.join('/') || logicalId;
}

const KINDS: {
  type: string;
  service: AwsCallService;
  nameOf: (ref: string, names: PhysicalNames[string]) => string | undefined;
}[] = [
  { type: 'AWS::DynamoDB::Table', service: 'dynamodb', nameOf: (ref) => ref },
  {
    type: 'AWS::SQS::Queue',
    service: 'sqs',
    nameOf: (ref, names) => names.attributes.QueueName ?? queueNameOfUrl(ref),
  },
  {
    type: 'AWS::StepFunctions::StateMachine',
    service: 'states',
    nameOf: (ref) => stateMachineNameOfArn(ref),
  },
  { type: 'AWS::SecretsManager::Secret', service: 'secretsmanager', nameOf: (ref) => secretNameOf(ref) },
];

/** Every table, queue and state machine of the template, as the interception layer names them. */
export function interceptedResources(template: CfnTemplate, names: PhysicalNames): InterceptedResource[] {
  return KINDS.flatMap(({ type, service, nameOf }) =>
    resourcesOfType(template, type).flatMap(([logicalId]) => {
      const physical = names[logicalId];
      const name = physical ? nameOf(physical.ref, physical) : undefined;
      return name ? [{ service, name, path: constructPathOf(template, logicalId) }] : [];
    }),
  );
}
