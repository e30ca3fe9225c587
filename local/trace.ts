/** The live, readable trace `npm start` prints: one line per saga event, aligned for scanning. */
export type TraceWriter = (line: string) => void;

const COLORS = { green: 32, red: 31, yellow: 33, cyan: 36, dim: 2 } as const;
type Color = keyof typeof COLORS;

export function createTracer(write: TraceWriter, useColor: boolean) {
  const paint = (color: Color, text: string) =>
    useColor ? `\u001b[${COLORS[color]}m${text}\u001b[0m` : text;
  const line = (orderId: string | undefined, what: string, outcome: string, color: Color, ms?: number) => {
    const time = new Date().toISOString().slice(11, 23);
    const timing = ms === undefined ? '' : paint('dim', ` ${ms}ms`);
    write(
      `${paint('dim', time)} ${(orderId ?? '-').padEnd(36)} ${what.padEnd(24)} ${paint(color, outcome)}${timing}`,
    );
  };
  return {
    sagaStarted: (orderId: string) => line(orderId, 'saga', 'started', 'cyan'),
    sagaEnded: (orderId: string, status: string, detail: string, ms: number) =>
      line(
        orderId,
        'saga',
        `${status}${detail ? ` ${detail}` : ''}`,
        status === 'SUCCEEDED' ? 'green' : 'red',
        ms,
      ),
    step: (orderId: string | undefined, step: string, outcome: string, failed: boolean, ms: number) =>
      line(orderId, step, outcome, failed ? 'red' : 'green', ms),
    fault: (orderId: string | undefined, step: string, mode: string) =>
      line(orderId, step, `fault injected: ${mode}`, 'yellow'),
    info: (message: string) => write(paint('dim', message)),
  };
}

export type Tracer = ReturnType<typeof createTracer>;
