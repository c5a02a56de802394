/**
 * The latency measurement: containers submitted one at a time onto idle
 * VMs, each timed from its creation at the controller to `crunch-run
 * --detach` on its VM, by polling alone or with the event feed. See
 * `bench/dispatch-latency.ts` for the timestamps and bench/README.md for
 * the figures.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DetachEvent } from '../../drivers/lame/index.js';
import { Random } from '../../drivers/lame/random.js';
import type { InstanceView } from '../../src/scheduler/interfaces.js';
import { isIdle, startBenchStack, type BenchStack } from './stack.js';

export interface LatencyOptions {
  /** Measured containers. */
  containers: number;
  pollIntervalMs: number;
  /** Subscribe to the event feed. */
  feed: boolean;
  /** Seeds the lame cloud and the submission gaps. */
  seed: number;
  /** Idle VMs booted before measuring. */
  vms: number;
  /** Mean time between submissions. */
  gapMs: number;
  /** Unmeasured containers run first, the same way (JIT, connections, first-pass effects). */
  warmup: number;
  /** How long each container runs (`sleep`). */
  runTimeMs: number;
  logPath: string;
  logLevel: string;
  /** Give up after this long in all. */
  deadlineMs: number;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
}

export interface Sample {
  uuid: string;
  measured: boolean;
  submitted: number;
  /** How the queue first saw it: a poll, or a refresh the event feed caused. */
  via?: 'poll' | 'feed';
  /** Seen by a poll: when that poll started (entries().updated). */
  pollBegan?: number;
  polled?: number;
  lockReq?: number;
  lockSeen?: number;
  start?: number;
  detach?: number;
  /** Controller side: when the record became Locked / Running. */
  lockedAt?: number;
  runningAt?: number;
  finalState?: string;
  /** Idle VMs not yet spoken for by an earlier container, at submission. */
  idleAtSubmit: number;
  /** The worker the pool started it on, and whether that worker was idle (and empty) in the pool's last view before. */
  instance?: string;
  vmWasIdle?: boolean;
  /** The VM that got the detach, and whether another crunch-run was alive there. */
  detachVM?: string;
  vmBusyAtDetach?: boolean;
  /** Accepted detaches for this container (1 expected). */
  detaches: number;
}

export interface Stat {
  n: number;
  median: number;
  p95: number;
  max: number;
  min: number;
  mean: number;
}

export interface LatencyResult {
  options: Omit<LatencyOptions, 'progress'>;
  config: { PollInterval: number; ProbeInterval: number; MaxProbesPerSecond: number; MaxInstances: number };
  /** Measured samples on an idle VM, and the rest (flagged). */
  idleSamples: number;
  flagged: Array<{ uuid: string; why: string }>;
  stats: Record<string, Stat>;
  samples: Sample[];
  /** Measured samples the queue first saw through the feed (0 without it). */
  viaFeed: number;
  /** VMs the dispatcher created during the measurement (0 when an idle VM was always there). */
  vmsCreatedWhileMeasuring: number;
  vmsLeft: number;
  problems: string[];
  wallMs: number;
}

export const DEFAULT_OPTIONS: Omit<LatencyOptions, 'logPath'> = {
  containers: 100,
  pollIntervalMs: 10_000,
  feed: false,
  seed: 1,
  vms: 16,
  gapMs: 1000,
  warmup: 10,
  runTimeMs: 1000,
  logLevel: 'info',
  deadlineMs: 15 * 60_000,
};

/** Stage name -> [from, to, label, only for samples seen by a poll]: the figures the table and the JSON report. */
export const STAGES: Array<[string, keyof Sample, keyof Sample, string, boolean?]> = [
  ['total', 'submitted', 'detach', 'queue -> crunch-run --detach on the VM'],
  ['seen', 'submitted', 'polled', 'submitted -> in the queue (poll or feed)'],
  ['toPollStart', 'submitted', 'pollBegan', '  submitted -> poll started (polled ones)', true],
  ['pollTook', 'pollBegan', 'polled', '  poll started -> applied (its own round trips)', true],
  ['dispatch', 'polled', 'detach', 'dispatch (in the queue -> detach)'],
  ['toLock', 'polled', 'lockReq', '  in the queue -> lock request at controller'],
  ['lockRoundTrip', 'lockReq', 'lockSeen', '  lock request -> answer applied to queue'],
  ['toStart', 'lockSeen', 'start', '  lock applied -> pool.startContainer'],
  ['ssh', 'start', 'detach', '  startContainer -> detach on the VM (SSH)'],
];

/** Linear-interpolated quantile of sorted values. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function stat(values: number[]): Stat {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    p95: quantile(s, 0.95),
    max: s.length ? s[s.length - 1] : NaN,
    min: s.length ? s[0] : NaN,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN,
  };
}

/** Why a measured sample does not count as "started on an idle VM", or undefined. */
export function flagOf(s: Sample): string | undefined {
  if (s.detach === undefined) return 'never detached';
  if (s.detaches !== 1) return `${s.detaches} detaches`;
  for (const [, from, to, , pollOnly] of STAGES) {
    if (pollOnly && s.via !== 'poll') continue;
    if (typeof s[from] !== 'number' || typeof s[to] !== 'number') return `missing ${String(from)} or ${String(to)}`;
  }
  if (!s.vmWasIdle) return `worker ${s.instance} was not idle before the start`;
  if (s.vmBusyAtDetach) return `another crunch-run was alive on ${s.detachVM}`;
  if (s.instance !== s.detachVM) return `started on ${s.instance} but detached on ${s.detachVM}`;
  if (s.idleAtSubmit <= 0) return 'no idle VM free at submission';
  return undefined;
}

/** Watches the queue, the pool and the lame VMs and fills in each sample's timestamps; returns the unsubscribe functions. */
function observe(stack: BenchStack, feed: boolean, samples: Map<string, Sample>, counting: { measuring: boolean; vmsCreated: number }, unseen: Set<string>, unlocked: Set<string>): Array<() => void> {
  const { ctl, d, cloud } = stack;
  const cleanups: Array<() => void> = [];
  const lockPath = /^\/arvados\/v1\/containers\/([^/]+)\/lock$/;
  ctl.setHook((req) => {
    const m = req.method === 'POST' ? lockPath.exec(req.path) : null;
    const s = m ? samples.get(decodeURIComponent(m[1])) : undefined;
    if (s && s.lockReq === undefined) s.lockReq = Date.now();
    return undefined;
  });
  cleanups.push(() => ctl.setHook(undefined));
  cleanups.push(
    d.queue.subscribe(() => {
      if (unseen.size === 0 && unlocked.size === 0) return;
      const now = Date.now();
      const { entries, updated } = d.queue.entries();
      for (const uuid of unseen) {
        const e = entries.get(uuid);
        if (!e) continue;
        const s = samples.get(uuid)!;
        s.polled = e.firstSeenAt;
        // A refresh the feed caused does not move `updated`: the last poll began before the container existed.
        // (Without the feed, a poll that began just before the submission may still have read it.)
        s.via = feed && updated < s.submitted ? 'feed' : 'poll';
        if (s.via === 'poll') s.pollBegan = updated;
        unseen.delete(uuid);
      }
      for (const uuid of unlocked) {
        if (entries.get(uuid)?.container.state !== 'Locked') continue;
        samples.get(uuid)!.lockSeen = now;
        unlocked.delete(uuid);
      }
    }),
  );
  // The pool's last view of each worker, to tell whether the one a container starts on was idle.
  let lastViews = new Map<string, InstanceView>();
  const seenInstances = new Set<string>();
  cleanups.push(
    d.pool.subscribe(() => {
      const now = Date.now();
      const views = d.pool.instances();
      for (const v of views) {
        if (counting.measuring && v.instance !== '' && !v.instance.startsWith('pending-') && !seenInstances.has(v.instance)) counting.vmsCreated++;
        seenInstances.add(v.instance);
        for (const uuid of v.runningContainerUUIDs) {
          const s = samples.get(uuid);
          if (!s || s.start !== undefined) continue;
          s.start = now;
          s.instance = v.instance;
          const prev = lastViews.get(v.instance);
          s.vmWasIdle = prev !== undefined && isIdle(prev);
        }
      }
      lastViews = new Map(views.map((v) => [v.instance, v]));
    }),
  );
  cleanups.push(
    cloud.onDetach((e: DetachEvent) => {
      const s = samples.get(e.uuid);
      if (!s) return;
      s.detaches++;
      if (s.detach !== undefined) return;
      s.detach = e.at;
      s.detachVM = e.vm.id;
      s.vmBusyAtDetach = [...e.vm.processes.values()].some((p) => p.alive && p.uuid !== e.uuid);
    }),
  );
  return cleanups;
}

/** Runs the whole measurement; never throws for a run that went wrong, but lists it in `problems`. */
export async function measureDispatchLatency(opts: LatencyOptions): Promise<LatencyResult> {
  const began = Date.now();
  const progress = opts.progress ?? (() => undefined);
  const problems: string[] = [];
  const samples = new Map<string, Sample>();
  const counting = { measuring: false, vmsCreated: 0 };
  let vmsLeft = 0;
  let config: LatencyResult['config'] = { PollInterval: opts.pollIntervalMs, ProbeInterval: NaN, MaxProbesPerSecond: NaN, MaxInstances: opts.vms * 2 };
  const cleanups: Array<() => void> = [];
  let stack: BenchStack | undefined;
  try {
    stack = await startBenchStack(opts);
    const { ctl, live } = stack;
    config = { ...config, ProbeInterval: live.Containers.CloudVMs.ProbeInterval, MaxProbesPerSecond: live.Containers.CloudVMs.MaxProbesPerSecond };
    const deadline = began + opts.deadlineMs;
    const unseen = new Set<string>();
    const unlocked = new Set<string>();
    cleanups.push(...observe(stack, opts.feed, samples, counting, unseen, unlocked));

    // ---- warm-up: boot the VMs, then run a few unmeasured containers ----
    await stack.bootIdle(deadline);
    progress(`${opts.vms} VMs idle after ${((Date.now() - began) / 1000).toFixed(1)} s (${opts.feed ? 'with' : 'without'} the event feed)`);

    const random = new Random(opts.seed);
    const rnd = (): number => random.next();
    const s0 = stack;
    const submit = async (n: number, measured: boolean): Promise<Sample[]> => {
      const out: Sample[] = [];
      for (let i = 0; i < n; i++) {
        if (Date.now() > deadline) throw new Error('deadline passed while submitting');
        // Idle VMs not yet claimed by a container submitted earlier that has not started.
        let claimed = 0;
        for (const s of samples.values()) if (s.start === undefined) claimed++;
        const free = s0.idleCount() - claimed;
        const rec = ctl.addContainer({
          command: ['sleep', String(opts.runTimeMs / 1000)],
          priority: 1,
          runtime_constraints: { vcpus: 2, ram: 1 << 30 },
        });
        const s: Sample = { uuid: rec.uuid, measured, submitted: Date.now(), idleAtSubmit: free, detaches: 0 };
        samples.set(rec.uuid, s);
        unseen.add(rec.uuid);
        unlocked.add(rec.uuid);
        out.push(s);
        if (measured && (i + 1) % 50 === 0) progress(`submitted ${i + 1}/${n}`);
        await sleep(opts.gapMs * (0.5 + rnd()));
      }
      return out;
    };
    const waitFinal = async (batch: Sample[], what: string): Promise<void> => {
      const until = Math.min(deadline, Date.now() + 60_000 + opts.pollIntervalMs + opts.runTimeMs * 4);
      const done = (s: Sample): boolean => {
        const st = ctl.get(s.uuid)?.state;
        return st === 'Complete' || st === 'Cancelled';
      };
      while (!batch.every(done)) {
        if (Date.now() > until) {
          const left = batch.filter((s) => !done(s));
          throw new Error(`${what}: ${left.length} containers not final (e.g. ${left[0].uuid} ${ctl.get(left[0].uuid)?.state})`);
        }
        await sleep(100);
      }
    };

    const warm = await submit(opts.warmup, false);
    await waitFinal(warm, 'warm-up');
    await stack.waitAllIdle('after the warm-up', deadline);
    progress(`warm-up done (${opts.warmup} containers); measuring ${opts.containers}`);

    counting.measuring = true;
    const batch = await submit(opts.containers, true);
    await waitFinal(batch, 'measurement');
    counting.measuring = false;
    for (const s of samples.values()) {
      const h = ctl.history(s.uuid);
      s.lockedAt = h.find((e) => e.state === 'Locked')?.at;
      s.runningAt = h.find((e) => e.state === 'Running')?.at;
      s.finalState = ctl.get(s.uuid)?.state;
      if (s.finalState !== 'Complete') problems.push(`${s.uuid} ended ${s.finalState}`);
      if (s.detaches !== 1) problems.push(`${s.uuid} got ${s.detaches} detaches`);
    }
  } catch (err) {
    problems.push((err as Error).message);
  } finally {
    for (const c of cleanups.reverse()) c();
    if (stack) {
      vmsLeft = await stack.stop();
      if (vmsLeft > 0) problems.push(`${vmsLeft} VMs still listed 30 s after draining`);
    }
  }

  const measured = [...samples.values()].filter((s) => s.measured);
  const flagged: Array<{ uuid: string; why: string }> = [];
  const good: Sample[] = [];
  for (const s of measured) {
    const why = flagOf(s);
    if (why) flagged.push({ uuid: s.uuid, why });
    else good.push(s);
  }
  if (measured.length < opts.containers) problems.push(`only ${measured.length} of ${opts.containers} containers submitted`);
  const stats: Record<string, Stat> = {};
  for (const [name, from, to, , pollOnly] of STAGES) {
    const of = good.filter((s) => !pollOnly || s.via === 'poll');
    stats[name] = stat(of.map((s) => (s[to] as number) - (s[from] as number)));
  }
  const { progress: _p, ...options } = opts;
  void _p;
  return {
    options,
    config,
    idleSamples: good.length,
    flagged,
    stats,
    samples: measured,
    viaFeed: measured.filter((s) => s.via === 'feed').length,
    vmsCreatedWhileMeasuring: counting.vmsCreated,
    vmsLeft,
    problems,
    wallMs: Date.now() - began,
  };
}
