import { existsSync } from 'node:fs';
import path from 'node:path';
import { DUMMY_CREDENTIALS } from './emulator-credentials.js';
import type { LambdaFunctionConfig } from './lambda-runner.js';
import {
  type CfnTemplate,
  DEFAULT_REGION,
  isRecord,
  type ResolveContext,
  resolveProperties,
  resourcesOfType,
} from './template.js';

export interface EmulatorEndpoints {
  region?: string;
  dynamodb?: string;
  sqs?: string;
  sfn?: string;
  secretsmanager?: string;
  extra?: Record<string, string>;
}

/** Region, dummy credentials and AWS_ENDPOINT_URL_* so that unmodified SDK v3 clients reach the emulators. */
export function emulatorEnvironment(endpoints: EmulatorEndpoints): Record<string, string> {
  const region = endpoints.region ?? DEFAULT_REGION;
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: DUMMY_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DUMMY_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'local',
    ...(endpoints.dynamodb ? { AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb } : {}),
    ...(endpoints.sqs ? { AWS_ENDPOINT_URL_SQS: endpoints.sqs } : {}),
    ...(endpoints.sfn ? { AWS_ENDPOINT_URL_SFN: endpoints.sfn } : {}),
    ...(endpoints.secretsmanager ? { AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsmanager } : {}),
    ...endpoints.extra,
  };
}

export interface LambdaFunctionsFromTemplateOptions {
  // Directory of the synthesized assets, usually <project>/cdk.out.
  cdkOutDir: string;
  // Applied to the functions' duration variables (see scaleDurationVariables); default 1.
  timeScale?: number;
}

const DURATION_VARIABLE_SUFFIX = '_SECONDS';
const NON_NEGATIVE_NUMBER = /^\d+(\.\d+)?$/;

/**
 * Function variables named `*_SECONDS` are durations by convention (a deadline, a TTL, an age after which
 * something counts as stuck): the app's own clocks, which must shrink with --time-scale like every timeout the
 * local cloud runs, or a scaled saga would meet unscaled deadlines. A value that is a non-negative number is
 * multiplied by `timeScale` and rounded to whole seconds, never below 1 (handlers read these as positive
 * integers) except that 0 stays 0; any other value is left alone.
 */
export function scaleDurationVariables(
  variables: Record<string, string>,
  timeScale: number,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => {
      const trimmed = value.trim();
      if (!name.endsWith(DURATION_VARIABLE_SUFFIX) || !NON_NEGATIVE_NUMBER.test(trimmed))
        return [name, value];
      const seconds = Number(trimmed);
      return [name, seconds === 0 ? '0' : String(Math.max(1, Math.round(seconds * timeScale)))];
    }),
  );
}

/**
 * What Lambda tells the runtime of a function's logging configuration: loggers (Powertools) read their level
 * from AWS_LAMBDA_LOG_LEVEL, so without it a function would log locally at another level than on AWS. Lambda
 * sets these itself and a function cannot override them, hence they come after its own variables.
 */
function loggingVariables(loggingConfig: unknown): Record<string, string> {
  if (!isRecord(loggingConfig)) return {};
  const { ApplicationLogLevel: level, LogFormat: format } = loggingConfig;
  return {
    ...(typeof level === 'string' && { AWS_LAMBDA_LOG_LEVEL: level }),
    ...(typeof format === 'string' && { AWS_LAMBDA_LOG_FORMAT: format }),
  };
}

/**
 * Every AWS::Lambda::Function of the template with a local bundle, its resolved environment and timeout.
 * Duration variables (`*_SECONDS`) come out scaled by `options.timeScale`; the timeout stays as written, since
 * the runner scales it per invocation.
 */
export function lambdaFunctionsFromTemplate(
  template: CfnTemplate,
  ctx: ResolveContext,
  options: LambdaFunctionsFromTemplateOptions,
): LambdaFunctionConfig[] {
  const configs: LambdaFunctionConfig[] = [];
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const assetPath = resource.Metadata?.['aws:asset:path'];
    // Inline code (e.g. CDK's custom-resource providers) has no asset: not something the saga invokes.
    if (typeof assetPath !== 'string') {
      continue;
    }
    const physical = ctx.resources[logicalId];
    if (!physical) {
      throw new Error(`No physical name for function ${logicalId}`);
    }
    const properties = resolveProperties(template, logicalId, ctx);
    const environment = isRecord(properties.Environment) ? properties.Environment.Variables : undefined;
    const variables: Record<string, string> = {};
    if (isRecord(environment)) {
      for (const [name, value] of Object.entries(environment)) {
        variables[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
    }
    const bundleDir = path.resolve(options.cdkOutDir, assetPath);
    if (!existsSync(bundleDir)) {
      throw new Error(`Bundle of ${logicalId} not found at ${bundleDir}: run cdk synth first`);
    }
    configs.push({
      logicalId,
      functionName: physical.ref,
      functionArn: physical.attributes.Arn ?? physical.ref,
      bundleDir,
      handler: typeof properties.Handler === 'string' ? properties.Handler : 'index.handler',
      environment: {
        ...scaleDurationVariables(variables, options.timeScale ?? 1),
        ...loggingVariables(properties.LoggingConfig),
      },
      timeoutSeconds: typeof properties.Timeout === 'number' ? properties.Timeout : 3,
      memoryMb: typeof properties.MemorySize === 'number' ? properties.MemorySize : 128,
      runtime: typeof properties.Runtime === 'string' ? properties.Runtime : undefined,
    });
  }
  return configs;
}
