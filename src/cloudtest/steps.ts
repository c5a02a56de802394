/**
 * How `cloudtest` reports: one numbered line per step with its duration,
 * so an operator watching a slow cloud sees which step it is waiting on,
 * and a failure names the step it happened in.
 */
import type { Clock } from '../clock/index.js';

/** Where the report goes (process.stdout, or a buffer in tests). */
export interface ReportSink {
  write(text: string): unknown;
}

/** A step failed; `message` says why, in words an operator can act on. */
export class StepFailedError extends Error {
  override name = 'StepFailedError';

  constructor(
    readonly step: number,
    readonly what: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`step ${step} (${what}) failed: ${reason}`, options);
  }
}

/** Seconds with one decimal, as the report shows durations. */
export function formatSeconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

/**
 * Numbers and times steps. The step's title is written before the step
 * runs (without a newline) so a long wait shows what it is waiting for;
 * the result completes the line.
 */
export class StepReporter {
  private count = 0;

  constructor(
    private readonly out: ReportSink,
    private readonly clock: Clock,
  ) {}

  /**
   * Runs `fn` as the next step. On success writes `ok (1.2s)` plus the
   * optional detail; on failure writes `FAILED (1.2s): reason` and throws a
   * StepFailedError naming the step.
   */
  async run<T>(what: string, fn: () => Promise<T>, detail?: (value: T) => string | undefined): Promise<T> {
    const n = ++this.count;
    this.out.write(`step ${n}: ${what} ... `);
    const t0 = this.clock.now();
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.out.write(`FAILED (${formatSeconds(this.clock.now() - t0)}): ${reason}\n`);
      throw new StepFailedError(n, what, reason, { cause: err });
    }
    const extra = detail?.(value);
    this.out.write(`ok (${formatSeconds(this.clock.now() - t0)})${extra ? `: ${extra}` : ''}\n`);
    return value;
  }

  /** Lines under the current step (command output, login hints), indented. */
  note(text: string): void {
    for (const line of text.replace(/\n$/, '').split('\n')) this.out.write(`    ${line}\n`);
  }

  /** A line of its own, not part of a step. */
  line(text: string): void {
    this.out.write(`${text}\n`);
  }
}
