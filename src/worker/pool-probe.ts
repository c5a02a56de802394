/**
 * The probe loop: every ProbeInterval, shut down the workers that are idle
 * too long (or drained and empty), then probe the others, starting at most
 * MaxProbesPerSecond probes a second across the pool. A worker whose
 * previous probe is still running is skipped this round.
 */
import { isAbortError } from '../clock/index.js';
import type { PoolCore } from './pool-core.js';
import { probeAndUpdate } from './worker-probe.js';

export class ProbeLoop {
  private roundRunning = false;
  private readonly abort = new AbortController();

  constructor(private readonly core: PoolCore) {}

  /** One round; a call while the previous round is still pacing its probes is dropped (like a ticker's missed tick). */
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
        if (w.removed || w.state === 'shutdown' || w.probing) continue;
        probeAndUpdate(w, this.core).catch((err: unknown) => this.core.warnings.error('probe crashed', { Instance: w.id, error: err }, `probe crashed ${w.id}`));
        if (i < due.length - 1) await this.core.clock.sleep(spacing, this.abort.signal);
      }
    } catch (err) {
      // An abort is stop() ending the pacing sleep; anything else is a bug,
      // logged rather than left to kill the loop's next rounds.
      if (!isAbortError(err) && !this.abort.signal.aborted) this.core.warnings.error('probe round failed', { error: err });
    } finally {
      this.roundRunning = false;
    }
  }

  stop(): void {
    this.abort.abort();
  }
}
