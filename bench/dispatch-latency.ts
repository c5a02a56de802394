/**
 * End-to-end dispatch latency: from a container appearing in the controller
 * to its `crunch-run --detach` arriving on an idle VM, with the real
 * dispatcher on the lame cloud over real SSH, with the Arvados event feed
 * and by polling alone, in the same run; then what the feed costs the
 * controller, in requests per second, with containers arriving steadily.
 * See bench/README.md.
 *
 *   npm run bench:latency
 *   node --import tsx bench/dispatch-latency.ts [--modes feed,poll] [--only latency|rate]
 *       [--containers 100] [--poll-interval 10s] [--seed N] [--vms 16] [--gap 1s] [--warmup 10]
 *       [--run-time 1s] [--rate 20] [--rate-duration 40s] [--json FILE] [--log FILE] [--log-level info]
 *
 * Latency set-up (`latency/measure.ts`, `latency/stack.ts`):
 * config.example.yml, pointed at an in-process TestController (and its
 * event feed, with the feed) and a lame cloud with no injected faults;
 * `--vms` small VMs are created through the pool and left to boot until all
 * are idle (TimeoutIdle 1h keeps them). Containers need a whole small VM
 * each (2 VCPUs) and run `sleep --run-time`; they are submitted one at a
 * time, `--gap` apart on average (uniform in [0.5, 1.5] x gap, so arrivals
 * fall at every phase of the poll), which leaves several idle VMs at every
 * submission. Each sample is checked: the VM it started on must have been
 * idle in the pool's view just before the start, and have no other
 * crunch-run when the detach arrived.
 *
 * Timestamps (Date.now(), ms; all in this one process):
 *   submitted   TestController.addContainer returned
 *   pollBegan   seen by a poll: that poll started (entries().updated)
 *   polled      the entry appeared in the queue (its firstSeenAt), by a poll or a refresh the feed caused
 *   lockReq     the controller received POST .../lock (request hook)
 *   lockSeen    the queue entry showed Locked (the lock answer applied)
 *   start       the pool listed it on a worker (pool.startContainer ran)
 *   detach      the lame VM ran `crunch-run --detach ... UUID` (LameCloud.onDetach)
 *
 * Request rates (`latency/rate.ts`): `--rate` containers a second for
 * `--rate-duration`, the dispatcher's requests counted by kind.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/config/index.js';
import { DEFAULT_OPTIONS, measureDispatchLatency, type LatencyOptions, type LatencyResult } from './latency/measure.js';
import { DEFAULT_RATE_OPTIONS, measureRequestRate, type RateResult } from './latency/rate.js';
import { formatComparison, formatRates, formatReport, latencyTargets } from './latency/report.js';

export { DEFAULT_OPTIONS, measureDispatchLatency, type LatencyOptions, type LatencyResult, type Sample } from './latency/measure.js';
export { DEFAULT_RATE_OPTIONS, measureRequestRate, type RateResult } from './latency/rate.js';
export { formatComparison, formatRates, formatReport } from './latency/report.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      modes: { type: 'string' },
      only: { type: 'string' },
      containers: { type: 'string' },
      'poll-interval': { type: 'string' },
      seed: { type: 'string' },
      vms: { type: 'string' },
      gap: { type: 'string' },
      warmup: { type: 'string' },
      'run-time': { type: 'string' },
      rate: { type: 'string' },
      'rate-duration': { type: 'string' },
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
  const modes = (values.modes ?? 'feed,poll').split(',').map((m) => m.trim());
  for (const m of modes) if (m !== 'feed' && m !== 'poll') throw new Error(`--modes: expected feed and/or poll, got ${JSON.stringify(m)}`);
  const only = values.only;
  if (only !== undefined && only !== 'latency' && only !== 'rate') throw new Error(`--only: expected latency or rate, got ${JSON.stringify(only)}`);
  const logBase = values.log ?? join(tmpdir(), `dispatch-latency-${process.pid}`);
  const progress = (line: string): void => void process.stderr.write(`${line}\n`);
  const base: Omit<LatencyOptions, 'feed' | 'logPath'> = {
    ...DEFAULT_OPTIONS,
    containers: int(values.containers, DEFAULT_OPTIONS.containers, 'containers'),
    pollIntervalMs: dur(values['poll-interval'], DEFAULT_OPTIONS.pollIntervalMs),
    seed: int(values.seed, DEFAULT_OPTIONS.seed, 'seed'),
    vms: int(values.vms, DEFAULT_OPTIONS.vms, 'vms'),
    gapMs: dur(values.gap, DEFAULT_OPTIONS.gapMs),
    warmup: int(values.warmup, DEFAULT_OPTIONS.warmup, 'warmup'),
    runTimeMs: dur(values['run-time'], DEFAULT_OPTIONS.runTimeMs),
    logLevel: values['log-level'] ?? DEFAULT_OPTIONS.logLevel,
    progress,
  };
  if (base.vms < 1 || base.containers < 1) throw new Error('--vms and --containers must be at least 1');

  const latency: LatencyResult[] = [];
  const rates: RateResult[] = [];
  if (only !== 'rate') {
    for (const m of modes) {
      const r = await measureDispatchLatency({ ...base, feed: m === 'feed', logPath: `${logBase}-latency-${m}.log` });
      process.stdout.write(`${formatReport(r)}\n`);
      latency.push(r);
    }
  }
  if (only !== 'latency') {
    for (const m of modes) {
      rates.push(
        await measureRequestRate({
          ...DEFAULT_RATE_OPTIONS,
          feed: m === 'feed',
          perSecond: int(values.rate, DEFAULT_RATE_OPTIONS.perSecond, 'rate'),
          durationMs: dur(values['rate-duration'], DEFAULT_RATE_OPTIONS.durationMs),
          pollIntervalMs: base.pollIntervalMs,
          seed: base.seed,
          logLevel: base.logLevel,
          logPath: `${logBase}-rate-${m}.log`,
          progress,
        }),
      );
    }
  }
  process.stdout.write(`${formatComparison(latency)}\n${formatRates(rates)}`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ latency, rates }, null, 2)}\n`);
  const failed =
    latency.some((r) => r.problems.length > 0 || r.idleSamples === 0 || !latencyTargets(r).every((t) => t.met)) || rates.some((r) => r.problems.length > 0);
  return failed ? 1 : 0;
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
