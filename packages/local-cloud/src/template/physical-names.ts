import { createHash } from 'node:crypto';
import {
  type CfnResource,
  type CfnTemplate,
  DEFAULT_ACCOUNT_ID,
  DEFAULT_REGION,
  type PhysicalNameOptions,
  type PhysicalNames,
} from '../template.js';
import { withQualifiedNames } from './qualified-names.js';

export function shortHash(text: string, length: number): string {
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
      case 'AWS::SecretsManager::Secret': {
        // Secrets Manager appends a dash and six random characters; a hash of the name keeps it stable.
        const name = explicitName(resource, 'Name') ?? generatedName(options.stackName, logicalId, 256);
        const secretArn = arn('secretsmanager', `secret:${name}-${shortHash(name, 6)}`);
        names[logicalId] = { type, ref: secretArn, attributes: { Id: secretArn, Name: name } };
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
      case 'AWS::ApiGateway::RestApi': {
        // API Gateway ids are 10 lowercase characters; policies name the API by it (execute-api ARNs).
        const id = shortHash(`${options.stackName}/${logicalId}`, 10);
        names[logicalId] = {
          type,
          ref: id,
          attributes: {
            RootResourceId: shortHash(`${id}/root`, 10),
            Arn: `arn:aws:apigateway:${region}::/restapis/${id}`,
          },
        };
        break;
      }
      case 'AWS::Cognito::UserPool': {
        // Pool ids are `<region>_<9 characters>`; a token's issuer is the pool's URL, built from the id.
        const id = `${region}_${shortHash(`${options.stackName}/${logicalId}`, 9)}`;
        const providerName = `cognito-idp.${region}.amazonaws.com/${id}`;
        names[logicalId] = {
          type,
          ref: id,
          attributes: {
            Arn: arn('cognito-idp', `userpool/${id}`),
            ProviderName: providerName,
            ProviderURL: `https://${providerName}`,
            UserPoolId: id,
          },
        };
        break;
      }
      case 'AWS::Cognito::UserPoolClient': {
        // App client ids are 26 lowercase letters and digits.
        names[logicalId] = { type, ref: shortHash(`${options.stackName}/${logicalId}`, 26), attributes: {} };
        break;
      }
      case 'AWS::ApiGateway::Stage': {
        names[logicalId] = { type, ref: explicitName(resource, 'StageName') ?? logicalId, attributes: {} };
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
  return withQualifiedNames(template.Resources, names);
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
