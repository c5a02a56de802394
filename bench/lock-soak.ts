/**
 * Does the dispatch lock keep anything of each check? Two lockers on a
 * throwaway PostgreSQL server (the tests' fixture): one holds the lock and
 * checks it, the other waits for it, retrying; both every `--every` ms
 * instead of seconds, so an hour of the defaults' checks takes a few
 * seconds. Prints the heap after gc at each step, then lets the holder go
 * (the waiter takes over) and stops both, and checks that the lockers are
 * collected. Exit 1 if a locker outlives its stop.
 *
 *     node --import tsx bench/lock-soak.ts [--seconds 60] [--every 2]
 *
 * It needs PostgreSQL's server binaries (`npm test` installs them as root:
 * scripts/ensure-postgresql.mjs).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { systemClock } from '../src/clock/index.js';
import { DispatchLock } from '../src/dblock/lock.js';
import { pgClientConfig } from '../src/dblock/pg-config.js';
import { createLogger } from '../src/log.js';
import { TestPostgres } from '../test/fixtures/postgres.js';
import { collected, gc } from '../test/gc.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, every: { type: 'string', default: '2' } } });
const seconds = Number(values.seconds);
const every = Number(values.every);
if (!(seconds > 0) || !(every >= 1)) throw new Error('--seconds must be positive and --every at least 1 (ms)');

const MiB = 2 ** 20;
const heap = async (): Promise<number> => {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return process.memoryUsage().heapUsed / MiB;
};

const server = new TestPostgres();
await server.start();
const { config } = pgClientConfig({ ...server.connection });
const quiet = createLogger({ level: 'error', stream: process.stderr, secrets: [server.password] });

// The defaults' ratios (check and retry every 10 s, lease 60 s), every `every` ms.
const timing = { retryMs: every, checkMs: every, checkTimeoutMs: 30 * every + 1000, leaseMs: 60 * every + 2000, marginMs: 20 * every + 500 };
/** Queries each locker sent: the holder's checks, the waiter's tries (and its look at who holds the lock). */
const queries = { holder: 0, waiter: 0 };
function locker(name: 'holder' | 'waiter'): { lock: DispatchLock; abort: AbortController } {
  const lock = new DispatchLock({
    newClient: () => {
      const client = new pg.Client(config);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        queries[name]++;
        return query(...args);
      };
      return client;
    },
    clock: systemClock,
    logger: quiet,
    timing,
  });
  return { lock, abort: new AbortController() };
}

try {
  let holder: ReturnType<typeof locker> | undefined = locker('holder');
  await holder.lock.acquire(holder.abort.signal);
  let waiter: ReturnType<typeof locker> | undefined = locker('waiter');
  let taken: Promise<unknown> | undefined = waiter.lock.acquire(waiter.abort.signal);
  const start = Date.now();
  const first = await heap();
  console.log(`checks and retries every ${every} ms, for ${seconds} s`);
  console.log(`t=0 s: heap ${first.toFixed(2)} MiB`);
  const steps = 6;
  for (let i = 1; i <= steps; i++) {
    await new Promise((r) => setTimeout(r, (seconds * 1000) / steps));
    const h = await heap();
    console.log(`t=${Math.round((Date.now() - start) / 1000)} s: heap ${h.toFixed(2)} MiB (${(h - first >= 0 ? '+' : '') + (h - first).toFixed(2)}); queries: holder ${queries.holder}, waiter ${queries.waiter} (the holder's checks are ${((queries.holder * 10) / 3600).toFixed(1)} h of the defaults')`);
  }
  await holder.lock.release();
  await taken;
  console.log(`the holder let go; the waiter took over after ${Math.round((Date.now() - start) / 1000)} s in all`);
  await waiter.lock.release();
  const refs = [new WeakRef(holder.lock), new WeakRef(waiter.lock)];
  // The tenure `acquire` gave refers to its lock: drop it too.
  holder = undefined;
  waiter = undefined;
  taken = undefined;
  // Whatever was in flight at release (a check on the closing session) settles within a check's timeout.
  await new Promise((r) => setTimeout(r, timing.checkTimeoutMs));
  const kept = [];
  for (const [i, ref] of refs.entries()) if (!(await collected(ref))) kept.push(i === 0 ? 'the holder' : 'the waiter');
  const gone = kept.length === 0;
  console.log(gone ? 'both lockers collected after release' : `still reachable after release: ${kept.join(' and ')}`);
  process.exitCode = gone ? 0 : 1;
} finally {
  await server.destroy();
}
