/**
 * The last lines each function printed, by construct id: what a test or a person reads to see a function's own
 * logs without scrolling the trace. Bounded, since a long run prints without end.
 */
export class FunctionLogs {
  private readonly lines = new Map<string, string[]>();

  constructor(private readonly perFunction = 500) {}

  add(constructId: string, line: string): void {
    const kept = this.lines.get(constructId) ?? [];
    kept.push(line);
    if (kept.length > this.perFunction) kept.splice(0, kept.length - this.perFunction);
    this.lines.set(constructId, kept);
  }

  of(constructId: string): string[] {
    return [...(this.lines.get(constructId) ?? [])];
  }
}
