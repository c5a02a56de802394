/**
 * RuntimeHistory: how long containers run on our VMs (crunch-run start to
 * the container's final state), learnt from the ones that finished. A
 * container is most like earlier ones with the same image and size, less so
 * like others of its size, and least like everything else: the estimate
 * comes from the most specific of those three samples that has enough
 * values and is not too young (below). A container requeued after running for a while has at least that
 * much left to do in total, so its own earlier attempt is a lower bound.
 *
 * Young samples: right after a burst of submissions the only runs that have
 * finished are the shortest ones, and their median says the work is far
 * shorter than it is. So the runs still going (`setRunning`) are counted
 * as longer than every finished one: with a fraction f of the runs of a
 * kind finished, the median is read at the 0.5 / f quantile of the finished
 * ones (and p10, p90 likewise, capped at the largest). A sample with fewer
 * finished than running runs has no median yet: the next, wider sample is
 * asked, and if none has one the default runtime stands, raised to what
 * has been seen. Once the finished runs far outnumber the running ones, as
 * they soon do in a steady stream, this changes nothing.
 */
import { RecentSample, type Spread } from './stats.js';

export type { Spread } from './stats.js';

/** What a runtime is learnt by: RAM is bucketed (below), so nearby sizes share a sample. */
export interface RuntimeKey {
  image: string;
  vcpus: number;
  /** Bytes. */
  ram: number;
}

export interface RuntimeHistoryOptions {
  /** Runtime assumed when nothing at all is known yet, ms; default 10 minutes. */
  defaultRuntimeMs?: number;
  /** Values kept per key (the most recent); default 50. */
  sampleSize?: number;
  /** A key's sample is used once it has this many values; default 3. */
  minSamples?: number;
}

export const DEFAULT_RUNTIME_MS = 10 * 60_000;

/** Earlier attempts remembered at most (the oldest are dropped first). */
const MAX_ATTEMPTS = 100_000;

/**
 * RAM bucket: powers of two of 256 MiB, so 3 GiB and 3.5 GiB share a bucket
 * but 2 GiB and 16 GiB do not. Requests differ by small overheads
 * (ReserveExtraRAM, keep buffers) that say nothing about the runtime.
 */
export function ramBucket(ram: number): number {
  return Math.max(0, Math.ceil(Math.log2(Math.max(1, ram / 2 ** 28))));
}

export class RuntimeHistory {
  readonly defaultRuntimeMs: number;
  private readonly sampleSize: number;
  private readonly minSamples: number;
  private readonly byImage = new Map<string, RecentSample>();
  private readonly bySize = new Map<string, RecentSample>();
  private readonly all: RecentSample;
  /** Runs going on now, by image-and-size key, by size key, and in all. */
  private runningByImage = new Map<string, number>();
  private runningBySize = new Map<string, number>();
  private runningAll = 0;
  /** uuid -> the longest an earlier attempt ran, ms. */
  private readonly attempts = new Map<string, number>();

  constructor(opts: RuntimeHistoryOptions = {}) {
    this.defaultRuntimeMs = opts.defaultRuntimeMs ?? DEFAULT_RUNTIME_MS;
    this.sampleSize = opts.sampleSize ?? 50;
    this.minSamples = opts.minSamples ?? 3;
    this.all = new RecentSample(this.sampleSize * 4);
  }

  /** A container with this key ran to its final state in `runtimeMs`. */
  record(key: RuntimeKey, runtimeMs: number): void {
    if (!(runtimeMs >= 0)) return;
    const size = sizeKey(key);
    sample(this.bySize, size, this.sampleSize).add(runtimeMs);
    sample(this.byImage, `${size}/${key.image}`, this.sampleSize).add(runtimeMs);
    this.all.add(runtimeMs);
  }

  /** The keys of the runs going on now (replacing the last call's): how young each sample is. */
  setRunning(keys: Iterable<RuntimeKey>): void {
    const byImage = new Map<string, number>();
    const bySize = new Map<string, number>();
    let n = 0;
    for (const key of keys) {
      const size = sizeKey(key);
      bySize.set(size, (bySize.get(size) ?? 0) + 1);
      const k = `${size}/${key.image}`;
      byImage.set(k, (byImage.get(k) ?? 0) + 1);
      n++;
    }
    this.runningByImage = byImage;
    this.runningBySize = bySize;
    this.runningAll = n;
  }

  /** Container `uuid` ran for `ranMs` and was requeued: its next attempt is taken to need at least as long. */
  recordAttempt(uuid: string, ranMs: number): void {
    if (!(ranMs > 0)) return;
    const prev = this.attempts.get(uuid) ?? 0;
    this.attempts.delete(uuid);
    if (this.attempts.size >= MAX_ATTEMPTS) this.attempts.delete(this.attempts.keys().next().value!);
    this.attempts.set(uuid, Math.max(prev, ranMs));
  }

  /** Drops what is remembered of one container's attempts (it is final). */
  forget(uuid: string): void {
    this.attempts.delete(uuid);
  }

  /** The median of every recent runtime (the default when none): the naive estimate's runtime. */
  typicalOverall(): number {
    return this.all.count > 0 ? this.all.spread().typical : this.defaultRuntimeMs;
  }

  /**
   * Expected total runtime of a container with this key (and, if given, this
   * uuid, for its earlier attempts): typical = median, low = p10, high =
   * p90 of the most specific sample with enough values.
   */
  estimate(key: RuntimeKey, uuid?: string): Spread {
    const size = sizeKey(key);
    const imageKey = `${size}/${key.image}`;
    const s =
      this.pick(this.byImage.get(imageKey), this.minSamples, this.runningByImage.get(imageKey) ?? 0) ??
      this.pick(this.bySize.get(size), this.minSamples, this.runningBySize.get(size) ?? 0) ??
      this.pick(this.all, 1, this.runningAll) ??
      this.fallback();
    const floor = uuid === undefined ? undefined : this.attempts.get(uuid);
    if (floor === undefined) return s;
    return { typical: Math.max(s.typical, floor), low: Math.max(s.low, floor), high: Math.max(s.high, floor) };
  }

  /** True if `uuid` has an earlier attempt on record. */
  hasAttempt(uuid: string): boolean {
    return this.attempts.has(uuid);
  }

  private pick(s: RecentSample | undefined, min: number, running: number): Spread | undefined {
    if (!s || s.count < min || s.total < running) return undefined;
    return s.spreadOfFinished(s.total / (s.total + running));
  }

  private fallback(): Spread {
    const d = this.defaultRuntimeMs;
    const seen = this.all.count > 0 ? this.all.spread() : { typical: 0, low: 0, high: 0 };
    return { typical: Math.max(d, seen.typical), low: Math.max(d / 2, seen.low), high: Math.max(d * 2, seen.high) };
  }
}

/**
 * The part of a running container's runtime still to come, given it has
 * run `elapsedMs`: the total estimate minus that, but never less than a
 * tenth of it (one that overran its estimate is about to finish, but not
 * at this instant).
 */
export function remaining(total: Spread, elapsedMs: number): Spread {
  return { typical: left(total.typical, elapsedMs), low: left(total.low, elapsedMs), high: left(total.high, elapsedMs) };
}

function left(total: number, elapsedMs: number): number {
  return Math.max(total - elapsedMs, total / 10);
}

function sizeKey(key: RuntimeKey): string {
  return `${key.vcpus}/${ramBucket(key.ram)}`;
}

function sample(map: Map<string, RecentSample>, key: string, size: number): RecentSample {
  let s = map.get(key);
  if (!s) map.set(key, (s = new RecentSample(size)));
  return s;
}
