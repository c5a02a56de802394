/**
 * The dispatcher when the controller is in trouble: the same workload in
 * three scenarios, one after the other, each with a fresh controller,
 * cloud and daemon, and the throughput of each. See bench/README.md for the
 * figures.
 *
 *   npm run bench:trouble
 *   node --import tsx bench/controller-trouble.ts [--containers N] [--latency-ms MS] [--max-in-flight N]
 *     [--only baseline|outage|overload] [--daemon-dir CHECKOUT] [--keep-logs]
 *
 * `--daemon-dir` runs the daemon of another checkout (with its own
 * node_modules), e.g. an older commit, against the same controller, cloud
 * and workload: how the figures were before a change.
 *
 * What runs, black-box: the real daemon (`node scripts/from-sources.mjs
 * --config FILE`, a child process) against the test controller
 * (`src/testcontroller/`, in this process, over HTTP, every request held
 * `LATENCY_MS` so requests overlap as on a real cluster), on the lame cloud
 * in a process of its own (`lame-cloud`, real SSH to each VM, crunch-runs
 * that report to the controller over HTTP with their own User-Agent).
 *
 * Scenarios:
 * - **baseline**: no trouble;
 * - **outage**: the controller answers every request with 503 for 3 s of
 *   every 10 s (a restart, a proxy without its backend);
 * - **overload**: the controller refuses with 503 any request arriving while
 *   20 are in flight (Arvados's `API.MaxConcurrentRequests`).
 *
 * Printed per scenario: containers completed per minute (from the first
 * submission to the last container final, or to the deadline), the limit
 * the daemon reported (its `max_concurrent_containers` metric, sampled every
 * second: lowest and average) and its controller state, and the requests
 * served and refused, by caller. For overload, the share refused "once
 * settled" counts only requests after SETTLE_MS, and the completions in
 * that window show the cluster still makes progress.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/clock/index.js';
import { daemonConfigHead, lameContainersHead } from '../src/harness/daemon-config.js';
import { DaemonProcess, logRecords, sleep, waitUntil } from '../src/harness/processes.js';
import { createLogger } from '../src/log.js';
import { generateSshKeyPair } from '../src/ssh/keys.js';
import { type OutageSchedule, type RequestCounts, TestController } from '../src/testcontroller/index.js';

const MAX_INSTANCES = 6;
/** VCPUs of the one instance type: that many 1-VCPU containers share each VM. */
const PER_INSTANCE = 4;
/** Every controller request is held this long (all scenarios), unless --latency-ms says otherwise. */
const LATENCY_MS = 500;
const OUTAGE: OutageSchedule = { everyMs: 10_000, forMs: 3000 };
const MAX_IN_FLIGHT = 20;
/** The overload scenario's refusals are counted from this long after the start. */
const SETTLE_MS = 30_000;
/** A scenario stops here even if containers are left. */
const DEADLINE_MS = 180_000;
const GiB = 1 << 30;
const FINAL = new Set(['Complete', 'Cancelled']);

type ScenarioName = 'baseline' | 'outage' | 'overload';

interface Scenario {
  name: ScenarioName;
  what: string;
  outage?: OutageSchedule;
  maxInFlight?: number;
}

function scenarios(maxInFlight: number): Scenario[] {
  return [
    { name: 'baseline', what: 'no trouble' },
    { name: 'outage', what: `every request 503 for ${OUTAGE.forMs / 1000} s of every ${OUTAGE.everyMs / 1000} s`, outage: OUTAGE },
    { name: 'overload', what: `503 past ${maxInFlight} requests in flight`, maxInFlight },
  ];
}

interface Result {
  scenario: Scenario;
  containers: number;
  completed: number;
  cancelled: number;
  elapsedMs: number;
  perMinute: number;
  limitMin: number;
  limitAvg: number;
  states: Record<string, number>;
  counts: { byCaller: Record<string, RequestCounts>; total: RequestCounts; maxInFlight: number };
  /** From SETTLE_MS to the end. */
  settled: { total: RequestCounts; completed: number; ms: number };
}

function configYAML(o: { rootToken: string; controllerURL: string; cloudURL: string; privateKey: string }): string {
  return `${daemonConfigHead({ rootToken: o.rootToken, controllerURL: o.controllerURL })}    SystemLogs:
      LogLevel: info
${lameContainersHead(o)}          MinBootTime: 200ms
          MaxBootTime: 1s
        MaxInstances: ${MAX_INSTANCES}
        PollInterval: 1s
        ProbeInterval: 500ms
        SyncInterval: 1s
        MaxProbesPerSecond: 1000
        MaxCloudOpsPerSecond: 1000
        TimeoutIdle: 10s
        TimeoutBooting: 10s
        TimeoutProbe: 10s
        TimeoutShutdown: 5s
    InstanceTypes:
      c4:
        ProviderType: lame.c4
        VCPUs: ${PER_INSTANCE}
        RAM: ${4 * PER_INSTANCE + 2}GiB
        IncludedScratch: 100GB
        Price: 0.05
`;
}

/** The daemon's metric values by name (unlabelled) and the state gauge's label set to 1. */
async function scrape(url: string): Promise<{ limit?: number; state?: string }> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const limit = /^arvados_dispatchcloud_max_concurrent_containers (\S+)$/m.exec(text);
  const state = /^arvados_dispatchcloud_controller_state\{state="(\w+)"\} 1$/m.exec(text);
  return { limit: limit ? Number(limit[1]) : undefined, state: state?.[1] };
}

async function runScenario(s: Scenario, n: number, latencyMs: number, dir: string, daemonDir?: string): Promise<Result> {
  const logDir = mkdtempSync(join(dir, `${s.name}-`));
  const controllerStream: WriteStream = createWriteStream(join(logDir, 'controller.log'));
  const rootToken = randomBytes(32).toString('hex');
  const controller = new TestController({
    rootToken,
    latencyMs,
    maxConcurrentRequests: s.maxInFlight ?? 0,
    logger: createLogger({ level: 'warn', stream: controllerStream }),
  });
  await controller.start();
  const common = { rootToken, controllerURL: controller.url, privateKey: generateSshKeyPair().private };
  const cloudConfig = join(logDir, 'lame-cloud.yml');
  writeFileSync(cloudConfig, configYAML({ ...common, cloudURL: 'http://127.0.0.1:0' }));
  const cloudLog = join(logDir, 'lame-cloud.log');
  const cloud = new DaemonProcess('lame-cloud', ['lame-cloud', '--config', cloudConfig], cloudLog);
  let dispatcher: DaemonProcess | undefined;
  try {
    let cloudURL: string | undefined;
    await waitUntil('the lame cloud to listen', () => (cloudURL = logRecords(cloudLog).find((r) => r.msg === 'lame cloud listening')?.URL as string | undefined) !== undefined, 20_000, 50);
    const daemonConfig = join(logDir, 'dispatcher.yml');
    writeFileSync(daemonConfig, configYAML({ ...common, cloudURL: cloudURL! }));
    const daemonLog = join(logDir, 'dispatcher.log');
    dispatcher = new DaemonProcess('dispatcher', ['--config', daemonConfig], daemonLog, daemonDir);
    let mgmt: string | undefined;
    await waitUntil('the dispatcher to listen', () => (mgmt = logRecords(daemonLog).find((r) => r.msg === 'listening')?.Listen as string | undefined) !== undefined, 20_000, 50);

    const uuids: string[] = [];
    for (let i = 0; i < n; i++) {
      const c = controller.addContainer({
        command: ['sleep', String((i % 5) / 2)],
        priority: (i % 10) + 1,
        runtime_constraints: { ram: GiB, vcpus: 1 },
      });
      uuids.push(c.uuid);
    }
    const t0 = systemClock.now();
    if (s.outage) controller.setOutage(s.outage);
    const finalCount = (state?: string): number => uuids.filter((u) => (state ? controller.get(u)!.state === state : FINAL.has(controller.get(u)!.state))).length;
    const limits: number[] = [];
    const states: Record<string, number> = {};
    let settledAt: { counts: RequestCounts; completed: number; at: number } | undefined;
    let lastFinalAt = t0;
    let lastFinal = 0;
    while (systemClock.now() - t0 < DEADLINE_MS) {
      if (!dispatcher.running) throw new Error(`the dispatcher exited: ${JSON.stringify(dispatcher.exitStatus)}; logs in ${logDir}`);
      const done = finalCount();
      if (done > lastFinal) {
        lastFinal = done;
        lastFinalAt = systemClock.now();
      }
      if (done === n) break;
      if (!settledAt && systemClock.now() - t0 >= SETTLE_MS) {
        settledAt = { counts: controller.requestCounts().total, completed: finalCount('Complete'), at: systemClock.now() };
      }
      try {
        const m = await scrape(`http://${mgmt}`);
        if (m.limit !== undefined) limits.push(m.limit);
        if (m.state) states[m.state] = (states[m.state] ?? 0) + 1;
      } catch {
        // The management server is busy: skip this sample.
      }
      await sleep(1000);
    }
    const end = finalCount() === n ? lastFinalAt : systemClock.now();
    const counts = controller.requestCounts();
    const completed = finalCount('Complete');
    const settledFrom = settledAt ?? { counts: { served: 0, refused: 0 }, completed: 0, at: t0 };
    return {
      scenario: s,
      containers: n,
      completed,
      cancelled: finalCount('Cancelled'),
      elapsedMs: end - t0,
      perMinute: (completed * 60_000) / (end - t0),
      limitMin: limits.length ? Math.min(...limits) : NaN,
      limitAvg: limits.length ? limits.reduce((a, b) => a + b, 0) / limits.length : NaN,
      states,
      counts,
      settled: {
        total: { served: counts.total.served - settledFrom.counts.served, refused: counts.total.refused - settledFrom.counts.refused },
        completed: completed - settledFrom.completed,
        ms: end - settledFrom.at,
      },
    };
  } finally {
    await dispatcher?.stop('SIGTERM', 10_000);
    await cloud.stop('SIGTERM', 10_000);
    await controller.stop();
    await new Promise<void>((resolve) => controllerStream.end(resolve));
  }
}

function pct(c: RequestCounts): string {
  const all = c.served + c.refused;
  return all === 0 ? 'n/a' : `${((100 * c.refused) / all).toFixed(1)}%`;
}

function report(r: Result): string {
  const callers = Object.entries(r.counts.byCaller)
    .map(([caller, c]) => `${caller} ${c.served} served / ${c.refused} refused (${pct(c)})`)
    .join('; ');
  const states = Object.entries(r.states)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `${r.scenario.name} (${r.scenario.what}): ${r.completed}/${r.containers} Complete, ${r.cancelled} Cancelled in ${(r.elapsedMs / 1000).toFixed(1)} s = ${r.perMinute.toFixed(1)} containers/min`,
    `  limit (max_concurrent_containers, 1 s samples): min ${r.limitMin}, mean ${r.limitAvg.toFixed(1)}; controller state samples: ${states || 'none'}`,
    `  requests: ${r.counts.total.served} served, ${r.counts.total.refused} refused (${pct(r.counts.total)}); most in flight ${r.counts.maxInFlight}; by caller: ${callers}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { containers: { type: 'string', default: '240' }, 'latency-ms': { type: 'string', default: String(LATENCY_MS) },
      'max-in-flight': { type: 'string', default: String(MAX_IN_FLIGHT) },
      'daemon-dir': { type: 'string' }, only: { type: 'string' }, 'keep-logs': { type: 'boolean', default: false } },
  });
  const n = Number(values.containers);
  const latencyMs = Number(values['latency-ms']);
  if (!(latencyMs >= 0)) throw new Error(`--latency-ms must be a number >= 0, not ${values['latency-ms']}`);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--containers must be a positive integer, not ${values.containers}`);
  const maxInFlight = Number(values['max-in-flight']);
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new Error(`--max-in-flight must be a positive integer, not ${values['max-in-flight']}`);
  const all = scenarios(maxInFlight);
  const chosen = values.only ? all.filter((s) => s.name === values.only) : all;
  if (chosen.length === 0) throw new Error(`--only must be one of ${all.map((s) => s.name).join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'arvados-dispatch-cloud-trouble-'));
  console.log(
    `controller trouble: ${n} containers of 0-2 s (1 VCPU), ${MAX_INSTANCES} instances of ${PER_INSTANCE} VCPUs, PollInterval 1 s, controller latency ${latencyMs} ms${values['daemon-dir'] ? `; daemon from ${values['daemon-dir']}` : ''}; logs in ${dir}`,
  );
  const results = new Map<ScenarioName, Result>();
  for (const s of chosen) {
    const r = await runScenario(s, n, latencyMs, dir, values['daemon-dir']);
    results.set(s.name, r);
    console.log(report(r));
  }
  const base = results.get('baseline');
  const outage = results.get('outage');
  const overload = results.get('overload');
  console.log('---');
  if (base && outage) {
    const ratio = outage.perMinute / base.perMinute;
    console.log(`outage / baseline throughput: ${ratio.toFixed(2)} (target >= 0.5: ${ratio >= 0.5 ? 'met' : 'MISSED'})`);
  }
  if (overload) {
    const share = overload.settled.total.refused / Math.max(1, overload.settled.total.served + overload.settled.total.refused);
    console.log(
      `overload, once settled (after ${SETTLE_MS / 1000} s): ${pct(overload.settled.total)} of ${overload.settled.total.served + overload.settled.total.refused} requests refused (target < 5%: ${share < 0.05 ? 'met' : 'MISSED'}); ` +
        `${overload.settled.completed} containers completed in those ${(overload.settled.ms / 1000).toFixed(0)} s (${overload.settled.completed > 0 ? 'progress' : 'NO PROGRESS'})`,
    );
  }
  if (!values['keep-logs']) rmSync(dir, { recursive: true, force: true });
}

await main();
