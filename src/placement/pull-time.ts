/**
 * How long pulling a container image onto a VM takes, learnt from the
 * starts the dispatcher sees: crunch-run loads the image before the
 * container goes Running, so the time from handing a container to
 * crunch-run to seeing it Running is longer on a VM without the image than
 * on one with it, by the pull. Per GiB of image (the size estimated from
 * its portable data hash, as for scratch space), so that one image's pulls
 * tell about another's.
 *
 * Locality uses it to wait for a VM with the image only while the wait is
 * expected to be shorter than the pull it saves. Nothing is assumed before
 * enough starts of both kinds were seen (after a restart too).
 */
import { quantile, RecentSample } from '../estimate/stats.js';

const GiB = 2 ** 30;

/** Starts of each kind (with and without the image) needed before the rate is trusted. */
export const MIN_PULL_SAMPLES = 3;

/** Starts remembered per kind (the most recent). */
const SAMPLE_SIZE = 50;

/** Starts awaiting their Running state at most: a bound, not a limit that a pass reaches. */
const MAX_PENDING = 100_000;

/** A start being watched: when, how big its image, whether its VM had it (and how deep in its memory, `WarmMemory.depthOf`). */
interface Pending {
  at: number;
  bytes: number;
  warm: boolean;
  depth?: number;
}

export class PullTimeLearner {
  /** Start-to-Running times of starts on a VM that had the image, ms. */
  private readonly warm = new RecentSample(SAMPLE_SIZE);
  /** The same on a VM without it, in ms per GiB beyond the warm median (set when read). */
  private readonly coldStarts: Array<{ ms: number; bytes: number }> = [];
  private readonly pending = new Map<string, Pending>();
  /** `perGiB()`'s answer until a sample is added (asked for each container placed near warm VMs); null: not worked out. */
  private perGiBCached: number | undefined | null = null;

  /**
   * A container was handed to crunch-run at `at` (epoch ms) on a VM taken to
   * have its image (`warm`, `depth` bytes deep in its memory) or not.
   */
  started(uuid: string, bytes: number, warm: boolean, at: number, depth?: number): void {
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(uuid, { at, bytes, warm, depth });
  }

  /**
   * The container is seen in this state at `now`: Running ends its start (a
   * sample); any state but Locked ends the watch without one (it failed, or
   * was requeued, or ran too briefly to be seen Running). A start on a VM
   * taken to have the image that took longer than a warm start by more
   * than half its pull found it dropped: it returns the depth the image had
   * in that VM's memory (the VM keeps less), and is no warm sample.
   */
  seen(uuid: string, state: string, now: number): number | undefined {
    const p = this.pending.get(uuid);
    if (!p || state === 'Locked') return undefined;
    this.pending.delete(uuid);
    if (state !== 'Running') return undefined;
    const ms = now - p.at;
    if (p.warm) {
      const pull = this.pullMs(p.bytes);
      if (pull !== undefined && pull > 0 && ms > this.warmBase() + pull / 2) return p.depth;
      this.warm.add(ms);
      this.perGiBCached = null;
    } else if (p.bytes > 0) {
      if (this.coldStarts.length >= SAMPLE_SIZE) this.coldStarts.shift();
      this.coldStarts.push({ ms, bytes: p.bytes });
      this.perGiBCached = null;
    }
    return undefined;
  }

  /** Containers whose start is being watched (to ask `seen` about). */
  watching(): Iterable<string> {
    return this.pending.keys();
  }

  /** Stops watching a container that left the queue. */
  forget(uuid: string): void {
    this.pending.delete(uuid);
  }

  /** Expected time to pull an image of `bytes` onto a VM without it, ms; undefined until enough starts of both kinds were seen. */
  pullMs(bytes: number): number | undefined {
    const perGiB = this.perGiB();
    return perGiB === undefined ? undefined : (perGiB * bytes) / GiB;
  }

  /**
   * A warm start's time: the 10th percentile of the warm samples, not their
   * median, as some starts taken to be warm pulled all the same (the VM had
   * dropped the image) before the memory learnt it.
   */
  private warmBase(): number {
    return this.warm.spread().low;
  }

  /** The median over cold starts of (their time beyond a warm start's) per GiB. */
  private perGiB(): number | undefined {
    if (this.perGiBCached !== null) return this.perGiBCached;
    if (this.warm.count < MIN_PULL_SAMPLES || this.coldStarts.length < MIN_PULL_SAMPLES) return (this.perGiBCached = undefined);
    const base = this.warmBase();
    const rates = this.coldStarts.map((c) => (Math.max(0, c.ms - base) * GiB) / c.bytes).sort((a, b) => a - b);
    return (this.perGiBCached = quantile(rates, 0.5));
  }
}
