/**
 * The real daemon under the dispatch lock (a throwaway PostgreSQL server):
 * a standby, while another session holds the lock, is up (serving the
 * management API) and may wait for hours, so it tells systemd it is ready at
 * once: under Type=notify a daemon that never says READY=1 is killed at the
 * start timeout and restarted, again and again, for as long as the other
 * holds on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { waitFor } from './cloud/conformance.js';
import { lameDaemonFixture, type LameDaemonFixture } from './fixtures/daemon-config.js';
import { spawnDaemon } from './fixtures/daemon-process.js';
import { TestPostgres } from './fixtures/postgres.js';
import { FakeNotifySocket, have } from './systemd/fake-notify-socket.js';

describe('daemon under the dispatch lock', function () {
  this.timeout(60_000);
  const server = new TestPostgres();
  let holder: pg.Client | undefined;

  before(async () => {
    await server.start();
    holder = await server.client();
    assert.equal((await holder.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(10005) AS locked')).rows[0]!.locked, true);
  });
  after(async () => {
    await holder?.end();
    await server.destroy();
  });

  /** A controller, and a lame-cloud config that locks on the test server. */
  function lockedDaemonSetup(cloudVMsExtra = ''): Promise<LameDaemonFixture> {
    const conn = Object.entries(server.connection).map(([k, v]) => `        ${k}: "${v}"`).join('\n');
    return lameDaemonFixture('daemon-standby', { sections: `    PostgreSQL:\n      Connection:\n${conn}\n`, cloudVMs: cloudVMsExtra });
  }

  it('on standby: tells systemd READY=1, and in its status that it waits for the dispatch lock, for as long as it waits; SIGTERM ends it with 0', async function () {
    if (!have('systemd-notify') || !have('python3')) this.skip();
    const { config, cleanup } = await lockedDaemonSetup();
    const sock = new FakeNotifySocket();
    await sock.start();
    const daemon = spawnDaemon(config, { LOG_LEVEL: 'info', NOTIFY_SOCKET: sock.path });
    try {
      await daemon.waitForOutput(/"msg":"waiting for other process to release lock"/);
      await waitFor('READY=1', () => sock.lines().includes('READY=1'), 10_000);
      // The status follows the lock (updated at most every 5 s), and never says it is starting while it waits.
      const statuses = () => sock.lines().filter((l) => l.startsWith('STATUS='));
      await waitFor('the holder in the status', () => /^STATUS=not dispatching: waiting for the dispatch lock: another process holds it/.test(statuses().at(-1) ?? ''), 10_000);
      assert.ok(!statuses().some((l) => l.startsWith('STATUS=starting')), sock.lines().join('\n'));
      assert.doesNotMatch(daemon.output(), /"msg":"holding the dispatch lock/);
      assert.equal((await daemon.signalAndWait('SIGTERM', 10_000)).status, 0, daemon.output());
    } finally {
      await daemon.kill();
      sock.stop();
      await cleanup();
    }
  });

  it('a daemon that cannot serve its management API exits 1 and lets go of the dispatch lock, rather than dispatching unseen', async () => {
    await holder!.query('SELECT pg_advisory_unlock_all()');
    const { dir, config, cleanup } = await lockedDaemonSetup();
    // An https InternalURL whose certificate is not there: the management server cannot start.
    writeFileSync(
      config,
      readFileSync(config, 'utf8')
        .replace('"http://127.0.0.1:0": {}', '"https://127.0.0.1:0": {}')
        .replace('    PostgreSQL:\n', `    TLS:\n      Certificate: ${join(dir, 'missing.pem')}\n      Key: ${join(dir, 'missing.key')}\n    PostgreSQL:\n`),
    );
    const daemon = spawnDaemon(config, { LOG_LEVEL: 'info' });
    try {
      const status = await Promise.race([daemon.exited, new Promise((r) => setTimeout(() => r('still running after 15 s'), 15_000))]);
      assert.equal(status, 1, daemon.output());
      assert.match(daemon.output(), /"msg":"cannot start arvados-dispatch-cloud service on https:/);
      assert.doesNotMatch(daemon.output(), /"msg":"holding the dispatch lock/);
      const free = await server.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(10005) AS locked');
      assert.equal(free[0]!.locked, true, 'the lock is free');
    } finally {
      await daemon.kill();
      await cleanup();
    }
  });

  it('a dispatcher that cannot be built again after the lock was lost ends the daemon with status 1, saying why', async () => {
    await holder!.query('SELECT pg_advisory_unlock(10005)');
    const dir = mkdtempSync(join(tmpdir(), 'daemon-runner-'));
    const runner = join(dir, 'crunch-run');
    writeFileSync(runner, '#!/bin/sh\n');
    const { config, cleanup } = await lockedDaemonSetup(`        DeployRunnerBinary: ${runner}\n`);
    const daemon = spawnDaemon(config, { LOG_LEVEL: 'info' });
    try {
      await daemon.waitForOutput(/"msg":"holding the dispatch lock: dispatching"/, 20_000);
      // The runner binary goes away (a botched upgrade), then the lock is lost: the next tenure's dispatcher cannot be built.
      rmSync(runner);
      await server.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 10005 AND granted`);
      assert.equal(await daemon.exited, 1, daemon.output());
      assert.match(daemon.output(), /"msg":"dispatching under the dispatch lock failed".*DeployRunnerBinary: cannot read/);
    } finally {
      await daemon.kill();
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
