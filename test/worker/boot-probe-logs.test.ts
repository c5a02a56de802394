/**
 * How boot probe failures are logged (the reference's worker.go
 * probeBooted): the ones a booting VM normally causes at debug only; the
 * ones that point at configuration (our key refused, a failed handshake, a
 * refused host key) also at warn, rate-limited per kind of error, so a
 * fleet booting with a wrong DispatchPrivateKey says so within a probe
 * interval, about once a minute, not after TimeoutBooting.
 */
import assert from 'node:assert/strict';
import { createLogger, LineCollector } from '../../src/log.js';
import {
  CommandTimeoutError,
  HostKeyCheckPendingError,
  HostKeyRefusedError,
  HostKeyUnverifiedError,
  SshConnectError,
  SshConnectionLostError,
  type SshConnectFailure,
  SshSessionError,
} from '../../src/ssh/errors.js';
import { unexpectedBootFailure } from '../../src/worker/worker-probe.js';
import { FakeCloud } from './fake-cloud.js';

const MIN = 60_000;

/** `n` VMs created by the pool (booting), whose boot probe throws `error(id)`. */
async function fleet(n: number, error: (id: string) => Error): Promise<{ f: FakeCloud; logs: LineCollector; ids: string[] }> {
  const logs = new LineCollector();
  const f = new FakeCloud({ ProbeInterval: 10_000, MaxProbesPerSecond: 1000 }, { logger: createLogger({ stream: logs, level: 'debug' }) });
  for (let i = 0; i < n; i++) assert.ok(f.pool.create(f.cluster.InstanceTypes.small));
  await f.tick(0);
  const ids = [...f.vms.keys()];
  for (const id of ids) f.script(id, { boot: () => Promise.reject(error(id)) });
  return { f, logs, ids };
}

/** Probes every ProbeInterval for `ms`. */
async function probeFor(f: FakeCloud, ms: number): Promise<void> {
  const end = f.clock.now() + ms;
  while (f.clock.now() < end) {
    await f.probe();
    await f.tick(10_000);
  }
}

describe('boot probe failure logging', () => {
  it('50 VMs whose SSH login is refused: a warning at the first probe, then about one a minute, each naming an instance; every failure at debug', async () => {
    const { f, logs, ids } = await fleet(50, (id) => new SshConnectError(`${id}.example:22`, 'authentication', 'authentication as "crunch" failed: the server did not accept our key'));
    await probeFor(f, 3 * MIN);
    f.pool.stop();
    const records = logs.records().filter((r) => r.msg === 'boot probe failed');
    const warns = records.filter((r) => r.level === 'warning');
    const debugs = records.filter((r) => r.level === 'debug');
    assert.ok(warns.length >= 3 && warns.length <= 4, `${warns.length} warnings in 3 minutes`);
    for (const w of warns) {
      assert.ok(ids.includes(String(w.Instance)), `names an instance: ${JSON.stringify(w)}`);
      assert.match(JSON.stringify(w.error), /did not accept our key/);
    }
    assert.equal(warns[0].Suppressed, undefined);
    assert.equal(warns[1].Suppressed, 50 * 6 - 1, 'the rest of the first minute was held back and counted');
    // 18 rounds of 50.
    assert.equal(debugs.length, 50 * 18);
    // Still booting: nothing was shut down before TimeoutBooting.
    assert.ok(ids.every((id) => f.pool.detail(id)?.workerState === 'booting'));
  });

  it('a VM still booting (refused, unreachable, no handshake, a hang-up, a lost connection, a secret not yet written): debug only', async () => {
    const errors: Error[] = [
      new SshConnectError('a', 'no-address', 'none yet'),
      new SshConnectError('a', 'refused', 'connection refused'),
      new SshConnectError('a', 'unreachable', 'EHOSTUNREACH'),
      new SshConnectError('a', 'timeout', 'no SSH handshake within 30000 ms'),
      new SshConnectError('a', 'closed', 'System is booting up. Unprivileged users are not permitted to log in yet.'),
      new SshConnectionLostError('a', 'was lost while the command was running', true),
      new CommandTimeoutError('a', 'cloud-init status --wait', 60_000),
      new HostKeyUnverifiedError('a', 'SHA256:x', new HostKeyCheckPendingError('reading /var/run/arvados-instance-secret failed with exit code 1')),
    ];
    let n = 0;
    const { f, logs } = await fleet(errors.length, () => errors[n++ % errors.length]);
    await probeFor(f, 2 * MIN);
    f.pool.stop();
    const records = logs.records().filter((r) => r.msg === 'boot probe failed');
    assert.deepEqual(
      records.filter((r) => r.level !== 'debug'),
      [],
    );
    assert.ok(records.length >= errors.length * 12);
  });

  it('each kind of configuration error gets its own warning: one kind does not hide another', async () => {
    const errors: Error[] = [
      new SshConnectError('a', 'authentication', 'not our key'),
      new SshConnectError('a', 'handshake', 'no matching host key algorithm'),
      new HostKeyRefusedError('a', 'SHA256:x', new Error('secret does not match')),
      new SshSessionError('a', 'session refused'),
      new HostKeyUnverifiedError('a', 'SHA256:x', new HostKeyCheckPendingError('reading the secret failed: sudo: a password is required', true)),
    ];
    let n = 0;
    const { f, logs } = await fleet(errors.length, () => errors[n++ % errors.length]);
    await f.probe();
    f.pool.stop();
    const warns = logs.records().filter((r) => r.msg === 'boot probe failed' && r.level === 'warning');
    assert.equal(warns.length, 5, JSON.stringify(warns));
  });

  it('classifies every SSH connect failure kind', () => {
    const expected: Record<SshConnectFailure, string | undefined> = {
      'no-address': undefined,
      refused: undefined,
      unreachable: undefined,
      timeout: undefined,
      closed: undefined,
      authentication: 'authentication',
      handshake: 'handshake',
    };
    for (const [kind, want] of Object.entries(expected)) {
      assert.equal(unexpectedBootFailure(new SshConnectError('a', kind as SshConnectFailure, 'x')), want, kind);
    }
    assert.equal(unexpectedBootFailure(new Error('something else')), 'Error');
    assert.equal(unexpectedBootFailure('a string'), 'error');
  });
});
