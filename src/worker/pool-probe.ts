/**
 * The probe loop: every ProbeInterval, shut down the workers that are idle
 * too long (or drained and empty), then probe the others, starting at most
 * MaxProbesPerSecond probes a second across the pool. A worker whose
 * previous probe is still running is skipped this round.
 */
import { isAbortError, type Timer } from '../clock/index.js';
import type { PoolCore } from './pool-core.js';
import { probeAndUpdate } from './worker-probe.js';

export class ProbeLoop {
  private roundRunning = false;
  /** A ProbeInterval tick came while a round was pacing its probes. */
  private tickMissed = false;
  private catchUp: Timer | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly core: PoolCore) {}

  /**
   * The ProbeInterval timer: a round now, or, when one is still pacing its
   * probes, another one pacing interval after it ends. As the reference's
   * ticker keeps one missed tick, a pool whose rounds take longer than
   * ProbeInterval probes continuously, rather than resting until the next
   * tick.
   */
  tick(): void {
    if (this.roundRunning) this.tickMissed = true;
    else void this.round();
  }

  /** One round; a call while the previous round is still pacing its probes is dropped (the timer's `tick` keeps it instead). */
  async round(): Promise<void> {
    if (this.roundRunning || this.core.stopped) return;
    this.roundRunning = true;
    try {
      const due = [];
      for (const w of this.core.workers.values()) {
        try {
          if (w.state === 'shutdown' || w.shutdownIfIdle()) continue;
        } catch (err) {
          // A bug about one worker must not keep the others from their probes.
          this.core.warnings.error('idle check failed', { Instance: w.id, error: err }, `idle check ${w.id}`);
        }
        due.push(w);
      }
      const spacing = 1000 / this.core.cfg.maxProbesPerSecond;
      for (let i = 0; i < due.length; i++) {
        const w = due[i];
        if (this.core.stopped) return;
        if (w.removed || w.state === 'shutdown') continue;
        if (w.probing) {
          w.log.debug('still waiting for last probe to finish');
          continue;
        }
        probeAndUpdate(w, this.core).catch((err: unknown) => this.core.warnings.error('probe crashed', { Instance: w.id, error: err }, `probe crashed ${w.id}`));
        if (i < due.length - 1) await this.core.clock.sleep(spacing, this.abort.signal);
      }
    } catch (err) {
      // An abort is stop() ending the pacing sleep; anything else is a bug,
      // logged rather than left to kill the loop's next rounds.
      if (!isAbortError(err) && !this.abort.signal.aborted) this.core.warnings.error('probe round failed', { error: err });
    } finally {
      this.roundRunning = false;
      if (this.tickMissed && !this.core.stopped) {
        this.tickMissed = false;
        this.catchUp = this.core.clock.setTimer(1000 / this.core.cfg.maxProbesPerSecond, () => {
          this.catchUp = undefined;
          void this.round();
        });
      }
    }
  }

  stop(): void {
    this.catchUp?.cancel();
    this.catchUp = undefined;
    this.abort.abort();
  }
}
