/**
 * Tells the operator when crunch-run starts keep failing, with none
 * succeeding anywhere between them: the sign of a cause every start shares
 * (a `CrunchRunArgumentsList` or `RuntimeEngine` crunch-run refuses, a
 * wrong `CrunchRunCommand`, crunch-run or sudo missing from the image)
 * rather than one VM's trouble, since starts on healthy VMs would succeed in
 * between. Each such failure costs its container one of its
 * MaxDispatchAttempts, so such a cause cancels the whole queue in time, as
 * it does under the reference; each failure is logged on its own (`error
 * starting crunch-run process`), and this adds the one line that says it is
 * all of them.
 *
 * Counted: starts whose command ran and exited non-zero, in a row. Not
 * counted (neither a failure nor a success): a start whose SSH session
 * failed (that VM's trouble, which its probes handle), one that may have
 * run, and a refusal because the container's lock is held (that
 * container's). The scheduler keeps giving the first ready VM the next
 * container, so the failures in a row may all be on one VM.
 */
import type { Clock } from '../clock/index.js';
import type { Logger, RateLimitedLog } from '../log.js';
import type { StartOutcome } from './remote-runner.js';

/** Failures in a row before the line. */
export const SYSTEMIC_FAILURES = 3;

/** What crunch-run said when it refused a start. */
export interface StartRefusal {
  exitCode: number;
  stderr: string;
}

/** crunch-run's answer when another process holds the container's lock: about that container alone. */
const LOCK_HELD = /resource temporarily unavailable/;

/** How much of a refusal's stderr is repeated (its first line) in the line below and the container's timeline. */
const STDERR_CHARS = 300;

/** The first line of what crunch-run said when it refused, at most `STDERR_CHARS` long. */
export function refusalLine(refusal: StartRefusal): string {
  return refusal.stderr.split('\n', 1)[0].slice(0, STDERR_CHARS);
}

export class StartFailureWatch {
  private failures = 0;
  private readonly instances = new Set<string>();
  private since = 0;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly warnings: RateLimitedLog,
  ) {}

  /** A `--detach` on instance `instanceId` ended with `outcome`; `refusal` when its command ran and exited non-zero. */
  note(instanceId: string, outcome: StartOutcome, refusal?: StartRefusal): void {
    if (outcome === 'started') {
      if (this.failing()) {
        this.log.info('crunch-run starts succeed again', { Failures: this.failures, Instances: this.instances.size, Since: new Date(this.since).toISOString() });
      }
      this.failures = 0;
      this.instances.clear();
      return;
    }
    if (outcome !== 'failed' || refusal === undefined || LOCK_HELD.test(refusal.stderr)) return;
    if (this.failures === 0) this.since = this.clock.now();
    this.failures++;
    this.instances.add(instanceId);
    if (!this.failing()) return;
    this.warnings.error(
      'crunch-run starts keep failing, none succeeding since the first: check CrunchRunArgumentsList, RuntimeEngine, CrunchRunCommand and crunch-run on the VM image',
      {
        Failures: this.failures,
        Instances: this.instances.size,
        Since: new Date(this.since).toISOString(),
        ExitCode: refusal.exitCode,
        stderr: refusalLine(refusal),
      },
      'start failures',
    );
  }

  /** True while starts keep failing (`SYSTEMIC_FAILURES` in a row or more). */
  failing(): boolean {
    return this.failures >= SYSTEMIC_FAILURES;
  }
}
