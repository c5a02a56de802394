/**
 * End-to-end dispatch latency: from a container appearing in the controller
 * to its `crunch-run --detach` arriving on an idle VM, with the real
 * dispatcher on the lame cloud over real SSH. See
 * bench/README.md.
 *
 *   npm run bench:latency
 *   node --import tsx bench/dispatch-latency.ts [--containers 200] [--poll-interval 1s] [--seed N]
 *       [--vms 16] [--gap 400ms] [--warmup 10] [--run-time 1s] [--json FILE] [--log FILE] [--log-level info]
 *
 * Set-up: config.example.yml, pointed at an in-process TestController and
 * a lame cloud with no injected faults; `--vms` small VMs are created through
 * the pool and left to boot until all are idle (TimeoutIdle 1h keeps them).
 * Containers need a whole small VM each (2 VCPUs) and run `sleep --run-time`;
 * they are submitted one at a time, `--gap` apart on average (uniform in
 * [0.5, 1.5] x gap, so arrivals fall at every phase of the poll), which
 * leaves several idle VMs at every submission. Each sample is checked: the
 * VM it started on must have been idle in the pool's view just before the
 * start, and have no other crunch-run when the detach arrived.
 *
 * Timestamps (Date.now(), ms; all in this one process):
 *   submitted   TestController.addContainer returned
 *   pollBegan   the queue poll that first returned it started (entries().updated)
 *   polled      that poll was applied (the entry's firstSeenAt)
 *   lockReq     the controller received POST .../lock (request hook)
 *   lockSeen    the queue entry showed Locked (the lock answer applied)
 *   start       the pool listed it on a worker (pool.startContainer ran)
 *   detach      the lame VM ran `crunch-run --detach ... UUID` (LameCloud.onDetach)
 */
import { once } from 'node:events';
import { createWriteStream, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { getLameCloud, type DetachEvent, type LameCloud } from '../drivers/lame/index.js';
import { systemClock } from '../src/clock/index.js';
import { loadConfigFile, parseDuration } from '../src/config/index.js';
import type { Cluster } from '../src/config/types.js';
import { againstController, EXAMPLE_CONFIG } from '../src/demo/run.js';
import { createDispatcher, type Dispatcher } from '../src/dispatcher.js';
import { createLogger } from '../src/log.js';
import type { InstanceView } from '../src/scheduler/interfaces.js';
import { TestController } from '../src/testcontroller/index.js';
import { Random } from '../drivers/lame/random.js';

export interface LatencyOptions {
  /** Measured containers. */
  containers: number;
  pollIntervalMs: number;
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
  /** VMs the dispatcher created during the measurement (0 when an idle VM was always there). */
  vmsCreatedWhileMeasuring: number;
  vmsLeft: number;
  problems: string[];
  wallMs: number;
}

export const DEFAULT_OPTIONS: Omit<LatencyOptions, 'logPath'> = {
  containers: 200,
  pollIntervalMs: 1000,
  seed: 1,
  vms: 16,
  gapMs: 400,
  warmup: 10,
  runTimeMs: 1000,
  logLevel: 'info',
  deadlineMs: 15 * 60_000,
};

/** Stage name -> [from, to]: the figures the table and the JSON report. */
export const STAGES: Array<[string, keyof Sample, keyof Sample, string]> = [
  ['total', 'submitted', 'detach', 'queue -> crunch-run --detach on the VM'],
  ['pollWait', 'submitted', 'polled', 'waiting for the poll (submitted -> poll applied)'],
  ['toPollStart', 'submitted', 'pollBegan', '  submitted -> poll started'],
  ['pollTook', 'pollBegan', 'polled', '  poll started -> applied (its own round trips)'],
  ['dispatch', 'polled', 'detach', 'dispatch (poll applied -> detach)'],
  ['toLock', 'polled', 'lockReq', '  poll applied -> lock request at controller'],
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
  for (const [, from, to] of STAGES) {
    if (typeof s[from] !== 'number' || typeof s[to] !== 'number') return `missing ${String(from)} or ${String(to)}`;
  }
  if (!s.vmWasIdle) return `worker ${s.instance} was not idle before the start`;
  if (s.vmBusyAtDetach) return `another crunch-run was alive on ${s.detachVM}`;
  if (s.instance !== s.detachVM) return `started on ${s.instance} but detached on ${s.detachVM}`;
  if (s.idleAtSubmit <= 0) return 'no idle VM free at submission';
  return undefined;
}

function isIdle(v: InstanceView): boolean {
  return v.workerState === 'idle' && v.idleBehavior === 'run' && v.runningContainerUUIDs.length === 0;
}

/** The cluster the benchmark runs: config.example.yml (`loaded`) with the changes listed here. */
export function benchCluster(loaded: Cluster, controllerURL: string, opts: LatencyOptions, cloudName: string): Cluster {
  const c = againstController(loaded, controllerURL, {
    Seed: opts.seed,
    CloudName: cloudName,
    MinBootTime: '500ms',
    MaxBootTime: '1s',
    // No injected faults: this measures the healthy path.
    ErrorRateCreate: 0,
    ErrorRateDestroy: 0,
    QuotaMaxInstances: 0,
    CapacityErrorTypes: [],
    CrunchRunCrashRate: 0,
    BrokenRate: 0,
    Transport: 'ssh',
  });
  const vms = c.Containers.CloudVMs;
  return {
    ...c,
    SystemLogs: { ...c.SystemLogs, LogLevel: opts.logLevel },
    Containers: {
      ...c.Containers,
      CloudVMs: {
        ...vms,
        PollInterval: opts.pollIntervalMs,
        TimeoutIdle: 3_600_000,
        // Room to create more if ever no VM is idle (such samples are flagged), never a quota wall.
        MaxInstances: opts.vms * 2,
      },
    },
  };
}

/** Runs the whole measurement; never throws for a run that went wrong, but lists it in `problems`. */
export async function measureDispatchLatency(opts: LatencyOptions): Promise<LatencyResult> {
  const began = Date.now();
  const progress = opts.progress ?? (() => undefined);
  const logStream = createWriteStream(opts.logPath);
  const log = createLogger({ level: opts.logLevel, stream: logStream });
  const { cluster: loaded } = loadConfigFile(EXAMPLE_CONFIG);
  const ctl = new TestController({ clusterId: loaded.ClusterID, rootToken: loaded.SystemRootToken, logger: log.child({ Component: 'test-controller' }) });
  const problems: string[] = [];
  const samples = new Map<string, Sample>();
  const cloudName = `latency-${process.pid}-${opts.seed}-${Math.floor(Math.random() * 1e9)}`;
  let dispatcher: Dispatcher | undefined;
  let cloud: LameCloud | undefined;
  let vmsCreatedWhileMeasuring = 0;
  let vmsLeft = 0;
  let config: LatencyResult['config'] = { PollInterval: opts.pollIntervalMs, ProbeInterval: NaN, MaxProbesPerSecond: NaN, MaxInstances: opts.vms * 2 };
  const cleanups: Array<() => void> = [];
  try {
    await ctl.start();
    const live = benchCluster(loaded, ctl.url, opts, cloudName);
    config = { ...config, ProbeInterval: live.Containers.CloudVMs.ProbeInterval, MaxProbesPerSecond: live.Containers.CloudVMs.MaxProbesPerSecond };
    dispatcher = await createDispatcher(live, { logger: log, clock: systemClock });
    const d = dispatcher;
    cloud = getLameCloud(cloudName);
    if (!cloud) throw new Error(`lame cloud ${cloudName} not found`);
    const deadline = began + opts.deadlineMs;

    // ---- observers ----
    const lockPath = /^\/arvados\/v1\/containers\/([^/]+)\/lock$/;
    ctl.setHook((req) => {
      const m = req.method === 'POST' ? lockPath.exec(req.path) : null;
      const s = m ? samples.get(decodeURIComponent(m[1])) : undefined;
      if (s && s.lockReq === undefined) s.lockReq = Date.now();
      return undefined;
    });
    const unpolled = new Set<string>();
    const unlocked = new Set<string>();
    cleanups.push(
      d.queue.subscribe(() => {
        if (unpolled.size === 0 && unlocked.size === 0) return;
        const now = Date.now();
        const { entries, updated } = d.queue.entries();
        for (const uuid of unpolled) {
          const e = entries.get(uuid);
          if (!e) continue;
          const s = samples.get(uuid)!;
          s.polled = e.firstSeenAt;
          s.pollBegan = updated;
          unpolled.delete(uuid);
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
    let measuring = false;
    const seenInstances = new Set<string>();
    const observePool = (): void => {
      const now = Date.now();
      const views = d.pool.instances();
      for (const v of views) {
        if (measuring && v.instance !== '' && !v.instance.startsWith('pending-') && !seenInstances.has(v.instance)) {
          seenInstances.add(v.instance);
          vmsCreatedWhileMeasuring++;
        } else seenInstances.add(v.instance);
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
    };
    cleanups.push(d.pool.subscribe(observePool));
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

    d.start();

    // ---- warm-up: boot the VMs, then run a few unmeasured containers ----
    const small = live.InstanceTypes.small;
    let created = 0;
    while (created < opts.vms) {
      if (Date.now() > deadline) throw new Error('deadline passed while creating VMs');
      if (d.pool.create(small)) created++;
      else await sleep(50);
    }
    const idleCount = (): number => d.pool.instances().filter(isIdle).length;
    const waitAllIdle = async (what: string): Promise<void> => {
      const until = Math.min(deadline, Date.now() + 120_000);
      while (idleCount() < opts.vms) {
        if (Date.now() > until) throw new Error(`${what}: only ${idleCount()} of ${opts.vms} VMs idle after waiting`);
        await sleep(50);
      }
    };
    await waitAllIdle('booting the VMs');
    for (const v of d.pool.instances()) seenInstances.add(v.instance);
    progress(`${opts.vms} VMs idle after ${((Date.now() - began) / 1000).toFixed(1)} s`);

    const random = new Random(opts.seed);
    const rnd = (): number => random.next();
    const submit = async (n: number, measured: boolean): Promise<Sample[]> => {
      const out: Sample[] = [];
      for (let i = 0; i < n; i++) {
        if (Date.now() > deadline) throw new Error('deadline passed while submitting');
        // Idle VMs not yet claimed by a container submitted earlier that has not started.
        let claimed = 0;
        for (const s of samples.values()) if (s.start === undefined) claimed++;
        const free = idleCount() - claimed;
        const rec = ctl.addContainer({
          command: ['sleep', String(opts.runTimeMs / 1000)],
          priority: 1,
          runtime_constraints: { vcpus: 2, ram: 1 << 30 },
        });
        const s: Sample = { uuid: rec.uuid, measured, submitted: Date.now(), idleAtSubmit: free, detaches: 0 };
        samples.set(rec.uuid, s);
        unpolled.add(rec.uuid);
        unlocked.add(rec.uuid);
        out.push(s);
        if (measured && (i + 1) % 50 === 0) progress(`submitted ${i + 1}/${n}`);
        await sleep(opts.gapMs * (0.5 + rnd()));
      }
      return out;
    };
    const waitFinal = async (batch: Sample[], what: string): Promise<void> => {
      const until = Math.min(deadline, Date.now() + 60_000 + opts.runTimeMs * 4);
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
    await waitAllIdle('after the warm-up');
    progress(`warm-up done (${opts.warmup} containers); measuring ${opts.containers}`);

    measuring = true;
    const batch = await submit(opts.containers, true);
    await waitFinal(batch, 'measurement');
    measuring = false;
    for (const s of samples.values()) {
      const h = ctl.history(s.uuid);
      s.lockedAt = h.find((e) => e.state === 'Locked')?.at;
      s.runningAt = h.find((e) => e.state === 'Running')?.at;
      s.finalState = ctl.get(s.uuid)?.state;
      if (s.finalState !== 'Complete') problems.push(`${s.uuid} ended ${s.finalState}`);
      if (s.detaches !== 1) problems.push(`${s.uuid} got ${s.detaches} detaches`);
    }

    // ---- clean up: drain every VM and wait for the cloud to be empty ----
    for (const v of d.pool.instances()) {
      if (!v.instance.startsWith('pending-')) await d.pool.setIdleBehavior(v.instance, 'drain').catch(() => undefined);
    }
    const tag = `${live.Containers.CloudVMs.TagKeyPrefix}InstanceSetID`;
    const listOurs = async (): Promise<number> => (await d.instanceSet.instances({ [tag]: d.instanceSetId })).length;
    const until = Date.now() + 30_000;
    while ((vmsLeft = await listOurs()) > 0 && Date.now() < until) await sleep(100);
    if (vmsLeft > 0) problems.push(`${vmsLeft} VMs still listed 30 s after draining`);
  } catch (err) {
    problems.push((err as Error).message);
  } finally {
    for (const c of cleanups.reverse()) c();
    await dispatcher?.stop();
    await cloud?.shutdown();
    await ctl.stop();
    logStream.end();
    await once(logStream, 'close').catch(() => undefined);
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
  for (const [name, from, to] of STAGES) stats[name] = stat(good.map((s) => (s[to] as number) - (s[from] as number)));
  const { progress: _p, ...options } = opts;
  void _p;
  return {
    options,
    config,
    idleSamples: good.length,
    flagged,
    stats,
    samples: measured,
    vmsCreatedWhileMeasuring,
    vmsLeft,
    problems,
    wallMs: Date.now() - began,
  };
}

// ---- report -------------------------------------------------------------------

const ms = (x: number): string => (Number.isNaN(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));

export function formatReport(r: LatencyResult): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push(
    `Dispatch latency: ${o.containers} containers (2 VCPUs, sleep ${o.runTimeMs / 1000} s), one every ${o.gapMs} ms on average ` +
      `(uniform 0.5-1.5x), onto ${o.vms} pre-booted idle small VMs; lame cloud over real SSH; seed ${o.seed}; ` +
      `${o.warmup} unmeasured warm-up containers first.`,
  );
  lines.push(
    `PollInterval ${r.config.PollInterval} ms, ProbeInterval ${r.config.ProbeInterval} ms, MaxProbesPerSecond ${r.config.MaxProbesPerSecond}, ` +
      `MaxInstances ${r.config.MaxInstances}, TimeoutIdle 1h. Log (${o.logLevel}): ${o.logPath}`,
  );
  lines.push(`Samples on an idle VM: ${r.idleSamples} of ${r.samples.length}; VMs created while measuring: ${r.vmsCreatedWhileMeasuring}.`);
  lines.push('');
  const rows = STAGES.map(([name, , , label]) => {
    const s = r.stats[name];
    return [label, String(s.n), ms(s.median), ms(s.p95), ms(s.max)];
  });
  const head = ['stage (ms)', 'n', 'median', 'p95', 'max'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]): string => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(fmt(head));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) lines.push(fmt(row));
  lines.push('');
  const total = r.stats.total;
  const over = total.median - r.config.PollInterval;
  lines.push(
    `Target (median under 1 s beyond the poll interval): total median ${ms(total.median)} ms = PollInterval ${over < 0 ? '-' : '+'} ${ms(Math.abs(over))} ms ` +
      `-> ${over < 1000 ? 'met' : 'NOT met'}; dispatch after the poll: median ${ms(r.stats.dispatch.median)} ms, p95 ${ms(r.stats.dispatch.p95)} ms.`,
  );
  for (const f of r.flagged.slice(0, 10)) lines.push(`flagged ${f.uuid}: ${f.why}`);
  if (r.flagged.length > 10) lines.push(`... and ${r.flagged.length - 10} more flagged`);
  for (const p of r.problems) lines.push(`PROBLEM: ${p}`);
  lines.push(`Wall time ${(r.wallMs / 1000).toFixed(1)} s.`);
  return lines.join('\n') + '\n';
}

// ---- CLI ----------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      containers: { type: 'string' },
      'poll-interval': { type: 'string' },
      seed: { type: 'string' },
      vms: { type: 'string' },
      gap: { type: 'string' },
      warmup: { type: 'string' },
      'run-time': { type: 'string' },
      json: { type: 'string' },
      log: { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  const int = (v: string | undefined, dflt: number, name: string): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: not a non-negative integer: ${v}`);
    return n;
  };
  const dur = (v: string | undefined, dflt: number): number => (v === undefined ? dflt : parseDuration(v));
  const opts: LatencyOptions = {
    ...DEFAULT_OPTIONS,
    containers: int(values.containers, DEFAULT_OPTIONS.containers, 'containers'),
    pollIntervalMs: dur(values['poll-interval'], DEFAULT_OPTIONS.pollIntervalMs),
    seed: int(values.seed, DEFAULT_OPTIONS.seed, 'seed'),
    vms: int(values.vms, DEFAULT_OPTIONS.vms, 'vms'),
    gapMs: dur(values.gap, DEFAULT_OPTIONS.gapMs),
    warmup: int(values.warmup, DEFAULT_OPTIONS.warmup, 'warmup'),
    runTimeMs: dur(values['run-time'], DEFAULT_OPTIONS.runTimeMs),
    logLevel: values['log-level'] ?? DEFAULT_OPTIONS.logLevel,
    logPath: values.log ?? join(tmpdir(), `dispatch-latency-${process.pid}.log`),
    progress: (line) => process.stderr.write(`${line}\n`),
  };
  if (opts.vms < 1 || opts.containers < 1) throw new Error('--vms and --containers must be at least 1');
  const r = await measureDispatchLatency(opts);
  process.stdout.write(formatReport(r));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(r, null, 2)}\n`);
  return r.problems.length > 0 || r.idleSamples === 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`dispatch-latency: ${(err as Error).message}\n`);
      process.exit(2);
    },
  );
}
