/**
 * How good the start-time estimates are, in the simulator: the estimate of
 * each container when it was first forecast and again every minute of
 * simulated time until it starts (up to ten more), against when it really
 * started. The error of one estimate is |estimate - actual| / max(actual
 * wait, 1 min), the wait counted from when the estimate was made; the
 * naive estimate (position x typical runtime / slots) is scored beside it.
 */
import type { EstimateSnapshot, Estimator } from '../estimate/estimator.js';

/** One estimate of one container's start, epoch ms. */
export interface EstimateSample {
  uuid: string;
  at: number;
  low: number;
  typical: number;
  high: number;
  naive: number;
  /** The container's first estimate. */
  first: boolean;
}

export interface ErrorSummary {
  /** Estimates scored (of containers that started). */
  count: number;
  median: number;
  p90: number;
  naiveMedian: number;
  naiveP90: number;
  /** Fraction of the starts that fell within [low, high]. */
  withinBand: number;
}

export interface EstimateAccuracy {
  /** Containers with at least one estimate that then started. */
  containers: number;
  /** Each container's first estimate. */
  firstSeen: ErrorSummary;
  /** Every estimate recorded (first and later). */
  all: ErrorSummary;
}

const MINUTE = 60_000;

export class AccuracyRecorder {
  readonly samples: EstimateSample[] = [];
  private readonly last = new Map<string, { at: number; later: number }>();

  constructor(
    private readonly everyMs = MINUTE,
    private readonly maxLater = 10,
  ) {}

  /** Records from each of `estimator`'s updates; returns the unsubscribe function. */
  attach(estimator: Pick<Estimator, 'subscribe'>): () => void {
    return estimator.subscribe((s) => this.record(s));
  }

  record(s: EstimateSnapshot): void {
    for (let i = 0; i < s.size; i++) {
      if (!Number.isFinite(s.typical[i])) continue;
      const uuid = s.uuid(i);
      const prev = this.last.get(uuid);
      if (prev && (s.at - prev.at < this.everyMs || prev.later >= this.maxLater)) continue;
      this.last.set(uuid, { at: s.at, later: prev ? prev.later + 1 : 0 });
      this.samples.push({ uuid, at: s.at, low: s.low[i], typical: s.typical[i], high: s.high[i], naive: s.naive[i], first: !prev });
    }
  }
}

/** Scores `samples` against the real starts (uuid -> epoch ms); containers that never started are left out. */
export function summariseAccuracy(samples: readonly EstimateSample[], startedAt: ReadonlyMap<string, number>): EstimateAccuracy {
  const first: EstimateSample[] = [];
  const all: EstimateSample[] = [];
  const containers = new Set<string>();
  for (const s of samples) {
    const actual = startedAt.get(s.uuid);
    if (actual === undefined || actual < s.at) continue;
    containers.add(s.uuid);
    all.push(s);
    if (s.first) first.push(s);
  }
  return { containers: containers.size, firstSeen: summarise(first, startedAt), all: summarise(all, startedAt) };
}

function summarise(samples: readonly EstimateSample[], startedAt: ReadonlyMap<string, number>): ErrorSummary {
  const err: number[] = [];
  const naive: number[] = [];
  let within = 0;
  for (const s of samples) {
    const actual = startedAt.get(s.uuid)!;
    const scale = Math.max(actual - s.at, MINUTE);
    err.push(Math.abs(s.typical - actual) / scale);
    naive.push(Math.abs(s.naive - actual) / scale);
    if (actual >= s.low && actual <= s.high) within++;
  }
  err.sort((a, b) => a - b);
  naive.sort((a, b) => a - b);
  return {
    count: samples.length,
    median: round(nearestRank(err, 0.5)),
    p90: round(nearestRank(err, 0.9)),
    naiveMedian: round(nearestRank(naive, 0.5)),
    naiveP90: round(nearestRank(naive, 0.9)),
    withinBand: samples.length > 0 ? round(within / samples.length) : 0,
  };
}

/** Nearest-rank q-quantile (0..1) of an ascending array; 0 when empty. The report's percentiles use it too. */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export interface WaitSummary {
  count: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  meanMs: number;
}

/** Queue waits (submitted to Running), given sorted: count, p50, p95 (nearest rank), max, mean. */
export function waitSummary(waits: readonly number[]): WaitSummary {
  return {
    count: waits.length,
    p50Ms: nearestRank(waits, 0.5),
    p95Ms: nearestRank(waits, 0.95),
    maxMs: waits.at(-1) ?? 0,
    meanMs: waits.length > 0 ? Math.round(waits.reduce((a, b) => a + b, 0) / waits.length) : 0,
  };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
