/**
 * What the start breaker (settings `StartBreaker`) saves when every start
 * fails: a whole dispatcher on the lame cloud under a manual clock (the
 * tests' `ManualStack`), a `CrunchRunArgumentsList` crunch-run refuses, a
 * queue of containers, and the same run with the breaker off (the
 * reference's behaviour) and on. Prints, for each, the containers the
 * controller cancelled and when the last one was, the locks spent, each
 * container's lock_count at the end, and the trials.
 *
 *     node --import tsx bench/start-breaker.ts [--containers 12] [--minutes 40]
 */
import { parseArgs } from 'node:util';
import { defaultSettings } from '../src/config/settings.js';
import { ManualStack } from '../test/fixtures/manual-stack.js';

const { values } = parseArgs({ options: { containers: { type: 'string', default: '12' }, minutes: { type: 'string', default: '40' } } });
const containers = Number(values.containers);
const minutes = Number(values.minutes);
if (!(Number.isInteger(containers) && containers > 0) || !(minutes > 0)) throw new Error('--containers must be a positive integer and --minutes positive');

interface Row {
  breaker: string;
  cancelled: number;
  lastCancelAt: string;
  locks: number;
  lockCounts: string;
  trials: number;
}

/** Every value when there are few, else the least, the median and the most. */
function spread(values: number[]): string {
  if (values.length <= 20) return values.join(' ');
  const sorted = [...values].sort((a, b) => a - b);
  return `min ${sorted[0]}, median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted[sorted.length - 1]}`;
}

async function run(on: boolean): Promise<Row> {
  const s = new ManualStack({ containers: '      CrunchRunArgumentsList: ["--cgroup-parent-subsytem=memory"]', cloudVMs: '        TimeoutIdle: 1m', logLevel: 'info' });
  const settings = defaultSettings();
  settings.StartBreaker.Enable = on;
  try {
    await s.start({ settings });
    const cs = Array.from({ length: containers }, () => s.controller.addContainer({ priority: 1, command: ['sleep', '60'] }));
    const t0 = s.clock.now();
    let lastCancel: number | undefined;
    let cancelled = 0;
    await s.until(
      `${minutes} minutes`,
      () => {
        const n = cs.filter((c) => s.controller.get(c.uuid)?.state === 'Cancelled').length;
        if (n > cancelled) lastCancel = s.clock.now();
        cancelled = n;
        return s.clock.now() >= t0 + minutes * 60_000;
      },
      (minutes + 1) * 60_000,
    );
    const records = cs.map((c) => s.controller.get(c.uuid)!);
    return {
      breaker: on ? 'on' : 'off',
      cancelled,
      lastCancelAt: lastCancel === undefined ? '-' : `${Math.round((lastCancel - t0) / 1000)} s`,
      locks: records.reduce((n, c) => n + c.lock_count, 0),
      lockCounts: spread(records.map((c) => c.lock_count)),
      trials: s.records('trying one container while new locks are held').length,
    };
  } finally {
    await s.close();
  }
}

const rows = [await run(false), await run(true)];
console.log(`${containers} containers, every start refused, ${minutes} simulated minutes`);
console.log('| breaker | cancelled | last cancelled at | locks | trials | lock_count |');
console.log('|---|---:|---:|---:|---:|---|');
for (const r of rows) console.log(`| ${r.breaker} | ${r.cancelled} | ${r.lastCancelAt} | ${r.locks} | ${r.trials} | ${r.lockCounts} |`);
