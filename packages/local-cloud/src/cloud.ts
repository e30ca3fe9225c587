import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { LocalApiKey } from './api-auth/api-keys.js';
import { type ApiIdentity, createIamAuthorizer } from './api-auth/iam-authorizer.js';
import { LocalTokenIssuer } from './api-auth/jwt.js';
import { type LocalUserPoolTokens, localUserPoolTokens } from './api-auth/user-pools.js';
import { LocalRestApi } from './api-gateway.js';
import type { CloudAssembly } from './assembly.js';
import { type AwsCallHook, answerOrBody, sendAnswer } from './aws-calls/http-front.js';
import { interceptAwsCalls, nextStateMachineAccessKeyId } from './aws-calls/install.js';
import type { AwsCallCount } from './aws-calls/interceptor.js';
import { bootEmulators, createTemplateResources, resolvedOutputs, traceDeadLetters } from './cloud/boot.js';
import {
  createFunctionRunner,
  functionConstructIds,
  functionFaultTargets,
  registerFunctions,
} from './cloud/functions.js';
import { closeServer, createApiServer, loopbackUrl } from './cloud/http-server.js';
import { functionOutputRoutes, localRoutes } from './cloud/local-routes.js';
import { registerStateMachines } from './cloud/state-machines.js';
import { type CorrelationIdOf, noCorrelation } from './correlation.js';
import { type LocalEndpoints, publishLocalEndpoints } from './endpoints-file.js';
import { eventSourceFaultTargets, startEventSources } from './event-sources.js';
import { FaultRegistry } from './faults.js';
import { FunctionLogs } from './function-logs.js';
import { IamEnforcement, type IamReport } from './iam/enforcement.js';
import { FaultInjectingInvoker } from './invoker.js';
import { MetricTotals } from './metrics.js';
import { startSchedules } from './schedules.js';
import { LocalSecrets, secretsManagerOperation } from './secrets-manager.js';
import { StepFunctionsApi } from './sfn-api.js';
import { createSqsClient } from './sqs.js';
import { type LocalExecution, TaskTokenRegistry } from './stepfunctions-engine.js';
import type { CfnTemplate, PhysicalNames } from './template.js';
import { createTracer } from './trace.js';

export interface LocalCloudOptions {
  projectRoot: string;
  /** Port of the API (and of /_local/); 0 picks a free one. */
  port: number;
  /**
   * Multiplies every timeout, retry interval, heartbeat and schedule period, and the functions' duration
   * variables (environment variables named `*_SECONDS`, see scaleDurationVariables).
   */
  timeScale: number;
  /**
   * Sandboxes (worker threads) each function may run at once; invocations beyond wait in a queue, and that wait
   * counts against the calling state's timeout as a slow function's would. Default 2: enough for a person or a
   * test suite, too few for a load test of hundreds of concurrent sagas.
   */
  maxWorkersPerFunction?: number;
  /** Re-synthesize even when cdk.out is fresh. */
  forceSynth?: boolean;
  /**
   * Run this synthesized cloud assembly as it is instead of projectRoot's cdk.out, never synthesizing: for a
   * test that runs a changed copy of the template (a grant taken away).
   */
  assemblyDir?: string;
  /**
   * Files and folders under projectRoot whose changes make cdk.out stale (it is re-synthesized when one is
   * newer). Default DEFAULT_SYNTH_SOURCES: bin, lib, cdk.json, package-lock.json.
   */
  synthSources?: readonly string[];
  /**
   * What a payload is about (a step input, a queue message, a stream record, an API path or response): the
   * trace's second column and what a fault's correlation field targets. Nothing is correlated without it.
   */
  correlationIdOf?: CorrelationIdOf;
  /** The field of a POST /_local/faults body that names the correlation id a fault targets. Default `correlationId`. */
  faultCorrelationField?: string;
  /**
   * Runs once the tables and queues exist and the functions are registered, before the event sources poll
   * and the API listens: the place to seed tables.
   */
  prepare?: (resources: LocalCloudResources) => Promise<void>;
  /**
   * The app's own routes beside the built-in /_local/ ones, keyed `'METHOD /path'` (for example
   * `'GET /_local/snapshot'`); a built-in route of the same key wins.
   */
  routes?: (resources: LocalCloudResources) => Record<string, LocalRouteHandler>;
  /** Where the live trace goes; silent when omitted. */
  trace?: (line: string) => void;
  color?: boolean;
  /**
   * Write the endpoints to `.local-cloud/endpoints.json` under projectRoot while running, for scripts
   * (`npm run redrive -- --local`). Only `npm start` does: a test suite or a benchmark booting its own local
   * cloud beside it must not replace or delete that file. Default false.
   */
  publishEndpoints?: boolean;
  /**
   * Evaluate every AWS call of the functions, state machines and event-source pollers against the caller's role
   * policies from the template, and answer AccessDenied as AWS would. Default true; false trusts every call.
   */
  iam?: boolean;
  /**
   * Callers of the REST API. Given, methods the template authorizes with AWS_IAM need a SigV4 signature by one
   * of these keys and an execute-api:Invoke grant in the caller's policies; omitted, they are open (a plain curl
   * works). Default: omitted.
   */
  apiIdentities?: ApiIdentity[];
  /**
   * Check the ID tokens of the methods the template authorizes with a Cognito user pool, against a local issuer
   * (a key made at start) standing in for the pool; `LocalCloud.userPoolTokens` signs them. Default false: those
   * methods are open, so a plain curl works.
   */
  auth?: boolean;
}

/** The running emulators and the stack's names in them, for an app's seed, routes and checks. */
export interface LocalCloudResources {
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  template: CfnTemplate;
  /** Stack outputs, resolved to local names and ARNs. */
  outputs: Record<string, string>;
  /** Every resource's local physical name (Ref) and attributes, by logical id. */
  names: PhysicalNames;
}

export interface LocalCloud {
  apiUrl: string;
  endpoints: { dynamodb: string; sqs: string; sfn: string };
  assembly: CloudAssembly;
  /** Stack outputs, resolved to local names and ARNs. */
  outputs: Record<string, string>;
  faults: FaultRegistry;
  /** DynamoDB Local's Java process, for measuring what the local cloud costs. */
  dynamodbPid: number;
  resources: LocalCloudResources;
  executions(): LocalExecution[];
  /** How many AWS calls each function and state machine made, by operation, resource and correlation id. */
  awsCalls(correlationId?: string): AwsCallCount[];
  /** Each role's grants and how often each was used, and every denied call; undefined with `iam: false`. */
  iamReport(): IamReport | undefined;
  /** Signs ID tokens the local API accepts; undefined without `auth` or without a user pool authorizer. */
  userPoolTokens?: LocalUserPoolTokens;
  /** The template's API keys with the values the local API takes (deterministic per stack and key). */
  apiKeys: LocalApiKey[];
  stop(): Promise<void>;
}

/** Answers one route: the body is sent as JSON (nothing when undefined). */
export type LocalRouteHandler = (
  request: IncomingMessage,
  body: string,
) => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;

/**
 * Runs the synthesized stack on this machine: tables in DynamoDB Local, queues in fauxqs, the state
 * machine in aws-local-stepfunctions, every function from its bundle in cdk.out with its resolved
 * environment, and the API on loopback. Everything is derived from the template; nothing is listed by hand.
 */
export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const tracer = createTracer(options.trace ?? (() => undefined), options.color ?? false, {
    correlationIdOf: options.correlationIdOf ?? noCorrelation,
  });
  const stack: Array<() => Promise<void>> = [];
  // Stops run newest first; splice empties the list so a second stop() does nothing.
  const stopAll = async () => {
    for (const stop of stack.splice(0).reverse()) await stop().catch(() => undefined);
  };
  /** Registers a started service's stop as soon as it is up, so a failed start stops what did start. */
  const started = async <T extends { stop(): Promise<void> }>(service: Promise<T>): Promise<T> => {
    const running = await service;
    stack.push(() => running.stop());
    return running;
  };

  try {
    const { assembly, dynamodb, dynamodbProxy, sqs, sfnPort, sqsProxy, sqsClient } = await bootEmulators(
      options,
      tracer,
      started,
    );
    const { template, names, ctx, queues } = await createTemplateResources(
      assembly,
      dynamodb,
      sqsClient,
      sqsProxy.endpoint,
      options.timeScale,
    );
    const outputs = resolvedOutputs(template, ctx);
    const stopTracingDeadLetters = traceDeadLetters(tracer, sqs, queues);
    stack.push(async () => stopTracingDeadLetters());

    const sfnEndpoint = `http://127.0.0.1:${sfnPort}`;
    const secrets = new LocalSecrets(template, names);
    const endpoints = { dynamodb: dynamodb.endpoint, sqs: sqsProxy.endpoint, sfn: sfnEndpoint };
    const labels = functionConstructIds(template, names);
    const functionOutput = { metrics: new MetricTotals(), logs: new FunctionLogs() };
    const runner = createFunctionRunner(
      tracer,
      labels,
      // Secrets Manager is served beside the Step Functions API, behind the same interception layer.
      { ...endpoints, dynamodb: dynamodbProxy.endpoint, secretsmanager: sfnEndpoint },
      options.timeScale,
      options.maxWorkersPerFunction,
      functionOutput,
    );
    stack.push(() => runner.stop());
    registerFunctions(runner, template, ctx, assembly.cdkOutDir, options.timeScale);

    const iam =
      options.iam === false
        ? undefined
        : new IamEnforcement(template, ctx, {
            onDenial: (denial) =>
              tracer.note(
                undefined,
                denial.principal,
                `AccessDenied: ${denial.action} on ${denial.resource}`,
              ),
            executionOfTaskToken: (token) => taskTokens.executionOf(token),
            secretArnOf: (name) => secrets.find(name)?.arn,
          });
    const faults = new FaultRegistry({ correlationField: options.faultCorrelationField });
    // The catalogue: a fault is accepted only at a name something is invoked by, with the modes it can take.
    faults.addTargets(functionFaultTargets(template, names));
    const invoker = new FaultInjectingInvoker(runner, faults, tracer, options.timeScale, labels);
    const taskTokens = new TaskTokenRegistry();
    const sfnApi = new StepFunctionsApi(taskTokens);
    // Runs before the functions stop: no saga keeps retrying into a runner that is gone.
    stack.push(async () => {
      for (const execution of sfnApi.allExecutions())
        execution.stop('LocalCloudStopped', 'The local cloud stopped');
    });
    const stateMachineCallers = new Map<string, string>();
    const sqsClientFor = (stateMachine: string) => {
      const accessKeyId = nextStateMachineAccessKeyId();
      stateMachineCallers.set(accessKeyId, stateMachine);
      return createSqsClient(sqsProxy.endpoint, ctx.region, accessKeyId);
    };
    const taskTargets = await registerStateMachines(sfnApi, {
      template,
      names,
      ctx,
      timeScale: options.timeScale,
      invoker,
      sqsClientFor,
      taskTokens,
      tracer,
      faults,
      iam,
    });
    faults.addTargets(taskTargets);

    const sfnFront = { hook: undefined as AwsCallHook | undefined };
    const sfnServer = createServer((request, response) => {
      const secretsOperation = secretsManagerOperation(request);
      void answerOrBody(request, sfnFront.hook).then(({ answer, body }) => {
        if (answer) sendAnswer(response, answer);
        else if (secretsOperation) secrets.handle(secretsOperation, body.toString('utf8'), response);
        else void sfnApi.handle(request, response, body.toString('utf8'));
      });
    });
    const { interceptor, senderIds } = interceptAwsCalls({
      template,
      names,
      faults,
      runner,
      functionLabels: labels,
      stateMachineCallers,
      tracer,
      fronts: [dynamodbProxy, sqsProxy, { interceptWith: (hook) => (sfnFront.hook = hook) }],
      iam,
      sqsFront: sqsProxy,
    });
    await new Promise<void>((resolve) => sfnServer.listen(sfnPort, '127.0.0.1', resolve));
    stack.push(() => closeServer(sfnServer));

    const resources: LocalCloudResources = {
      dynamodb: dynamodb.client,
      sqs: sqsClient,
      template,
      outputs,
      names,
    };
    await options.prepare?.(resources);

    const tokenIssuer = options.auth ? new LocalTokenIssuer() : undefined;
    // The API's calls are traced as requests (route, status, correlation id), not as function invocations.
    const restApi = new LocalRestApi(template, ctx, invoker.untraced(), {
      onResponse: tracer.api,
      correlationIdOf: tracer.correlationIdOf,
      authorizer: options.apiIdentities
        ? createIamAuthorizer(template, ctx, options.apiIdentities)
        : undefined,
      tokenIssuer,
    });
    const schedules = startSchedules({
      template,
      ctx,
      invoker,
      timeScale: options.timeScale,
      onTrace: tracer.info,
    });
    stack.push(async () => schedules.stop());

    const routes = localRoutes(options.routes?.(resources), schedules, faults);
    // What each function and state machine called, for one correlation id with ?<field>=…
    routes['GET /_local/calls'] = async (request) => {
      const query = new URL(request.url ?? '/', 'http://local').searchParams;
      const correlationId = query.get(options.faultCorrelationField ?? 'correlationId') ?? undefined;
      return { status: 200, body: { calls: interceptor.callCounts(correlationId) } };
    };
    // The secrets' values, made at boot: a test derives what the functions derive with them.
    routes['GET /_local/secrets'] = async () => ({ status: 200, body: { secrets: secrets.list() } });
    // Which grants each role used and which calls were denied: what a too-broad or missing grant looks like.
    routes['GET /_local/iam'] = async () =>
      iam ? { status: 200, body: iam.report() } : { status: 404, body: { error: { code: 'IamOff' } } };

    const constructIds = new Set(labels.values());
    Object.assign(
      routes,
      functionOutputRoutes(functionOutput.metrics, functionOutput.logs, (name) =>
        constructIds.has(name) ? name : labels.get(name),
      ),
    );

    await Promise.all(runner.functions().map((config) => runner.prewarm(config.functionName)));

    const eventSources = await startEventSources({
      template,
      ctx,
      invoker,
      sqsClient,
      dynamodbEndpoint: dynamodb.endpoint,
      timeScale: options.timeScale,
      correlationIdOf: tracer.correlationIdOf,
      senderIdOf: (messageId) => senderIds.of(messageId),
      authorize:
        iam && ((functionName, action, resource) => iam.authorizePoller(functionName, action, resource)),
      onTrace: ({ mapping, correlationId, message }) => tracer.note(correlationId, mapping, message),
      // Asked before a batch is delivered: a duplicate-delivery fault on the function or the queue repeats it.
      duplicateDelivery: (targets, correlationId) => {
        const hit = faults.take(targets, correlationId, ['duplicate-delivery']) !== undefined;
        if (hit)
          tracer.fault(correlationId, targets[1] ?? targets[0] ?? 'event source', 'duplicate-delivery');
        return hit;
      },
    });
    stack.push(() => eventSources.stop());
    faults.addTargets(eventSourceFaultTargets(eventSources.mappings));

    const functionNames = new Map(
      [...labels].map(([functionName, constructId]) => [constructId, functionName]),
    );
    const apiServer = createApiServer(routes, schedules, restApi, async (name, event) => {
      // A name, a construct id, or an ARN as a state's FunctionName gives it.
      const functionName =
        functionNames.get(name) ?? name.replace(/^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+).*$/, '$1');
      if (!labels.has(functionName)) return undefined;
      const outcome = await invoker.invoke(functionName, event);
      return outcome.ok ? { ok: true, payload: outcome.payload } : { ok: false, error: outcome.error };
    });
    await new Promise<void>((resolve, reject) => {
      apiServer.once('error', reject);
      apiServer.listen(options.port, '127.0.0.1', resolve);
    });
    stack.push(() => closeServer(apiServer));
    const apiUrl = `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
    // Other processes cannot resolve sqs.<region>.localhost; the loopback address reaches the same proxy.
    const publicEndpoints = { ...endpoints, sqs: loopbackUrl(endpoints.sqs) };
    const unpublish = await publishEndpointsIfAsked(options, {
      api: apiUrl,
      ...publicEndpoints,
      region: ctx.region,
    });
    if (unpublish) stack.push(unpublish);

    return {
      apiUrl,
      endpoints: publicEndpoints,
      assembly,
      outputs,
      faults,
      dynamodbPid: dynamodb.pid,
      resources,
      executions: () => sfnApi.allExecutions(),
      awsCalls: (correlationId) => interceptor.callCounts(correlationId),
      iamReport: () => iam?.report(),
      userPoolTokens: tokenIssuer ? localUserPoolTokens(template, ctx, tokenIssuer) : undefined,
      apiKeys: restApi.apiKeys.keys,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Writes `.local-cloud/endpoints.json` only for a cloud started with publishEndpoints (npm start), and returns
 * what removes it on stop; any other local cloud leaves the file, and the cloud it names, alone.
 */
export async function publishEndpointsIfAsked(
  options: Pick<LocalCloudOptions, 'projectRoot' | 'publishEndpoints'>,
  endpoints: LocalEndpoints,
): Promise<(() => Promise<void>) | undefined> {
  return options.publishEndpoints ? publishLocalEndpoints(options.projectRoot, endpoints) : undefined;
}
