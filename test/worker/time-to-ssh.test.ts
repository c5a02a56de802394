/**
 * Where `instances_time_to_ssh_seconds` ends and
 * `instances_time_to_ready_for_container_seconds` begins: as in the
 * reference (verify.go ReportVerified, pool.go reportSSHConnected), at the
 * first SSH login of a booting VM, before its host key (instance secret) is
 * checked and whatever its boot probe then says; with an executor that
 * cannot tell (no `firstLoginAt`), at the first boot probe answer.
 */
import assert from 'node:assert/strict';
import { HostKeyCheckPendingError, HostKeyUnverifiedError, SshConnectError } from '../../src/ssh/errors.js';
import type { PoolEvent } from '../../src/worker/pool.js';
import { fail, FakeCloud, ok } from './fake-cloud.js';

const S = 1_000;

type Timing = Extract<PoolEvent, { type: 'sshConnected' | 'readyForContainer' }>;

function timings(events: PoolEvent[]): Timing[] {
  return events.filter((e): e is Timing => e.type === 'sshConnected' || e.type === 'readyForContainer');
}

describe('time to SSH and time to ready', () => {
  it('ends time to SSH at the first login, even when that probe failed on the instance secret; ready counts from there', async () => {
    const events: PoolEvent[] = [];
    const logins = new Map<string, number>();
    const f = new FakeCloud({}, { onEvent: (e) => events.push(e), logins });
    const id = await f.createBooting();
    const appeared = f.clock.now();

    // sshd is not up yet.
    f.script(id, { boot: 'error' });
    await f.tick(10 * S);
    await f.probe();
    assert.deepEqual(timings(events), []);

    // 15 s after create sshd accepts our key, but cloud-init has not yet
    // written the instance secret: the host key cannot be verified yet.
    f.script(id, {
      boot: async () => {
        logins.set(id, appeared + 15 * S);
        throw new HostKeyUnverifiedError(`${id}:22`, 'SHA256:k', new HostKeyCheckPendingError('reading the secret failed with exit code 1'));
      },
    });
    await f.tick(10 * S);
    await f.probe();
    assert.deepEqual(timings(events), [{ type: 'sshConnected', instanceId: id, sinceAppearedMs: 15 * S }]);

    // Verified, booted and listed at 40 s.
    f.script(id, { boot: ok(), list: ok() });
    await f.tick(20 * S);
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'idle');
    assert.deepEqual(timings(events), [
      { type: 'sshConnected', instanceId: id, sinceAppearedMs: 15 * S },
      { type: 'readyForContainer', instanceId: id, sinceSshMs: 25 * S },
    ]);
    f.pool.stop();
  });

  it('without firstLoginAt, ends it at the first boot probe answer (a failing one counts), never at an error', async () => {
    const events: PoolEvent[] = [];
    const f = new FakeCloud({}, { onEvent: (e) => events.push(e) });
    const id = await f.createBooting();
    f.script(id, { boot: () => Promise.reject(new SshConnectError(id, 'refused', 'connection refused')) });
    await f.tick(10 * S);
    await f.probe();
    assert.deepEqual(timings(events), []);
    f.script(id, { boot: fail('degraded') });
    await f.tick(10 * S);
    await f.probe();
    f.script(id, { boot: ok(), list: ok() });
    await f.tick(10 * S);
    await f.probe();
    assert.deepEqual(timings(events), [
      { type: 'sshConnected', instanceId: id, sinceAppearedMs: 20 * S },
      { type: 'readyForContainer', instanceId: id, sinceSshMs: 10 * S },
    ]);
    f.pool.stop();
  });

  it('does not time an adopted VM, whose boot began before us', async () => {
    const events: PoolEvent[] = [];
    const logins = new Map<string, number>();
    const f = new FakeCloud({}, { onEvent: (e) => events.push(e), logins });
    const id = f.seed();
    await f.pool.syncNow();
    logins.set(id, f.clock.now());
    f.script(id, { boot: ok(), list: ok() });
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'idle');
    assert.deepEqual(timings(events), []);
    f.pool.stop();
  });
});
