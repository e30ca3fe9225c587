import type { LocalRouteHandler } from '../cloud.js';
import { type FaultRegistry, FaultValidationError } from '../faults.js';
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
