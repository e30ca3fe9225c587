import { randomUUID } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import { LocalApiKeys } from './api-auth/api-keys.js';
import type { ApiAuthorizer, ApiCaller } from './api-auth/iam-authorizer.js';
import type { LocalTokenIssuer } from './api-auth/jwt.js';
import { userPoolsOf } from './api-auth/user-pools.js';
import { type CorrelationIdOf, noCorrelation } from './correlation.js';
import { GatewayResponses } from './gateway-responses.js';
import type { LambdaErrorShape, LambdaInvoker } from './stepfunctions-engine.js';
import {
  type CfnTemplate,
  isRecord,
  type ResolveContext,
  resolveIntrinsics,
  resourcesOfType,
} from './template.js';

/** API Gateway refuses bodies above 10 MB before anything else looks at them. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

interface Route {
  method: string;
  /** The resource path as API Gateway names it, e.g. /items/{itemId}. */
  resource: string;
  pattern: RegExp;
  parameterNames: string[];
  functionArn: string;
  /** arn:aws:execute-api:<region>:<account>:<apiId>/<stage>, what IAM policies name the API by. */
  apiArn: string;
  iamAuthorized: boolean;
  /** `<apiId>/<stage>` for a method that takes only keys of a usage plan on it; undefined when it needs none. */
  apiKeyStage?: string;
  /** A Cognito user pools authorizer's header and the issuers (pool URLs) whose ID tokens it takes. */
  userPools?: { header: string; issuers: string[] };
  requiredHeaders: string[];
  validateParameters: boolean;
  bodyValidators: Map<string, ValidateFunction>;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  sourceIp?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request as the trace tells it. */
export interface ApiExchange {
  method: string;
  /** The route as API Gateway names it (/items/{itemId}); the request's path when no route matched. */
  path: string;
  status: number;
  ms: number;
  /** From the path or the response, through correlationIdOf. */
  correlationId?: string;
  /** The function error behind a 502. */
  error?: LambdaErrorShape;
}

export interface LocalRestApiOptions {
  /** Called once per request, after the response is made. */
  onResponse?: (exchange: ApiExchange) => void;
  /** What a request is about, from its path parameters or its response body; see CorrelationIdOf. */
  correlationIdOf?: CorrelationIdOf;
  /**
   * Checks SigV4 and IAM on the methods the template authorizes with AWS_IAM. Without it they are open, so a
   * plain curl works.
   */
  authorizer?: ApiAuthorizer;
  /**
   * Checks the ID tokens of the methods the template authorizes with a Cognito user pool, as tokens of this
   * local issuer. Without it they are open, so a plain curl works.
   */
  tokenIssuer?: LocalTokenIssuer;
  /** The clock usage plans throttle and count by. Default: Date.now. */
  now?: () => number;
}

function responseCorrelationId(response: HttpResponse, correlationIdOf: CorrelationIdOf): string | undefined {
  try {
    return correlationIdOf(JSON.parse(response.body));
  } catch {
    return undefined;
  }
}

function logicalIdOf(reference: unknown): string | undefined {
  if (!isRecord(reference)) return undefined;
  if (typeof reference.Ref === 'string') return reference.Ref;
  const getAtt = reference['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string'
    ? `${getAtt[0]}.${String(getAtt[1])}`
    : undefined;
}

/**
 * The template's REST API run locally: its resources and Lambda proxy methods, its request validators and
 * models, its gateway responses, and with an authorizer its IAM (SigV4) authorization.
 */
export class LocalRestApi {
  private readonly routes: Route[] = [];
  private readonly gatewayResponses: GatewayResponses;
  /** The template's API keys with the values this local API takes. */
  readonly apiKeys: LocalApiKeys;

  constructor(
    template: CfnTemplate,
    ctx: ResolveContext,
    private readonly invoker: LambdaInvoker,
    private readonly options: LocalRestApiOptions = {},
  ) {
    const resources = template.Resources;
    const pathOf = (resourceRef: unknown): string => {
      const id = logicalIdOf(resourceRef);
      if (!id || id.endsWith('.RootResourceId')) return '';
      const properties = resources[id]?.Properties ?? {};
      return `${pathOf(properties.ParentId)}/${String(properties.PathPart)}`;
    };
    const ajv = new Ajv({ allErrors: true, strict: false });
    this.apiKeys = new LocalApiKeys(template, ctx, options.now);
    const stageOf = (restApiId: string | undefined): string => {
      const stage = resourcesOfType(template, 'AWS::ApiGateway::Stage').find(
        ([, candidate]) => logicalIdOf(candidate.Properties?.RestApiId) === restApiId,
      );
      return stage ? String(resolveIntrinsics({ Ref: stage[0] }, ctx)) : 'local';
    };

    for (const [, method] of resourcesOfType(template, 'AWS::ApiGateway::Method')) {
      const properties = method.Properties ?? {};
      const integration = isRecord(properties.Integration) ? properties.Integration : {};
      if (integration.Type !== 'AWS_PROXY') continue;
      const uri = String(resolveIntrinsics(integration.Uri, ctx));
      const functionArn = uri.match(/functions\/(.+)\/invocations/)?.[1];
      if (!functionArn) throw new Error(`Cannot find the function behind integration ${uri}`);
      const resource = pathOf(properties.ResourceId) || '/';
      const restApiId = logicalIdOf(properties.RestApiId);
      const apiId = restApiId ? String(resolveIntrinsics({ Ref: restApiId }, ctx)) : 'local';
      const parameterNames = [...resource.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? '');
      const validatorId = logicalIdOf(properties.RequestValidatorId);
      const validator = validatorId ? (resources[validatorId]?.Properties ?? {}) : {};
      const requestParameters = isRecord(properties.RequestParameters) ? properties.RequestParameters : {};
      const bodyValidators = new Map<string, ValidateFunction>();
      if (validator.ValidateRequestBody === true && isRecord(properties.RequestModels)) {
        for (const [contentType, modelRef] of Object.entries(properties.RequestModels)) {
          const modelId = logicalIdOf(modelRef);
          const schema = modelId ? resources[modelId]?.Properties?.Schema : undefined;
          if (!isRecord(schema)) continue;
          const { $schema: _draft, ...withoutDraft } = schema;
          bodyValidators.set(contentType.toLowerCase(), ajv.compile(withoutDraft));
        }
      }
      this.routes.push({
        method: String(properties.HttpMethod),
        resource,
        pattern: new RegExp(`^${resource.replace(/\{[^}]+\}/g, '([^/]+)')}$`),
        parameterNames,
        functionArn,
        apiArn: `arn:${ctx.partition}:execute-api:${ctx.region}:${ctx.accountId}:${apiId}/${stageOf(restApiId)}`,
        iamAuthorized: properties.AuthorizationType === 'AWS_IAM',
        apiKeyStage: properties.ApiKeyRequired === true ? `${apiId}/${stageOf(restApiId)}` : undefined,
        userPools:
          properties.AuthorizationType === 'COGNITO_USER_POOLS'
            ? userPoolsOf(resources[logicalIdOf(properties.AuthorizerId) ?? '']?.Properties ?? {}, ctx)
            : undefined,
        requiredHeaders: Object.entries(requestParameters)
          .filter(([name, required]) => name.startsWith('method.request.header.') && required === true)
          .map(([name]) => name.slice('method.request.header.'.length)),
        validateParameters: validator.ValidateRequestParameters === true,
        bodyValidators,
      });
    }

    this.gatewayResponses = new GatewayResponses(template);
  }

  get routeCount(): number {
    return this.routes.length;
  }

  async handle(request: HttpRequest): Promise<HttpResponse> {
    const started = performance.now();
    const method = request.method.toUpperCase();
    const exchange: Omit<ApiExchange, 'status' | 'ms'> = {
      method,
      path: new URL(request.url, 'http://local').pathname,
    };
    const response = await this.respond(request, exchange);
    this.options.onResponse?.({
      ...exchange,
      correlationId:
        exchange.correlationId ??
        responseCorrelationId(response, this.options.correlationIdOf ?? noCorrelation),
      status: response.status,
      ms: performance.now() - started,
    });
    return response;
  }

  private async respond(
    request: HttpRequest,
    exchange: Omit<ApiExchange, 'status' | 'ms'>,
  ): Promise<HttpResponse> {
    const requestId = randomUUID();
    const url = new URL(request.url, 'http://local');
    const method = request.method.toUpperCase();
    const candidates = this.routes.filter((route) => route.pattern.test(url.pathname));
    const route = candidates.find((candidate) => candidate.method === method || candidate.method === 'ANY');
    if (!route) {
      return this.gatewayResponses.error(
        'MISSING_AUTHENTICATION_TOKEN',
        403,
        'Missing Authentication Token',
        '',
        requestId,
      );
    }
    exchange.path = route.resource;
    if (Buffer.byteLength(request.body, 'utf8') > MAX_REQUEST_BYTES) {
      return this.gatewayResponses.error('REQUEST_TOO_LARGE', 413, 'Request Too Long', '', requestId);
    }
    let caller: ApiCaller | undefined;
    if (route.iamAuthorized && this.options.authorizer) {
      // API Gateway authorizes before it validates: a refused caller learns nothing about the request's shape.
      const methodArn = `${route.apiArn}/${method}${url.pathname}`;
      const decision = await this.options.authorizer.check(request, methodArn);
      if (!('caller' in decision)) {
        const { responseType, message, errorType } = decision;
        return this.gatewayResponses.error(responseType, 403, message, '', requestId, errorType);
      }
      caller = decision.caller;
    }
    let claims: Record<string, string> | undefined;
    if (route.userPools && this.options.tokenIssuer) {
      const wanted = route.userPools.header.toLowerCase();
      const token = Object.entries(request.headers).find(([name]) => name.toLowerCase() === wanted)?.[1];
      const check = this.options.tokenIssuer.check([token].flat()[0], route.userPools.issuers);
      if (!check.ok) {
        return this.gatewayResponses.error(
          'UNAUTHORIZED',
          401,
          check.message,
          '',
          requestId,
          'UnauthorizedException',
        );
      }
      // API Gateway hands the function every claim as a string.
      claims = Object.fromEntries(Object.entries(check.claims).map(([name, value]) => [name, String(value)]));
    }
    if (route.apiKeyStage) {
      // After authorization, as API Gateway orders its checks: a usage plan meters authorized callers only.
      const key = Object.entries(request.headers).find(([name]) => name.toLowerCase() === 'x-api-key')?.[1];
      const refusal = this.apiKeys.check([key].flat()[0], route.apiKeyStage);
      if (refusal) {
        const { responseType, status, message, errorType } = refusal;
        return this.gatewayResponses.error(responseType, status, message, '', requestId, errorType);
      }
    }

    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined) continue;
      const values = Array.isArray(value) ? value : [value];
      multiValueHeaders[name] = values;
      headers[name] = values.at(-1) ?? '';
    }
    const headerValue = (name: string) =>
      Object.entries(headers).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];

    if (route.validateParameters) {
      const missing = route.requiredHeaders.filter((name) => !headerValue(name));
      if (missing.length > 0) {
        return this.gatewayResponses.error(
          'BAD_REQUEST_PARAMETERS',
          400,
          `Missing required request parameters: [${missing.join(', ')}]`,
          `Missing required request parameters: [${missing.join(', ')}]`,
          requestId,
        );
      }
    }
    const contentType =
      headerValue('content-type')?.split(';')[0]?.trim().toLowerCase() ?? 'application/json';
    const validateBody = route.bodyValidators.get(contentType);
    if (validateBody) {
      let document: unknown;
      try {
        document = JSON.parse(request.body);
      } catch {
        return this.gatewayResponses.error(
          'BAD_REQUEST_BODY',
          400,
          'Invalid request body',
          '[Invalid JSON]',
          requestId,
        );
      }
      if (!validateBody(document)) {
        const problems = (validateBody.errors ?? []).map(
          (error) => `${error.instancePath || '/'} ${error.message ?? error.keyword}`,
        );
        return this.gatewayResponses.error(
          'BAD_REQUEST_BODY',
          400,
          'Invalid request body',
          `[${problems.join(', ')}]`,
          requestId,
        );
      }
    }

    const match = url.pathname.match(route.pattern);
    const pathParameters = Object.fromEntries(
      route.parameterNames.map((name, index) => [name, decodeURIComponent(match?.[index + 1] ?? '')]),
    );
    exchange.correlationId = (this.options.correlationIdOf ?? noCorrelation)({ pathParameters });
    const query = [...url.searchParams.entries()];
    const event = {
      resource: route.resource,
      path: url.pathname,
      httpMethod: method,
      headers,
      multiValueHeaders,
      queryStringParameters: query.length > 0 ? Object.fromEntries(query) : null,
      multiValueQueryStringParameters:
        query.length > 0
          ? Object.fromEntries(query.map(([key]) => [key, url.searchParams.getAll(key)]))
          : null,
      pathParameters: route.parameterNames.length > 0 ? pathParameters : null,
      stageVariables: null,
      requestContext: {
        requestId,
        resourcePath: route.resource,
        httpMethod: method,
        path: url.pathname,
        stage: 'local',
        identity: {
          sourceIp: request.sourceIp ?? '127.0.0.1',
          userAgent: headerValue('user-agent') ?? null,
          // What an IAM-authorized method tells the function about its caller.
          ...(caller ? { ...caller, caller: caller.userArn, user: caller.userArn } : {}),
        },
        ...(claims ? { authorizer: { claims } } : {}),
        requestTimeEpoch: Date.now(),
      },
      body: request.body === '' ? null : request.body,
      isBase64Encoded: false,
    };

    const outcome = await this.invoker.invoke(route.functionArn, event);
    if (!outcome.ok) exchange.error = outcome.error;
    const result = outcome.ok && isRecord(outcome.payload) ? outcome.payload : undefined;
    if (!result || typeof result.statusCode !== 'number') {
      // What API Gateway does with a function error or a malformed proxy response.
      return this.gatewayResponses.error('DEFAULT_5XX', 502, 'Internal server error', '', requestId);
    }
    const responseHeaders: Record<string, string> = { 'x-amzn-requestid': requestId };
    if (isRecord(result.headers)) {
      for (const [name, value] of Object.entries(result.headers))
        responseHeaders[name.toLowerCase()] = String(value);
    }
    const body = typeof result.body === 'string' ? result.body : '';
    return {
      status: result.statusCode,
      headers: responseHeaders,
      body: result.isBase64Encoded === true ? Buffer.from(body, 'base64').toString('utf8') : body,
    };
  }
}
