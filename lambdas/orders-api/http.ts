import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { THROTTLING_ERROR_NAMES } from '../shared/errors.js';
import { log } from '../shared/logger.js';

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

export function errorResponse(error: ApiError): APIGatewayProxyResult {
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
 * as they are, throttling as 429, and anything else as a 500 that leaks nothing.
 */
export function apiHandler(routes: Record<string, Route>) {
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const route = routes[`${event.httpMethod} ${event.resource}`];
    try {
      if (!route) throw new ApiError(404, 'NotFound', `No route for ${event.httpMethod} ${event.path}`);
      return await route(event);
    } catch (error) {
      if (error instanceof ApiError) return errorResponse(error);
      if (error instanceof Error && THROTTLING_ERROR_NAMES.has(error.name)) {
        return errorResponse(new ApiError(429, 'TooManyRequests', 'Slow down and retry'));
      }
      log('error', 'request failed', {
        route: `${event.httpMethod} ${event.resource}`,
        errorType: error instanceof Error ? error.name : typeof error,
        errorMessage: error instanceof Error ? error.message : String(error),
      });
      return errorResponse(
        new ApiError(500, 'InternalError', 'The request could not be completed; it is safe to retry'),
      );
    }
  };
}
