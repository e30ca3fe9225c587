import { createServer, type Server, type ServerResponse } from 'node:http';
import type { LocalRestApi } from '../api-gateway.js';
import type { LocalRouteHandler } from '../cloud.js';
import { readBody } from '../http-body.js';
import { type LocalSchedules, UnknownScheduleError } from '../schedules.js';

export function jsonReply(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(body === undefined ? '' : JSON.stringify(body));
}

/** The server the app's clients call: local routes first, then the REST API from the template. */
/**
 * Invokes a function (by construct id or name) with an event, through the invoker and its faults, as a late or
 * repeated delivery would: undefined when no function has that name.
 */
export type InvokeFunction = (
  name: string,
  event: unknown,
) => Promise<{ ok: boolean; payload?: unknown; error?: unknown } | undefined>;

/** `POST /_local/schedules/<name>/run` and `POST /_local/functions/<name>/invoke`. */
function parameterizedRoute(
  method: string | undefined,
  path: string,
  schedules: LocalSchedules,
  invokeFunction: InvokeFunction,
): LocalRouteHandler | undefined {
  if (method !== 'POST') return undefined;
  const scheduleToRun = path.match(/^\/_local\/schedules\/([^/]+)\/run$/)?.[1];
  if (scheduleToRun) return () => runSchedule(schedules, decodeURIComponent(scheduleToRun));
  const functionToInvoke = path.match(/^\/_local\/functions\/([^/]+)\/invoke$/)?.[1];
  if (functionToInvoke) {
    return async (_request, body) => {
      const name = decodeURIComponent(functionToInvoke);
      const outcome = await invokeFunction(name, JSON.parse(body || '{}'));
      return outcome
        ? { status: 200, body: outcome }
        : { status: 404, body: { error: { code: 'UnknownFunction', message: `No function ${name}` } } };
    };
  }
  return undefined;
}

export function createApiServer(
  localRoutes: Record<string, LocalRouteHandler>,
  schedules: LocalSchedules,
  restApi: LocalRestApi,
  invokeFunction: InvokeFunction,
): Server {
  return createServer((request, response) => {
    void (async () => {
      const path = new URL(request.url ?? '/', 'http://local').pathname;
      const route =
        parameterizedRoute(request.method, path, schedules, invokeFunction) ??
        localRoutes[`${request.method} ${path}`];
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
}

async function runSchedule(schedules: LocalSchedules, name: string): ReturnType<LocalRouteHandler> {
  try {
    return { status: 200, body: await schedules.runNow(name) };
  } catch (error) {
    if (error instanceof UnknownScheduleError) {
      return { status: 404, body: { error: { code: 'UnknownSchedule', message: error.message } } };
    }
    throw error;
  }
}

export function loopbackUrl(url: string): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  return parsed.origin;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
