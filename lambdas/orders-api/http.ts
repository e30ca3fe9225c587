import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { THROTTLING_ERROR_NAMES } from '../shared/errors.js';
import { beginInvocation, errorFields, logger } from '../shared/logger.js';
import { flushMetrics, unexpectedErrorMetric } from '../shared/metrics.js';

/** An error answered as `{ "error": { code, message, details? } }` with its status; never a stack trace. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Seconds after which a retry may succeed; sent as Retry-After. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** `requestId`: API Gateway's id of the request, which a caller quotes to support and operators find in the logs. */
export function errorResponse(error: ApiError, requestId?: string): APIGatewayProxyResult {
  const retryAfterSeconds =
    error.retryAfterSeconds ?? (error.status === 429 || error.status === 503 ? 1 : undefined);
  const retryAfter =
    retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) };
  return json(
    error.status,
    {
      error: {
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
        ...(requestId ? { requestId } : {}),
      },
    },
    retryAfter,
  );
}

/** Header lookup as HTTP defines it: case-insensitive. */
export function header(event: Pick<APIGatewayProxyEvent, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

export function bodyText(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** What an X-Ray trace root looks like; anything else in the header is a caller's text, not a trace id. */
const TRACE_ROOT = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;

/**
 * The trace id to carry through the saga: X-Ray's Root when the header holds a well-formed one, else a
 * fresh one, so a caller cannot make the order store or log text of its choosing.
 */
export function traceIdOf(event: Pick<APIGatewayProxyEvent, 'headers'>, fallback: () => string): string {
  const root = header(event, 'X-Amzn-Trace-Id')?.match(/Root=([^;]+)/)?.[1];
  return root && TRACE_ROOT.test(root) ? root : fallback();
}

export type Route = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/**
 * The one wrapper every API handler shares: dispatch by API Gateway resource and method, answer ApiErrors
 * as they are, throttling as 429, and anything else as a 500 that leaks nothing. Every line of the request
 * carries its order id (when the path names one) and its trace id; its metrics are flushed once, at the end.
 */
export function apiHandler(routes: Record<string, Route>, functionLabel = 'OrdersApi') {
  return async (event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> => {
    const route = routes[`${event.httpMethod} ${event.resource}`];
    const orderId = event.pathParameters?.orderId;
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId;
    beginInvocation(context, {
      traceId: traceIdOf(event, () => '') || undefined,
      ...(orderId && ORDER_ID_SHAPE.test(orderId) ? { orderId } : {}),
    });
    try {
      if (!route) throw new ApiError(404, 'NotFound', `No route for ${event.httpMethod} ${event.path}`);
      const response = await route(event);
      logger.info('request answered', {
        route: `${event.httpMethod} ${event.resource}`,
        status: response.statusCode,
      });
      return response;
    } catch (error) {
      if (error instanceof ApiError) {
        logger.info('request refused', {
          route: `${event.httpMethod} ${event.resource}`,
          status: error.status,
          code: error.code,
        });
        return errorResponse(error, requestId);
      }
      if (error instanceof Error && THROTTLING_ERROR_NAMES.has(error.name)) {
        logger.warn('request throttled', {
          route: `${event.httpMethod} ${event.resource}`,
          errorType: error.name,
        });
        return errorResponse(new ApiError(429, 'TooManyRequests', 'Slow down and retry'), requestId);
      }
      unexpectedErrorMetric(functionLabel);
      logger.error('request failed', {
        route: `${event.httpMethod} ${event.resource}`,
        ...errorFields(error),
      });
      // Never the error's text: it may name a role, a table or another customer's data.
      return errorResponse(
        new ApiError(500, 'InternalError', 'The request could not be completed; it is safe to retry'),
        requestId,
      );
    } finally {
      flushMetrics();
    }
  };
}

/** An id fit for a log key: a caller's path text of another shape is not echoed into every line. */
const ORDER_ID_SHAPE = /^[A-Za-z0-9_-]{1,64}$/;
