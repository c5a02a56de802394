/**
 * The dispatch lock's bookkeeping, on a manual clock with scripted database
 * sessions: which sessions it closes and when, who it says holds the lock,
 * and how it counts losses. (The real server's side is in lock.test.ts.)
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { ManualClock } from '../../src/clock/index.js';
import { DispatchLock, type LockEpoch, type LockStatus, type LockTiming } from '../../src/dblock/lock.js';
import { createLogger, LineCollector } from '../../src/log.js';

const TIMING: LockTiming = { retryMs: 1000, checkMs: 1000, checkTimeoutMs: 2000, leaseMs: 4000, marginMs: 1500 };

/** Where another session holding the lock connects from, as pg_stat_activity says; undefined: nobody else holds it. */
type Holder = { addr: string | null; port: number | null; pid: number } | undefined;

/**
 * A pg.Client stand-in. `world.holder` says whether another session holds
 * the lock; checks answer "held" until `lost` is set; `silent` makes every
 * query after it hang.
 */
class ScriptedSession extends EventEmitter {
  ended = false;
  /** end() never answers (a server gone silent); the socket is then cut. */
  hangOnEnd = false;
  destroyed = false;
  readonly connection = { stream: { destroy: () => (this.destroyed = true) } };
  readonly queries: string[] = [];
  constructor(
    readonly n: number,
    private readonly world: { holder: Holder; lost: boolean; silent: boolean },
  ) {
    super();
  }

  async connect(): Promise<void> {}

  end(): Promise<void> {
    this.ended = true;
    return this.hangOnEnd ? new Promise(() => undefined) : Promise.resolve();
  }

  query(sql: string): Promise<{ rows: unknown[] }> {
    this.queries.push(sql.trim().split(/\s+/).slice(0, 2).join(' '));
    if (this.ended) return Promise.reject(new Error('Client was closed and is not queryable'));
    if (this.world.silent) return new Promise(() => undefined);
    if (sql.includes('pg_try_advisory_lock')) return Promise.resolve({ rows: [{ locked: this.world.holder === undefined }] });
    if (sql.includes('pg_stat_activity')) return Promise.resolve({ rows: this.world.holder ? [this.world.holder] : [] });
    if (sql.includes('pg_advisory_unlock')) return Promise.resolve({ rows: [{ pg_advisory_unlock: true }] });
    if (sql.includes('pg_backend_pid()')) return Promise.resolve({ rows: [{ held: this.world.lost ? 0 : 1 }] });
    return Promise.reject(new Error(`unexpected query: ${sql}`));
  }
}

function setup() {
  const clock = new ManualClock();
  const world = { holder: undefined as Holder, lost: false, silent: false };
  const sessions: ScriptedSession[] = [];
  const log = new LineCollector();
  const changes: LockStatus[] = [];
  const lock = new DispatchLock({
    newClient: () => {
      const s = new ScriptedSession(sessions.length + 1, world);
      sessions.push(s);
      return s as unknown as pg.Client;
    },
    clock,
    logger: createLogger({ stream: log, level: 'debug', clock }),
    timing: TIMING,
    onChange: (s) => changes.push(s),
  });
  const abort = new AbortController();
  /** Takes the lock and waits out the lease and margin. */
  const take = async (): Promise<LockEpoch> => {
    const acquiring = lock.acquire(abort.signal);
    await clock.advance(TIMING.leaseMs + TIMING.marginMs);
    return acquiring;
  };
  const msgs = (): string[] => log.records().map((r) => String(r.msg));
  return { clock, world, sessions, log, changes, lock, abort, take, msgs };
}

describe('dispatch lock bookkeeping (manual clock, scripted sessions)', () => {
  it('release() while waiting for another holder closes the waiting session', async () => {
    const t = setup();
    t.world.holder = { addr: '10.1.2.3', port: 40000, pid: 77 };
    const acquiring = t.lock.acquire(t.abort.signal).catch((e: unknown) => e);
    await t.clock.advance(3 * TIMING.retryMs);
    assert.equal(t.lock.current().state, 'waiting');
    assert.equal(t.sessions.length, 1, 'one session kept between attempts');
    t.abort.abort();
    await t.lock.release();
    await acquiring;
    assert.equal(t.sessions[0]!.ended, true);
    assert.equal(t.lock.current().state, 'released');
  });

  it('a lost lock closes its session at once, so a session that may still hold the lock on the server does not keep it from the next try', async () => {
    const t = setup();
    await t.take();
    assert.equal(t.lock.current().state, 'held');
    t.world.lost = true;
    await t.clock.advance(TIMING.checkMs);
    assert.equal(t.lock.current().state, 'lost');
    assert.equal(t.sessions[0]!.ended, true, 'the session that lost it is closed');
    t.world.lost = false;
    await t.take();
    assert.equal(t.sessions.length, 2, 'taken again on a new session');
    assert.equal(t.sessions[1]!.ended, false);
    t.abort.abort();
    await t.lock.release();
  });

  it('release() unlocks on the session that holds the lock, then closes it: no warning', async () => {
    const t = setup();
    await t.take();
    await t.lock.release();
    assert.equal(t.sessions.length, 1);
    assert.equal(t.sessions[0]!.queries.at(-1), 'SELECT pg_advisory_unlock($1::bigint)');
    assert.equal(t.sessions[0]!.ended, true);
    assert.ok(t.msgs().includes('released the dispatch lock'), t.msgs().join('\n'));
    assert.deepEqual(t.log.records().filter((r) => r.level === 'warning').map((r) => r.msg), []);
  });

  it('the session closing loses the lock at once, without waiting for the next check', async () => {
    const t = setup();
    const epoch = await t.take();
    t.sessions[0]!.emit('end');
    assert.equal(t.lock.current().state, 'lost');
    assert.equal(t.lock.current().detail, 'lost: connection closed; taking it again');
    assert.equal(await epoch.ended, 'connection closed');
    t.abort.abort();
    await t.lock.release();
  });

  it("names the holder as address:port, an IPv6 address in brackets, and a Unix-socket session by the server's pid", async () => {
    const holders: Array<[Holder, string]> = [
      [{ addr: '10.1.2.3', port: 40000, pid: 77 }, '10.1.2.3:40000'],
      [{ addr: 'fd00::7', port: 40001, pid: 78 }, '[fd00::7]:40001'],
      [{ addr: null, port: null, pid: 79 }, 'local socket (server pid 79)'],
    ];
    for (const [holder, shown] of holders) {
      const t = setup();
      t.world.holder = holder;
      const acquiring = t.lock.acquire(t.abort.signal).catch(() => undefined);
      await t.clock.advance(1);
      assert.equal(t.lock.current().holder, shown);
      assert.equal(t.lock.current().detail, `another process holds it (${shown})`);
      t.abort.abort();
      await t.lock.release();
      await acquiring;
    }
  });

  it('logs the holder once per holder: again when it changes, and again after this process held the lock in between', async () => {
    const t = setup();
    const waitingLines = (): unknown[] => t.log.records().filter((r) => r.msg === 'waiting for other process to release lock').map((r) => r.DBClient);
    t.world.holder = { addr: '10.1.2.3', port: 40000, pid: 77 };
    const first = t.lock.acquire(t.abort.signal);
    await t.clock.advance(5 * TIMING.retryMs);
    assert.deepEqual(waitingLines(), ['10.1.2.3:40000'], 'once, though it tried six times');
    t.world.holder = { addr: '10.1.2.4', port: 40000, pid: 78 };
    await t.clock.advance(3 * TIMING.retryMs);
    assert.deepEqual(waitingLines(), ['10.1.2.3:40000', '10.1.2.4:40000']);
    t.world.holder = undefined;
    await t.clock.advance(TIMING.retryMs + TIMING.leaseMs + TIMING.marginMs);
    await first;
    // Lost; the same holder as before takes it meanwhile: worth saying again.
    t.world.holder = { addr: '10.1.2.4', port: 40000, pid: 78 };
    t.world.lost = true;
    await t.clock.advance(TIMING.checkMs);
    assert.equal(t.lock.current().state, 'lost');
    const second = t.lock.acquire(t.abort.signal).catch(() => undefined);
    await t.clock.advance(TIMING.retryMs);
    assert.equal(t.lock.current().state, 'waiting');
    assert.deepEqual(waitingLines(), ['10.1.2.3:40000', '10.1.2.4:40000', '10.1.2.4:40000']);
    t.abort.abort();
    await t.lock.release();
    await second;
  });

  it('the holder is only named while another process holds it: not once this one has taken the lock', async () => {
    const t = setup();
    t.world.holder = { addr: '10.1.2.3', port: 40000, pid: 77 };
    const acquiring = t.lock.acquire(t.abort.signal);
    await t.clock.advance(TIMING.retryMs);
    assert.equal(t.lock.current().holder, '10.1.2.3:40000');
    t.world.holder = undefined;
    await t.clock.advance(TIMING.retryMs);
    assert.equal(t.lock.current().state, 'settling');
    assert.equal(t.lock.current().holder, undefined);
    await t.clock.advance(TIMING.leaseMs + TIMING.marginMs);
    await acquiring;
    assert.deepEqual(
      t.changes.map((c) => [c.state, c.holder]),
      [
        ['waiting', '10.1.2.3:40000'],
        ['waiting', '10.1.2.3:40000'],
        ['settling', undefined],
        ['held', undefined],
      ],
    );
    t.abort.abort();
    await t.lock.release();
  });

  it('a session that does not close politely within checkTimeoutMs is cut', async () => {
    const t = setup();
    await t.take();
    t.sessions[0]!.hangOnEnd = true;
    t.world.lost = true;
    await t.clock.advance(TIMING.checkMs);
    assert.equal(t.lock.current().state, 'lost');
    assert.equal(t.sessions[0]!.destroyed, false);
    await t.clock.advance(TIMING.checkTimeoutMs);
    assert.equal(t.sessions[0]!.destroyed, true);
    t.abort.abort();
    await t.lock.release();
  });
});
