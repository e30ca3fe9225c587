import type { LocalRouteHandler } from '../cloud.js';
import { type FaultRegistry, FaultValidationError } from '../faults.js';
import type { FunctionLogs } from '../function-logs.js';
import type { MetricTotals } from '../metrics.js';
import type { LocalSchedules } from '../schedules.js';

/** The app's own routes plus the local cloud's: schedules and faults, under /_local. */
export function localRoutes(
  appRoutes: Record<string, LocalRouteHandler> | undefined,
  schedules: LocalSchedules,
  faults: FaultRegistry,
): Record<string, LocalRouteHandler> {
  return {
    ...appRoutes,
    'GET /_local/schedules': async () => ({ status: 200, body: { schedules: schedules.list() } }),
    'POST /_local/faults': async (_request, body) => {
      try {
        return { status: 201, body: faults.add(JSON.parse(body || 'null')) };
      } catch (error) {
        if (error instanceof SyntaxError) {
          return { status: 400, body: { error: { code: 'InvalidFault', message: error.message } } };
        }
        if (error instanceof FaultValidationError) {
          const { message, validTargets, validModes } = error;
          return {
            status: 400,
            body: {
              error: {
                code: 'InvalidFault',
                message,
                ...(validTargets && { validTargets }),
                ...(validModes && { validModes }),
              },
            },
          };
        }
        throw error;
      }
    },
    'GET /_local/faults': async () => ({
      status: 200,
      body: { faults: faults.list(), targets: faults.targets() },
    }),
    'DELETE /_local/faults': async () => {
      faults.clear();
      return { status: 204, body: undefined };
    },
  };
}

/**
 * What the functions printed: metric totals (`GET`/`DELETE /_local/metrics`) and one function's last lines
 * (`GET /_local/logs?function=<construct id or name>`). `constructIdOf` answers undefined for no function.
 */
export function functionOutputRoutes(
  metrics: MetricTotals,
  logs: FunctionLogs,
  constructIdOf: (name: string) => string | undefined,
): Record<string, LocalRouteHandler> {
  return {
    'GET /_local/metrics': async () => ({ status: 200, body: { metrics: metrics.list() } }),
    'DELETE /_local/metrics': async () => {
      metrics.clear();
      return { status: 204, body: undefined };
    },
    'GET /_local/logs': async (request) => {
      const name = new URL(request.url ?? '/', 'http://local').searchParams.get('function');
      if (!name)
        return {
          status: 400,
          body: { error: { code: 'MissingFunction', message: 'Name a function: ?function=<construct id>' } },
        };
      const constructId = constructIdOf(name);
      if (!constructId)
        return { status: 404, body: { error: { code: 'UnknownFunction', message: `No function ${name}` } } };
      return { status: 200, body: { function: constructId, lines: logs.of(constructId) } };
    },
  };
}
