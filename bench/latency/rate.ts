/**
 * What the event feed costs the controller: containers arrive at a steady
 * rate (20 a second by default) and run to completion on idle VMs, and the
 * dispatcher's requests to the controller are counted over a window in the
 * middle of the run, by kind, with and without the feed. Crunch-run's own
 * requests (the lame cloud's) are counted apart: they are the same either way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestLogEntry } from '../../src/testcontroller/index.js';
import { startBenchStack, type BenchStack } from './stack.js';

export interface RateOptions {
  feed: boolean;
  /** Containers submitted per second. */
  perSecond: number;
  /** How long containers are submitted. */
  durationMs: number;
  /** Requests are counted from this long after the first submission to the last one. */
  warmMs: number;
  pollIntervalMs: number;
  vms: number;
  /** VCPUs of each VM (the `small` type), hence 1-VCPU containers per VM. */
  vmVCPUs: number;
  /** How long each container runs. */
  runTimeMs: number;
  seed: number;
  logPath: string;
  logLevel: string;
  progress?: (line: string) => void;
}

export const DEFAULT_RATE_OPTIONS: Omit<RateOptions, 'logPath' | 'feed'> = {
  perSecond: 20,
  durationMs: 40_000,
  warmMs: 10_000,
  pollIntervalMs: 10_000,
  // 160 slots: by polling alone, a finished container holds its slot until
  // the next poll shows it final (~5 s on average at 10 s), so 20 a second
  // need ~120 slots to keep up; with the feed, far fewer would do.
  vms: 10,
  vmVCPUs: 16,
  runTimeMs: 500,
  seed: 1,
  logLevel: 'info',
};

/** The kinds of dispatcher request counted. */
export const REQUEST_KINDS = ['pollList', 'uuidList', 'details', 'lock', 'other'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

export const REQUEST_KIND_LABELS: Record<RequestKind, string> = {
  pollList: 'list: ours / head / sweep (polls)',
  uuidList: 'list: uuid in [...] (checks, refreshes)',
  details: 'GET one container (details of a new one)',
  lock: 'lock / unlock',
  other: 'other (cancel, token)',
};

export interface RateResult {
  options: Omit<RateOptions, 'progress'>;
  windowMs: number;
  /** The dispatcher's requests in the window, by kind, per second. */
  perSecond: Record<RequestKind, number>;
  dispatcherPerSecond: number;
  crunchRunPerSecond: number;
  /** Containers submitted in the window, per second (the arrival rate actually reached). */
  arrivalsPerSecond: number;
  /** Event feed: container events and refreshes per second in the window (0 without the feed). */
  feedEventsPerSecond: number;
  refreshesPerSecond: number;
  completed: number;
  submitted: number;
  problems: string[];
  wallMs: number;
}

export function kindOf(r: Pick<RequestLogEntry, 'method' | 'route' | 'query'>): RequestKind {
  if (r.method === 'GET' && r.route === '/arvados/v1/containers') {
    const f = r.query.filters ?? '';
    return f.includes('"locked_by_uuid"') || f.includes('"state"') ? 'pollList' : 'uuidList';
  }
  if (r.method === 'GET' && r.route === '/arvados/v1/containers/{uuid}') return 'details';
  if (r.method === 'POST' && (r.route.endsWith('/lock') || r.route.endsWith('/unlock'))) return 'lock';
  return 'other';
}

export async function measureRequestRate(opts: RateOptions): Promise<RateResult> {
  const began = Date.now();
  const progress = opts.progress ?? (() => undefined);
  const problems: string[] = [];
  const perSecond = Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
  let windowMs = NaN;
  let dispatcherPerSecond = NaN;
  let crunchRunPerSecond = NaN;
  let arrivalsPerSecond = NaN;
  let feedEventsPerSecond = 0;
  let refreshesPerSecond = 0;
  const uuids: string[] = [];
  let completed = 0;
  let stack: BenchStack | undefined;
  try {
    stack = await startBenchStack({ ...opts, smallVCPUs: opts.vmVCPUs });
    const { ctl, d } = stack;
    await stack.bootIdle(began + 5 * 60_000);
    progress(`${opts.vms} VMs of ${opts.vmVCPUs} VCPUs idle; ${opts.perSecond} containers/s for ${opts.durationMs / 1000} s, ${opts.feed ? 'with' : 'without'} the event feed`);
    const gap = 1000 / opts.perSecond;
    const t0 = Date.now();
    let mark: { at: number; log: number; submitted: number; events: number; refreshes: number } | undefined;
    for (let i = 0; ; i++) {
      const due = t0 + i * gap;
      if (due - t0 >= opts.durationMs) break;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (!mark && Date.now() - t0 >= opts.warmMs) {
        const v = d.eventFeed.view();
        mark = { at: Date.now(), log: ctl.requestLog().length, submitted: uuids.length, events: v.status?.events.container ?? 0, refreshes: v.hints.refreshes };
      }
      uuids.push(ctl.addContainer({ command: ['sleep', String(opts.runTimeMs / 1000)], priority: 1, runtime_constraints: { vcpus: 1, ram: 1 << 30 } }).uuid);
    }
    const end = Date.now();
    if (!mark) throw new Error('the window never began: --duration must exceed --warm');
    const log = ctl.requestLog().slice(mark.log);
    const v = d.eventFeed.view();
    windowMs = end - mark.at;
    const per = (n: number): number => (n * 1000) / windowMs;
    const ours = log.filter((r) => r.caller === 'arvados-dispatch-cloud');
    for (const r of ours) perSecond[kindOf(r)]++;
    for (const k of REQUEST_KINDS) perSecond[k] = per(perSecond[k]);
    dispatcherPerSecond = per(ours.length);
    crunchRunPerSecond = per(log.filter((r) => r.caller === 'crunch-run').length);
    arrivalsPerSecond = per(uuids.length - mark.submitted);
    feedEventsPerSecond = per((v.status?.events.container ?? 0) - mark.events);
    refreshesPerSecond = per(v.hints.refreshes - mark.refreshes);

    const until = Date.now() + 60_000 + opts.pollIntervalMs;
    const final = (u: string): boolean => ['Complete', 'Cancelled'].includes(ctl.get(u)?.state ?? '');
    while (!uuids.every(final) && Date.now() < until) await sleep(200);
    completed = uuids.filter((u) => ctl.get(u)?.state === 'Complete').length;
    if (completed < uuids.length) problems.push(`${uuids.length - completed} of ${uuids.length} containers did not complete`);
  } catch (err) {
    problems.push((err as Error).message);
  } finally {
    if (stack) {
      const left = await stack.stop();
      if (left > 0) problems.push(`${left} VMs still listed 30 s after draining`);
    }
  }
  const { progress: _p, ...options } = opts;
  void _p;
  return {
    options,
    windowMs,
    perSecond,
    dispatcherPerSecond,
    crunchRunPerSecond,
    arrivalsPerSecond,
    feedEventsPerSecond,
    refreshesPerSecond,
    completed,
    submitted: uuids.length,
    problems,
    wallMs: Date.now() - began,
  };
}
