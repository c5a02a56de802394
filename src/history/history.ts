/**
 * The last hours of the dispatcher, kept in memory for the status page's
 * charts (`GET /arvados/v1/dispatch/history`): every `intervalMs` one sample
 * of VMs by category, containers by state, queue wait, cost per hour, and
 * cloud and controller errors as rates, each series a fixed-size `Ring`, so
 * the history is bounded (720 samples of 30 s, 6 hours, by default: about
 * 100 KB) however long the daemon runs.
 *
 * The values are the ones /metrics reports, read from the same sources the
 * metrics registry's collectors read (`MetricsSources`) and from the same
 * cloud-call and pool events its counters and summaries observe, so a chart
 * and a Grafana panel of the same thing agree. The history belongs to one
 * dispatcher: a daemon that takes over the dispatch lock starts a new one.
 */
import type { Clock, Timer } from '../clock/index.js';
import type { Logger } from '../log.js';
import { RateLimitedLog } from '../log.js';
import { CLOUD_ERROR_CLASSES, cloudErrorClass, type CloudErrorClass } from '../http/cloud-error-metrics.js';
import { INSTANCE_CATEGORIES, instanceCategory, type MetricsSources } from '../http/metrics.js';
import type { PoolEvent } from '../worker/pool.js';
import { quantile } from '../estimate/stats.js';
import { Ring } from './ring.js';

/** Default time between samples. */
export const HISTORY_INTERVAL_MS = 30_000;
/** Default number of samples kept: 6 hours at the default interval. */
export const HISTORY_SAMPLES = 720;

/** Most container waits kept between two samples. */
const MAX_WAITS = 10_000;

/** The queue states a container can be in while the dispatcher lists it. */
const QUEUE_STATES = ['Queued', 'Locked', 'Running'] as const;

/**
 * Each group of series and the labels of its series, in the order a chart
 * shows them. Units are in the group's name; rates are per minute, over the
 * time since the previous sample.
 */
export const HISTORY_GROUPS = {
  /** VMs by the reference's category (as `instances_total`). */
  vms: INSTANCE_CATEGORIES,
  /** Containers in the queue by state (as `queue_entries`). */
  containers: QUEUE_STATES,
  /** longest: the longest wait of a container not started yet (`containers_longest_wait_time_seconds`); started_median: the median wait from queuing to crunch-run of the containers that started since the previous sample (null when none did). */
  queue_wait_seconds: ['longest', 'started_median'],
  /** What the VMs alive cost per hour (`cost_per_hour_dollars`). */
  cost_per_hour_dollars: ['total'],
  /** Failed cloud calls by error class (`cloud_errors_total`). */
  cloud_errors_per_minute: CLOUD_ERROR_CLASSES,
  /** Controller requests that got a 503/429 (overload) or no answer (failed) (`controller_requests_total`). */
  controller_errors_per_minute: ['overload', 'failed'],
} as const;

export type HistoryGroup = keyof typeof HISTORY_GROUPS;

/** What the history reads at each sample: part of what the metrics collectors read. */
export type HistorySources = Pick<MetricsSources, 'workers' | 'queueEntries' | 'controllerRequests' | 'cost'> & {
  readonly scheduler: Pick<MetricsSources['scheduler'], 'longestWaitTimeSeconds'>;
};

/** The body of `GET /arvados/v1/dispatch/history`. */
export interface HistoryJSON {
  /** Seconds between samples. */
  interval_seconds: number;
  /** How many samples are kept at most (the oldest go first). */
  max_samples: number;
  /** When each sample was taken, in seconds since the epoch, oldest first. */
  times: number[];
  /** Each group's series by label (HISTORY_GROUPS), each as long as `times`; null where a sample has no value. */
  series: { [G in HistoryGroup]: Record<(typeof HISTORY_GROUPS)[G][number], Array<number | null>> };
}

export interface HistoryOptions {
  clock: Clock;
  sources: HistorySources;
  logger: Logger;
  /** Time between samples; default HISTORY_INTERVAL_MS. */
  intervalMs?: number;
  /** Samples kept per series; default HISTORY_SAMPLES. */
  maxSamples?: number;
}

/** Decimal places each group is rounded to in the JSON: enough for a chart, without float noise. */
const DECIMALS: Record<HistoryGroup, number> = {
  vms: 0,
  containers: 0,
  queue_wait_seconds: 1,
  cost_per_hour_dollars: 4,
  cloud_errors_per_minute: 3,
  controller_errors_per_minute: 3,
};

type Sample = { [G in HistoryGroup]: Record<string, number | null> };

export class History {
  readonly intervalMs: number;
  readonly maxSamples: number;
  private readonly times: Ring;
  private readonly rings = new Map<string, Ring>();
  private readonly cloudErrors: Record<CloudErrorClass, number> = { rate_limit: 0, quota: 0, capacity: 0, other: 0 };
  /** Waits (s) of the containers whose crunch-run started since the last sample. */
  private startedWaits: number[] = [];
  /** The counters' totals and the time at the last sample, for rates. */
  private previous: { at: number; cloud: Record<CloudErrorClass, number>; controller: { overload: number; failed: number } } | undefined;
  private timer: Timer | undefined;
  private readonly warn: RateLimitedLog;

  constructor(private readonly opts: HistoryOptions) {
    this.intervalMs = opts.intervalMs ?? HISTORY_INTERVAL_MS;
    this.maxSamples = opts.maxSamples ?? HISTORY_SAMPLES;
    if (!(this.intervalMs > 0)) throw new RangeError(`history interval must be positive, got ${this.intervalMs}`);
    this.times = new Ring(this.maxSamples);
    for (const [group, labels] of Object.entries(HISTORY_GROUPS)) for (const label of labels) this.rings.set(`${group}.${label}`, new Ring(this.maxSamples));
    this.warn = new RateLimitedLog(opts.logger, opts.clock);
  }

  /** Takes a first sample now, then one every `intervalMs` until `stop()`. */
  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = this.opts.clock.setRepeatingTimer(this.intervalMs, () => this.sample());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** For the instance-set wrapper's `observe`, beside the metrics: one cloud call ended. */
  readonly observeCloud = (err: unknown): void => {
    if (err !== undefined) this.cloudErrors[cloudErrorClass(err)]++;
  };

  /** For `PoolDeps.onEvent`, beside the metrics: the waits of the containers that start. */
  readonly observePool = (event: PoolEvent): void => {
    // Bounded too, should samples keep failing: a median of 10,000 is as good as of more.
    if (event.type === 'crunchRunStarted' && this.startedWaits.length < MAX_WAITS) this.startedWaits.push(Math.max(0, event.sinceQueuedMs / 1000));
  };

  /**
   * Records one sample of every series as of now. The timer calls it; tests
   * call it directly. A source that throws costs this sample only (logged,
   * rate-limited): the history must never take the daemon down.
   */
  sample(): void {
    let s: Sample;
    try {
      s = this.read();
    } catch (err) {
      this.warn.warn('history sample failed', { error: err });
      return;
    }
    this.times.push(this.opts.clock.now());
    for (const [group, labels] of Object.entries(HISTORY_GROUPS) as Array<[HistoryGroup, readonly string[]]>) {
      for (const label of labels) this.rings.get(`${group}.${label}`)!.push(s[group][label] ?? null);
    }
  }

  /** The samples kept, oldest first, for the management API. */
  json(): HistoryJSON {
    const series = {} as Record<HistoryGroup, Record<string, Array<number | null>>>;
    for (const [group, labels] of Object.entries(HISTORY_GROUPS) as Array<[HistoryGroup, readonly string[]]>) {
      const scale = 10 ** DECIMALS[group];
      series[group] = {};
      for (const label of labels) {
        series[group][label] = this.rings.get(`${group}.${label}`)!.values().map((v) => (v === null ? null : Math.round(v * scale) / scale));
      }
    }
    return {
      interval_seconds: this.intervalMs / 1000,
      max_samples: this.maxSamples,
      times: this.times.values().map((t) => (t ?? 0) / 1000),
      series: series as HistoryJSON['series'],
    };
  }

  private read(): Sample {
    const { sources, clock } = this.opts;
    const now = clock.now();
    const vms: Record<string, number> = Object.fromEntries(INSTANCE_CATEGORIES.map((c) => [c, 0]));
    for (const w of sources.workers()) vms[instanceCategory(w)]!++;
    const containers: Record<string, number> = Object.fromEntries(QUEUE_STATES.map((c) => [c, 0]));
    for (const e of sources.queueEntries()) if (Object.hasOwn(containers, e.container.state)) containers[e.container.state]!++;
    const requests = sources.controllerRequests?.() ?? { ok: 0, overload: 0, failed: 0 };
    const longest = sources.scheduler.longestWaitTimeSeconds;
    const costPerHour = sources.cost?.().costPerHour() ?? 0;
    // Every source is read: from here on nothing throws, so the waits and
    // totals are taken for this sample only if it is recorded.
    const totals = { at: now, cloud: { ...this.cloudErrors }, controller: { overload: requests.overload, failed: requests.failed } };
    const prev = this.previous;
    const minutes = prev ? (now - prev.at) / 60_000 : 0;
    // No rate for the first sample (nothing to compare with) or for two
    // samples at the same instant.
    const rate = (a: number, b: number | undefined): number | null => (b === undefined || !(minutes > 0) ? null : Math.max(0, a - b) / minutes);
    const waits = this.startedWaits;
    this.startedWaits = [];
    this.previous = totals;
    return {
      vms,
      containers,
      queue_wait_seconds: { longest, started_median: waits.length ? quantile(waits.sort((a, b) => a - b), 0.5) : null },
      cost_per_hour_dollars: { total: costPerHour },
      cloud_errors_per_minute: Object.fromEntries(CLOUD_ERROR_CLASSES.map((c) => [c, rate(totals.cloud[c], prev?.cloud[c])])),
      controller_errors_per_minute: {
        overload: rate(totals.controller.overload, prev?.controller.overload),
        failed: rate(totals.controller.failed, prev?.controller.failed),
      },
    };
  }
}
