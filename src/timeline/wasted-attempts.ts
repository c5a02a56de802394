/**
 * Tells the operator when containers keep going back to the queue without
 * running: each was locked and given to crunch-run, and crunch-run refused
 * it or exited before it ran, so the scheduler requeued it (the timeline's
 * `unlocked` with reason `crunch-run exited`), with no container going
 * Running anywhere in between, at more than one moment: a VM that breaks
 * or goes away ends all its crunch-runs at once, and a restarted dispatcher
 * finds those that ended while it was away at once, each such burst being
 * requeued in one pass. Requeues at several moments with nothing running
 * between them are the sign of a cause every attempt shares, rather than
 * one container's or one VM's trouble:
 * `CrunchRunArgumentsList` or `RuntimeEngine` values crunch-run refuses, a
 * wrong `CrunchRunCommand`, crunch-run, sudo or the runtime engine missing
 * from the image, VMs that cannot reach the controller. Each attempt costs
 * its container one of its MaxDispatchAttempts, so such a cause cancels the
 * whole queue in time, as it does under the reference, which logs each
 * attempt on its own; this adds the one line that says it is all of them.
 *
 * It reads the container timeline's events (`Timeline`'s `onEvent`), where
 * the queue, the scheduler and the pool already say all it needs: a
 * requeue and why, a container seen going Running (or Complete, its
 * Running missed between two polls), and what crunch-run said
 * when it refused a start (`crunch_run_start_failed`).
 */
import type { Clock } from '../clock/index.js';
import { type Logger, RateLimitedLog } from '../log.js';
import type { TimelineEvent } from './sink.js';
import { CRUNCH_RUN_EXITED } from '../scheduler/sync.js';

/** Requeues in a row before the line, at `WASTED_MOMENTS` moments at least. */
export const WASTED_IN_A_ROW = 3;
export const WASTED_MOMENTS = 2;

/** Containers known Running kept at most (ten times the timeline's default). */
const MAX_KNOWN_RUNNING = 100_000;

export class WastedAttemptWatch {
  private wasted = 0;
  /** The moments the counted requeues came at: one per pass that requeued any. */
  private moments = 0;
  /** A requeue was counted in the current synchronous run (one pass's burst). */
  private inBurst = false;
  private since = 0;
  /** What crunch-run said at the last start it refused since the count began, if any. */
  private refusal: { exitCode: number; stderr: string } | undefined;
  private sawRun = false;

  /**
   * Containers whose Complete says nothing new of our starts, until they
   * finish: those first seen Running (an earlier process started them) and
   * those already counted when seen going Running. Oldest first, at most
   * `MAX_KNOWN_RUNNING` (a container the timeline forgets unfinished would
   * otherwise stay).
   */
  private readonly knownRunning = new Set<string>();

  /** The line repeats at most once a minute. */
  private readonly warnings: RateLimitedLog;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.warnings = new RateLimitedLog(log, clock);
  }

  /** For `TimelineOptions.onEvent`. */
  readonly observe = (uuid: string, event: TimelineEvent): void => {
    switch (event.kind) {
      case 'first_seen':
        if (event.detail?.state === 'Running') this.knowRunning(uuid);
        else this.knownRunning.delete(uuid);
        break;
      case 'running':
        this.ran(uuid);
        this.knowRunning(uuid);
        break;
      case 'finished':
        // Complete, its Running unseen: it ran between two polls (a short
        // container, without the event feed), so it started lately. One
        // seen Running before was counted then, and may have started long
        // before the trouble began; one first seen Running ran for an
        // earlier process. Neither says anything of our starts now.
        if (!this.knownRunning.delete(uuid) && event.detail?.state === 'Complete') this.ran(uuid);
        break;
      case 'crunch_run_start_failed':
        if (typeof event.detail?.exit_code === 'number') this.refusal = { exitCode: event.detail.exit_code, stderr: String(event.detail.stderr ?? '') };
        break;
      case 'unlocked':
        if (event.detail?.reason === CRUNCH_RUN_EXITED) this.requeued(uuid);
        break;
    }
  };

  private knowRunning(uuid: string): void {
    this.knownRunning.add(uuid);
    if (this.knownRunning.size > MAX_KNOWN_RUNNING) this.knownRunning.delete(this.knownRunning.values().next().value!);
  }

  /** A container was seen going Running (or Complete, its Running unseen) since the daemon started: starts work, or did lately. */
  get ranSinceStart(): boolean {
    return this.sawRun;
  }

  private ran(uuid: string): void {
    this.sawRun = true;
    if (this.failing()) this.log.info('containers run again', { Requeued: this.wasted, Since: new Date(this.since).toISOString(), ContainerUUID: uuid });
    this.wasted = 0;
    this.moments = 0;
    this.refusal = undefined;
  }

  /** True while containers keep going back to the queue (`WASTED_IN_A_ROW` in a row or more, at `WASTED_MOMENTS` moments or more). */
  failing(): boolean {
    return this.wasted >= WASTED_IN_A_ROW && this.moments >= WASTED_MOMENTS;
  }

  private requeued(uuid: string): void {
    const now = this.clock.now();
    if (this.wasted === 0) this.since = now;
    // A pass requeues its burst without yielding, and the clock may move
    // meanwhile: a moment is a run of requeues with no await between them.
    if (this.wasted === 0 || !this.inBurst) this.moments++;
    if (!this.inBurst) {
      this.inBurst = true;
      queueMicrotask(() => (this.inBurst = false));
    }
    this.wasted++;
    if (!this.failing()) return;
    const refused = this.refusal && { ExitCode: this.refusal.exitCode, stderr: this.refusal.stderr };
    this.warnings.error(
      'containers keep going back to the queue without running: crunch-run refuses them or exits first; check CrunchRunArgumentsList, RuntimeEngine, CrunchRunCommand, crunch-run on the VM image, and that VMs reach the controller',
      { Requeued: this.wasted, Since: new Date(this.since).toISOString(), ContainerUUID: uuid, ...refused },
      'wasted attempts',
    );
  }
}
