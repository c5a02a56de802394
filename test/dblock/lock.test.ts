/**
 * The dispatch lock against a real PostgreSQL server (a throwaway cluster
 * started by the fixture): the key it takes, how a second locker waits, how
 * a lost session closes the fence, and the lease a new holder waits out.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, Socket } from 'node:net';
import pg from 'pg';
import { isDispatchLockLostError } from '../../src/dblock/fence.js';
import { DISPATCH_LOCK_KEY, DispatchLock, type LockEpoch, type LockTiming } from '../../src/dblock/lock.js';
import type { PgEnvironment } from '../../src/dblock/pg-config.js';
import { LineCollector } from '../../src/log.js';
import { FAST_LOCK_TIMING as FAST, suiteServer, testLock } from '../fixtures/postgres.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('dispatch lock (PostgreSQL advisory lock 10005)', function () {
  this.timeout(30_000);
  const server = suiteServer();
  const cleanups: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function newLock(
    opts: { timing?: Partial<LockTiming>; port?: number; conn?: Record<string, string>; environment?: PgEnvironment } = {},
  ): { lock: DispatchLock; log: LineCollector; abort: AbortController } {
    const log = new LineCollector();
    const conn = opts.conn ?? { ...server.connection, ...(opts.port ? { port: String(opts.port) } : {}) };
    const lock = testLock(conn, { environment: opts.environment, timing: opts.timing, log, secret: server.password });
    const abort = new AbortController();
    cleanups.push(async () => {
      abort.abort();
      await lock.release();
    });
    return { lock, log, abort };
  }

  /** A session holding 10005 as the reference dispatchers do; the caller's cleanup ends it. */
  async function otherHolder(): Promise<pg.Client> {
    const c = await server.client();
    cleanups.push(() => c.end());
    const r = await c.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(10005) AS locked');
    assert.equal(r.rows[0].locked, true);
    return c;
  }

  async function tryFromOutside(): Promise<boolean> {
    const c = await server.client();
    try {
      return (await c.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(10005) AS locked')).rows[0].locked;
    } finally {
      await c.end();
    }
  }

  function assertRefuses(epoch: LockEpoch): void {
    assert.throws(() => epoch.check({ Action: 'lock', ContainerUUID: 'zzzzz-dz642-000000000000000' }), isDispatchLockLostError);
  }

  it('takes the single-key advisory lock 10005 shared with the Go, Slurm and LSF dispatchers', async () => {
    assert.equal(DISPATCH_LOCK_KEY, 10005);
    const { lock, abort } = newLock();
    await lock.acquire(abort.signal);
    const rows = await server.query<{ classid: string; objid: string; objsubid: number; application_name: string }>(
      `SELECT l.classid::text, l.objid::text, l.objsubid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted`,
    );
    // The bigint form: high half in classid (0), low half in objid, objsubid 1 (the two-integer form would say 2).
    assert.deepEqual(rows, [{ classid: '0', objid: '10005', objsubid: 1, application_name: 'arvados-dispatch-cloud' }]);
    assert.equal(await tryFromOutside(), false, "another session's pg_try_advisory_lock(10005), as the reference dispatchers call it, is refused");
  });

  it('with no host or port in the Connection, locks where the PG* variables and then libpq defaults point', async () => {
    const { user, password } = server.connection;
    const env = (vars: Record<string, string>): PgEnvironment => ({ env: vars, osUser: () => 'nobody' });
    const holderAddress = async (): Promise<string | null> => {
      const rows = await server.query<{ client_addr: string | null }>(
        `SELECT host(a.client_addr) AS client_addr FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objid = 10005`,
      );
      assert.equal(rows.length, 1);
      return rows[0].client_addr;
    };
    // PGHOST naming the server's socket directory: a Unix-socket session, which has no client address.
    const viaSocket = newLock({ conn: { user, password }, environment: env({ PGHOST: server.socketDir, PGPORT: String(server.port), PGDATABASE: 'postgres' }) });
    await viaSocket.lock.acquire(viaSocket.abort.signal);
    assert.equal(await holderAddress(), null);
    await viaSocket.lock.release();
    // No PGHOST: localhost, where the server listens on 127.0.0.1.
    const viaLocalhost = newLock({ conn: { user, password, dbname: 'postgres', sslmode: 'disable' }, environment: env({ PGPORT: String(server.port) }) });
    await viaLocalhost.lock.acquire(viaLocalhost.abort.signal);
    assert.equal(await holderAddress(), '127.0.0.1');
    assert.equal(await tryFromOutside(), false);
  });

  it('waits while another process holds it, logging the holder address:port once, and takes it when released', async () => {
    const holder = await otherHolder();
    const holderPort = (holder as unknown as { connection: { stream: Socket } }).connection.stream.localPort;
    const { lock, log, abort } = newLock();
    let taken = false;
    const acquiring = lock.acquire(abort.signal).then((e) => {
      taken = true;
      return e;
    });
    await sleep(FAST.retryMs * 6);
    assert.equal(taken, false);
    assert.equal(lock.current().state, 'waiting');
    assert.equal(lock.current().holder, `127.0.0.1:${holderPort}`);
    const waiting = log.records().filter((r) => r.msg === 'waiting for other process to release lock');
    assert.deepEqual(
      waiting.map((r) => [r.DBClient, r.ID]),
      [[`127.0.0.1:${holderPort}`, 10005]],
      'logged once, with the holder and the key, though it tried several times',
    );
    await holder.query('SELECT pg_advisory_unlock(10005)');
    const epoch = await acquiring;
    epoch.check({ Action: 'lock' });
    assert.equal(lock.current().state, 'held');
  });

  it('releases the lock at once on stop, closing the fence first', async () => {
    const { lock, abort } = newLock();
    const epoch = await lock.acquire(abort.signal);
    await lock.release();
    assertRefuses(epoch);
    assert.equal(await tryFromOutside(), true, 'free as soon as release() returns');
    assert.equal(await epoch.ended, 'released');
  });

  it('a new holder does not act until the lease plus the margin have passed', async () => {
    const { lock, abort } = newLock({ timing: { leaseMs: 800, marginMs: 400 } });
    const t0 = Date.now();
    let epoch: LockEpoch | undefined;
    const states: string[] = [];
    const acquiring = lock.acquire(abort.signal).then((e) => (epoch = e));
    await waitFor('the lock to be taken', () => lock.current().state === 'settling');
    states.push(lock.current().state);
    await acquiring;
    const waited = Date.now() - t0;
    assert.ok(waited >= 1200, `acted after ${waited} ms, before lease + margin (1200 ms)`);
    assert.deepEqual(states, ['settling']);
    epoch!.check({ Action: 'create', InstanceType: 'c1' });
  });

  it('a killed backend (pg_terminate_backend) closes the fence at once and the lock is taken again after the lease', async () => {
    const { lock, log, abort } = newLock();
    const epoch = await lock.acquire(abort.signal);
    const [{ pid }] = await server.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 10005 AND granted`);
    const killedAt = Date.now();
    await server.query('SELECT pg_terminate_backend($1)', [pid]);
    const reason = await epoch.ended;
    const noticed = Date.now() - killedAt;
    assert.ok(noticed <= FAST.checkMs + FAST.checkTimeoutMs, `noticed after ${noticed} ms`);
    assertRefuses(epoch);
    assert.equal(lock.current().state, 'lost');
    assert.equal(lock.current().losses, 1);
    assert.ok(log.records().some((r) => r.msg === 'lost the dispatch lock: every dispatch action stops until it is taken again' && r.level === 'warning'), reason);
    const again = await lock.acquire(abort.signal);
    again.check({ Action: 'lock' });
    assertRefuses(epoch);
  });

  it('a database restart closes the fence, and the lock is taken again once the server is back', async () => {
    const { lock, abort } = newLock();
    const epoch = await lock.acquire(abort.signal);
    const stoppedAt = Date.now();
    await server.stopServer('fast');
    let again: Promise<LockEpoch> | undefined;
    try {
      await epoch.ended;
      assert.ok(Date.now() - stoppedAt <= FAST.checkMs + FAST.checkTimeoutMs + 1000);
      assertRefuses(epoch);
      again = lock.acquire(abort.signal);
      await sleep(FAST.retryMs * 3);
      assert.equal(lock.current().state, 'waiting');
      assert.match(lock.current().detail, /cannot reach the database/);
    } finally {
      await server.startServer();
    }
    (await again).check({ Action: 'lock' });
  });

  it('a connection that stops answering closes the fence when the lease runs out, before any check times out', async () => {
    const proxy = await freezableProxy(server.port);
    cleanups.push(() => proxy.close());
    // A check timeout longer than the lease: only the lease can stop it in time.
    const { lock, abort } = newLock({ port: proxy.port, timing: { checkTimeoutMs: 5000, leaseMs: 600 } });
    const epoch = await lock.acquire(abort.signal);
    epoch.check({ Action: 'lock' });
    const frozenAt = Date.now();
    proxy.freeze();
    await waitFor('the fence to refuse', () => {
      try {
        epoch.check({ Action: 'lock' });
        return false;
      } catch (err) {
        assert.ok(isDispatchLockLostError(err));
        return true;
      }
    });
    const refusedAfter = Date.now() - frozenAt;
    assert.ok(refusedAfter <= 600 + FAST.checkMs + 100, `refused ${refusedAfter} ms after the connection hung`);
    assert.equal(lock.current().state, 'lost');
  });

  it('a check that does not answer in time loses the lock', async () => {
    const proxy = await freezableProxy(server.port);
    cleanups.push(() => proxy.close());
    const { lock, abort } = newLock({ port: proxy.port });
    const epoch = await lock.acquire(abort.signal);
    const frozenAt = Date.now();
    proxy.freeze();
    const reason = await epoch.ended;
    assert.match(reason, /check failed: the lock check got no answer within 300 ms/);
    assert.ok(Date.now() - frozenAt <= FAST.checkMs + FAST.checkTimeoutMs + 200);
  });
});

/** A TCP proxy to the server that can stop forwarding, as a network that drops packets would. */
async function freezableProxy(targetPort: number): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    sockets.add(client).add(upstream);
    for (const s of [client, upstream]) s.on('error', () => undefined);
    upstream.connect(targetPort, '127.0.0.1');
    client.on('data', (d) => {
      if (!frozen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!frozen) client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    freeze: () => {
      frozen = true;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
