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
 * shorter than it is. So the runs still going (`setRunning`, with how long
 * each has run) count too, as runs known to take at least that long
 * (Kaplan-Meier, `survival.ts`); the samples are random among the recent
 * runs rather than the very last ones, which after a burst are the longest
 * of their cohort. A sample whose median cannot be told yet (more than half
 * of its runs still going past every finished one) gives way to the next,
 * wider one, and if none can tell, the default runtime stands, raised to
 * what is already known (the median of the finished runtimes and the
 * elapsed times, each a lower bound of its run's). Once finished runs far
 * outnumber running ones, as they soon do in a steady stream, this changes
 * little.
 */
import { quantile, type Spread } from './stats.js';
import { DecayedSample, normalQuantile, normalSurvival, survivalSpread } from './survival.js';

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

/** A run going on now: its key and how long it has run. */
export interface RunningRun {
  key: RuntimeKey;
  elapsedMs: number;
}

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
  private readonly byImage = new Map<string, DecayedSample>();
  private readonly bySize = new Map<string, DecayedSample>();
  private readonly all: DecayedSample;
  /** Elapsed times of the runs going on now, by image-and-size key, by size key, and in all (sorted on first use). */
  private runningByImage = new Map<string, number[]>();
  private runningBySize = new Map<string, number[]>();
  private runningAll: number[] = [];
  /** Each sample's answer since the last change (null: it cannot tell yet): asked thousands of times per forecast. */
  private readonly answers = new Map<DecayedSample, Spread | null>();
  private sortedRunning = new WeakSet<number[]>();
  /** uuid -> the longest an earlier attempt ran, ms. */
  private readonly attempts = new Map<string, number>();

  constructor(opts: RuntimeHistoryOptions = {}) {
    this.defaultRuntimeMs = opts.defaultRuntimeMs ?? DEFAULT_RUNTIME_MS;
    this.sampleSize = opts.sampleSize ?? 50;
    this.minSamples = opts.minSamples ?? 3;
    this.all = new DecayedSample(this.sampleSize * 4);
  }

  /** A container with this key ran to its final state in `runtimeMs`, ending at `at` (epoch ms). */
  record(key: RuntimeKey, runtimeMs: number, at: number): void {
    if (!(runtimeMs >= 0)) return;
    const size = sizeKey(key);
    sample(this.bySize, size, this.sampleSize).add(runtimeMs, at);
    sample(this.byImage, `${size}/${key.image}`, this.sampleSize).add(runtimeMs, at);
    this.all.add(runtimeMs, at);
    this.answers.clear();
  }

  /** The runs going on now (replacing the last call's): each is known to take at least its elapsed time. */
  setRunning(runs: Iterable<RunningRun>): void {
    const byImage = new Map<string, number[]>();
    const bySize = new Map<string, number[]>();
    const all: number[] = [];
    for (const { key, elapsedMs } of runs) {
      const size = sizeKey(key);
      push(bySize, size, elapsedMs);
      push(byImage, `${size}/${key.image}`, elapsedMs);
      all.push(elapsedMs);
    }
    this.runningByImage = byImage;
    this.runningBySize = bySize;
    this.runningAll = all;
    this.answers.clear();
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
    return this.all.count > 0 ? quantile(this.all.sortedValues(), 0.5) : this.defaultRuntimeMs;
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
      this.pick(this.byImage.get(imageKey), this.minSamples, this.runningByImage.get(imageKey)) ??
      this.pick(this.bySize.get(size), this.minSamples, this.runningBySize.get(size)) ??
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

  private pick(s: DecayedSample | undefined, min: number, running: number[] | undefined): Spread | undefined {
    if (!s || s.count < min) return undefined;
    let answer = this.answers.get(s);
    if (answer === undefined) {
      const weight = Math.max(1, s.represents() / s.count);
      answer = survivalSpread(s.sortedValues(), weight, this.sorted(running ?? [])) ?? null;
      this.answers.set(s, answer);
    }
    return answer ?? undefined;
  }

  private sorted(a: number[]): number[] {
    if (!this.sortedRunning.has(a)) {
      a.sort((x, y) => x - y);
      this.sortedRunning.add(a);
    }
    return a;
  }

  private fallback(): Spread {
    const d = this.defaultRuntimeMs;
    const known = knownAtLeast(this.all.sortedValues(), this.sorted(this.runningAll));
    return { typical: Math.max(d, known), low: Math.max(d / 2, Math.min(known, d)), high: Math.max(d * 2, known * 2) };
  }
}

/** The median of two ascending arrays together: each value a lower bound of its run's time, so the runs' median is at least this. */
function knownAtLeast(a: readonly number[], b: readonly number[]): number {
  const n = a.length + b.length;
  if (n === 0) return 0;
  let i = 0;
  let j = 0;
  let v = 0;
  for (let k = 0; k <= (n - 1) >> 1; k++) v = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
  return v;
}

/**
 * The part of a running container's runtime still to come, given it has
 * run `elapsedMs`: the total estimate minus that, but never less than a
 * tenth of it (one that overran its estimate is about to finish, but not
 * at this instant). Conditioning a log-normal on the time run, which
 * leaves long runs more to go, did worse in the simulator (bench/README.md).
 */
export function remaining(total: Spread, elapsedMs: number): Spread {
  return { typical: left(total.typical, elapsedMs), low: left(total.low, elapsedMs), high: left(total.high, elapsedMs) };
}

/** The standard normal's 90th percentile. */
const Z90 = normalQuantile(0.9);

/**
 * The time still to come of a running container that has run `elapsedMs`,
 * at quantile `q` of what is left: the log-normal through the estimate's
 * median and p90, conditioned on having lasted that long (one past its
 * median has more to go than a tenth of it). `remaining` gives each
 * container alone its likeliest end; a set of these at spread quantiles
 * gives the order in which many of them end, which a queue at the limit
 * waits for (forecast.ts).
 */
export function remainingAt(total: Spread, elapsedMs: number, q: number): number {
  if (!(total.high > total.typical && total.typical > 0)) return left(total.typical, elapsedMs);
  const sigma = Math.log(total.high / total.typical) / Z90;
  const mu = Math.log(total.typical);
  const lived = elapsedMs > 0 ? normalSurvival((Math.log(elapsedMs) - mu) / sigma) : 1;
  // The quantile 1 - (1 - q) x lived, read from the upper tail, where it keeps its
  // precision for a run far past its p90 (1 minus a tiny number is 1).
  const rest = Math.exp(mu - sigma * normalQuantile((1 - q) * lived)) - elapsedMs;
  // Past what a double can tell apart: about to end, as `remaining` has it.
  return Number.isFinite(rest) && rest > 0 ? rest : total.typical / 10;
}

function left(total: number, elapsedMs: number): number {
  return Math.max(total - elapsedMs, total / 10);
}

function sizeKey(key: RuntimeKey): string {
  return `${key.vcpus}/${ramBucket(key.ram)}`;
}

function push(map: Map<string, number[]>, key: string, v: number): void {
  const a = map.get(key);
  if (a) a.push(v);
  else map.set(key, [v]);
}

function sample(map: Map<string, DecayedSample>, key: string, size: number): DecayedSample {
  let s = map.get(key);
  if (!s) map.set(key, (s = new DecayedSample(size)));
  return s;
}
