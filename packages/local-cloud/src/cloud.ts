import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { LocalRestApi } from './api-gateway.js';
import { type CloudAssembly, ensureCloudAssembly } from './assembly.js';
import { type CorrelationIdOf, noCorrelation } from './correlation.js';
import { createTablesFromTemplate, startDynamoDbLocal, tableAttributes } from './dynamodb.js';
import { type LocalEndpoints, publishLocalEndpoints } from './endpoints-file.js';
import { startEventSources } from './event-sources.js';
import { FaultRegistry, FaultValidationError } from './faults.js';
import { FaultInjectingInvoker } from './invoker.js';
import { createLambdaRunner, emulatorEnvironment, lambdaFunctionsFromTemplate } from './lambda-runner.js';
import { findFreePort, readBody } from './net.js';
import { type LocalSchedules, startSchedules, UnknownScheduleError } from './schedules.js';
import { StepFunctionsApi } from './sfn-api.js';
import {
  type CreatedQueue,
  createQueuesFromTemplate,
  createSqsClient,
  type SqsLocal,
  startSqsLocal,
} from './sqs.js';
import { startSqsMoveTaskProxy } from './sqs-move-tasks.js';
import {
  createLocalStateMachine,
  type LocalExecution,
  sqsSendMessageIntegration,
  TaskTokenRegistry,
} from './stepfunctions-engine.js';
import { findLocallyUnsupported } from './support.js';
import {
  type CfnTemplate,
  constructIdOf,
  createResolveContext,
  loadTemplate,
  type PhysicalNames,
  physicalNames,
  type ResolveContext,
  resolveIntrinsics,
  resolveStateMachineDefinition,
  resourcesOfType,
  withAttributes,
} from './template.js';
import { createTracer, type Tracer, traceExecutions } from './trace.js';

export interface LocalCloudOptions {
  projectRoot: string;
  /** Port of the API (and of /_local/); 0 picks a free one. */
  port: number;
  /**
   * Multiplies every timeout, retry interval, heartbeat and schedule period, and the functions' duration
   * variables (environment variables named `*_SECONDS`, see scaleDurationVariables).
   */
  timeScale: number;
  /** Re-synthesize even when cdk.out is fresh. */
  forceSynth?: boolean;
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
  stop(): Promise<void>;
}

/** Answers one route: the body is sent as JSON (nothing when undefined). */
export type LocalRouteHandler = (
  request: IncomingMessage,
  body: string,
) => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;
type RouteHandler = LocalRouteHandler;

export function jsonReply(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(body === undefined ? '' : JSON.stringify(body));
}

function resolvedOutputs(template: CfnTemplate, ctx: ResolveContext): Record<string, string> {
  return Object.fromEntries(
    Object.entries(template.Outputs ?? {}).map(([name, output]) => [
      name,
      String(resolveIntrinsics((output as { Value: unknown }).Value, ctx)),
    ]),
  );
}

/** Traces SQS's moves to a dead-letter queue: the queue, its DLQ, and what the message was about. */
function traceDeadLetters(tracer: Tracer, sqs: SqsLocal, queues: CreatedQueue[]): () => void {
  const byName = new Map(queues.map((queue) => [queue.queueName, queue]));
  return sqs.onDeadLetter((moved) => {
    const queue = byName.get(moved.queueName);
    tracer.deadLetter(
      tracer.correlationIdOf({ Records: [{ body: moved.body }] }),
      moved.queueName,
      queue?.deadLetterQueueName ?? 'its dead-letter queue',
      queue?.maxReceiveCount,
    );
  });
}

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
    const [assembly, dynamodb, sqs, sfnPort] = await Promise.all([
      ensureCloudAssembly(options.projectRoot, {
        force: options.forceSynth,
        log: tracer.info,
        sources: options.synthSources,
      }),
      started(startDynamoDbLocal()),
      started(startSqsLocal()),
      findFreePort(),
    ]);
    // Everything SQS goes through the proxy, which adds the DLQ redrive API fauxqs lacks; queue URLs carry
    // its address, so the SDK sees one endpoint.
    const sqsProxy = await started(startSqsMoveTaskProxy({ sqsEndpoint: sqs.endpoint, client: sqs.client }));
    const sqsClient = createSqsClient(sqsProxy.endpoint);
    const template = loadTemplate(assembly.templatePath);
    const nameOptions = { stackName: assembly.stackName, sqsEndpoint: sqsProxy.endpoint };
    let names = physicalNames(template, nameOptions);
    const bootstrapContext = createResolveContext(names, { ...nameOptions, template });
    const [tables, queues] = await Promise.all([
      createTablesFromTemplate(dynamodb.client, template, names, bootstrapContext),
      createQueuesFromTemplate(sqsClient, template, names, bootstrapContext, {
        timeScale: options.timeScale,
      }),
    ]);
    names = withAttributes(names, tableAttributes(tables));
    const ctx = createResolveContext(names, { ...nameOptions, template });
    const outputs = resolvedOutputs(template, ctx);
    const stopTracingDeadLetters = traceDeadLetters(tracer, sqs, queues);
    stack.push(async () => stopTracingDeadLetters());

    const sfnEndpoint = `http://127.0.0.1:${sfnPort}`;
    const endpoints = { dynamodb: dynamodb.endpoint, sqs: sqsProxy.endpoint, sfn: sfnEndpoint };
    const labels = functionConstructIds(template, names);
    const runner = createLambdaRunner({
      timeScale: options.timeScale,
      baseEnvironment: emulatorEnvironment(endpoints),
      // Handlers log JSON lines; their warnings and errors get a line each, unless the trace already tells it.
      onLog: (functionName, _stream, line) =>
        tracer.handlerLog(labels.get(functionName) ?? functionName, line),
    });
    stack.push(() => runner.stop());
    for (const config of lambdaFunctionsFromTemplate(template, ctx, {
      cdkOutDir: assembly.cdkOutDir,
      timeScale: options.timeScale,
    }))
      runner.register(config);

    const faults = new FaultRegistry({ correlationField: options.faultCorrelationField });
    const invoker = new FaultInjectingInvoker(runner, faults, tracer, options.timeScale, labels);
    const taskTokens = new TaskTokenRegistry();
    const sfnApi = new StepFunctionsApi(taskTokens);
    // Runs before the functions stop: no saga keeps retrying into a runner that is gone.
    stack.push(async () => {
      for (const execution of sfnApi.allExecutions())
        execution.stop('LocalCloudStopped', 'The local cloud stopped');
    });
    for (const [logicalId] of resourcesOfType(template, 'AWS::StepFunctions::StateMachine')) {
      const arn = names[logicalId]?.ref;
      if (!arn) throw new Error(`No local ARN for state machine ${logicalId}`);
      const definition = resolveStateMachineDefinition(template, logicalId, ctx);
      const unsupported = findLocallyUnsupported(definition);
      if (unsupported.length > 0)
        throw new Error(`State machine ${logicalId} cannot run locally:\n  ${unsupported.join('\n  ')}`);
      sfnApi.addStateMachine(
        await createLocalStateMachine({
          definition,
          stateMachineArn: arn,
          timeScale: options.timeScale,
          lambda: invoker,
          integrations: { 'arn:aws:states:::sqs:sendMessage': sqsSendMessageIntegration(sqsClient) },
          taskTokens,
          onHistoryEvent: traceExecutions(tracer, constructIdOf(template, logicalId)),
        }),
      );
    }

    const sfnServer = createServer((request, response) => void sfnApi.handle(request, response));
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

    // The API's calls are traced as requests (route, status, correlation id), not as function invocations.
    const restApi = new LocalRestApi(template, ctx, invoker.untraced(), {
      onResponse: tracer.api,
      correlationIdOf: tracer.correlationIdOf,
    });
    const schedules = startSchedules({
      template,
      ctx,
      invoker,
      timeScale: options.timeScale,
      onTrace: tracer.info,
    });
    stack.push(async () => schedules.stop());

    const localRoutes: Record<string, RouteHandler> = {
      ...options.routes?.(resources),
      'GET /_local/schedules': async () => ({ status: 200, body: { schedules: schedules.list() } }),
      'POST /_local/faults': async (_request, body) => {
        try {
          return { status: 201, body: faults.add(JSON.parse(body || 'null')) };
        } catch (error) {
          if (error instanceof FaultValidationError || error instanceof SyntaxError) {
            return { status: 400, body: { error: { code: 'InvalidFault', message: error.message } } };
          }
          throw error;
        }
      },
      'GET /_local/faults': async () => ({ status: 200, body: { faults: faults.list() } }),
      'DELETE /_local/faults': async () => {
        faults.clear();
        return { status: 204, body: undefined };
      },
    };

    await Promise.all(runner.functions().map((config) => runner.prewarm(config.functionName)));

    const eventSources = await startEventSources({
      template,
      ctx,
      invoker,
      sqsClient,
      dynamodbEndpoint: dynamodb.endpoint,
      timeScale: options.timeScale,
      correlationIdOf: tracer.correlationIdOf,
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

    const apiServer = createServer((request, response) => {
      void (async () => {
        const path = new URL(request.url ?? '/', 'http://local').pathname;
        const scheduleToRun =
          request.method === 'POST' ? path.match(/^\/_local\/schedules\/([^/]+)\/run$/)?.[1] : undefined;
        const route = scheduleToRun
          ? () => runSchedule(schedules, decodeURIComponent(scheduleToRun))
          : localRoutes[`${request.method} ${path}`];
        try {
          const body = await readBody(request);
          if (route) {
            const result = await route(request, body);
            jsonReply(response, result.status, result.body, result.headers);
          } else {
            const result = await restApi.handle({
              method: request.method ?? 'GET',
              url: request.url ?? '/',
              headers: request.headers,
              body,
              sourceIp: request.socket.remoteAddress,
            });
            response.writeHead(result.status, result.headers);
            response.end(result.body);
          }
        } catch (error) {
          jsonReply(response, 500, { error: { code: 'LocalCloudError', message: (error as Error).message } });
        }
      })();
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
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Each function's construct id by function name ('ShippingWorker'), what faults target and the trace shows. */
function functionConstructIds(template: CfnTemplate, names: PhysicalNames): Map<string, string> {
  const ids = new Map<string, string>();
  for (const [logicalId] of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const functionName = names[logicalId]?.ref;
    if (functionName) ids.set(functionName, constructIdOf(template, logicalId));
  }
  return ids;
}

async function runSchedule(schedules: LocalSchedules, name: string): ReturnType<RouteHandler> {
  try {
    return { status: 200, body: await schedules.runNow(name) };
  } catch (error) {
    if (error instanceof UnknownScheduleError) {
      return { status: 404, body: { error: { code: 'UnknownSchedule', message: error.message } } };
    }
    throw error;
  }
}

function loopbackUrl(url: string): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  return parsed.origin;
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

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
