/**
 * SshExecutor's host key check, against a real SshServer on 127.0.0.1 (see
 * test-vm.ts): it verifies a key once, through an executor that works only
 * until the check is over, refuses a key the verifier rejects (warning at
 * most once a minute) and does not refuse one that cannot be verified yet,
 * verifies again when the key changes, and reports when it first logged in.
 * Real clock (ssh2 has its own timers) except where a test steps a manual
 * one; no fixed sleeps.
 */
import assert from 'node:assert/strict';
import { generateHostKey } from '../../drivers/lame/sshd.js';
import { ManualClock } from '../../src/clock/index.js';
import { createLogger, LineCollector, RateLimitedLog } from '../../src/log.js';
import type { Executor } from '../../src/ssh/executor.js';
import { HostKeyCheckPendingError, HostKeyRefusedError, HostKeyUnverifiedError, SshConnectError } from '../../src/ssh/ssh-executor.js';
import { fingerprint } from '../../src/ssh/util.js';
import { SECRET, secretVerifier, useTestVms } from './test-vm.js';

describe('SshExecutor host keys', function () {
  this.timeout(5000);
  const { newVm, newExecutor } = useTestVms();

  it('verifies a host key once, through an executor that works before trust', async () => {
    const vm = await newVm();
    const v = secretVerifier();
    const exr = newExecutor(vm, { verifyHostKey: v.verify });
    await exr.execute('echo 1');
    await exr.execute('echo 2');
    assert.equal(v.calls.length, 1);
    assert.ok(v.calls[0].equals(vm.server.hostPublicKey));
    // The verifier's command ran before any of ours.
    assert.deepEqual(
      vm.seen.map((c) => c.command),
      ['cat-secret', 'echo 1', 'echo 2'],
    );
  });

  it('refuses a host key the verifier rejects, before running the caller’s command', async () => {
    const vm = await newVm();
    const v = secretVerifier('some other secret');
    const exr = newExecutor(vm, { verifyHostKey: v.verify });
    const fp = fingerprint(vm.server.hostPublicKey);
    const attempts = await Promise.allSettled([exr.execute('echo a'), exr.execute('echo b'), exr.execute('echo c')]);
    for (const a of attempts) {
      assert.equal(a.status, 'rejected');
      const err = (a as PromiseRejectedResult).reason as HostKeyRefusedError;
      assert.ok(err instanceof HostKeyRefusedError, String(err));
      assert.equal(err.fingerprint, fp);
      assert.ok(err.message.includes(fp) && err.message.includes(vm.server.address), err.message);
      assert.match(err.message, /instance secret mismatch/);
      assert.match(String((err.cause as Error).message), /instance secret mismatch/);
    }
    assert.equal(v.calls.length, 1, 'concurrent callers wait on one verification');
    assert.deepEqual(vm.callerCommands(), []);
    // A later attempt verifies again (the secret may not have been written yet).
    await assert.rejects(exr.execute('echo d'), HostKeyRefusedError);
    assert.equal(v.calls.length, 2);
    assert.deepEqual(vm.callerCommands(), []);
  });

  it('a host key that cannot be verified yet is not refused: debug only, and checked again on the next connection', async () => {
    const vm = await newVm();
    const logs = new LineCollector();
    let written = false;
    let calls = 0;
    const exr = newExecutor(vm, {
      logger: createLogger({ level: 'debug', stream: logs }),
      verifyHostKey: async (_key, untrusted) => {
        calls++;
        if (!written) throw new HostKeyCheckPendingError('the secret file is not there yet');
        await untrusted.execute('cat-secret');
      },
    });
    for (let i = 0; i < 3; i++) {
      const err = await exr.execute('echo a').catch((e: unknown) => e);
      assert.ok(err instanceof HostKeyUnverifiedError, String(err));
      assert.ok(!(err instanceof HostKeyRefusedError));
      assert.equal(err.fingerprint, fingerprint(vm.server.hostPublicKey));
      assert.match(err.message, /cannot be verified yet: the secret file is not there yet/);
      assert.ok(err.cause instanceof HostKeyCheckPendingError);
    }
    assert.deepEqual(vm.callerCommands(), []);
    written = true;
    assert.equal((await exr.execute('echo b')).stdout.toString(), 'b\n');
    assert.equal(calls, 4);
    await new Promise<void>((resolve) => setImmediate(resolve));
    const records = logs.records();
    assert.deepEqual(
      records.filter((r) => r.level !== 'debug' && r.level !== 'info'),
      [],
    );
    assert.equal(records.filter((r) => r.msg === 'SSH host key not verified yet' && r.level === 'debug').length, 3);
    assert.equal(records.filter((r) => String(r.msg).includes('refused')).length, 0);
  });

  it('warns about refused host keys at most once a minute (per executor, or across those sharing `warnings`), each at debug', async () => {
    const [vm1, vm2] = [await newVm(), await newVm()];
    const logs = new LineCollector();
    const logger = createLogger({ level: 'debug', stream: logs });
    const clock = new ManualClock();
    const refuse = secretVerifier('some other secret').verify;
    const own = newExecutor(vm1, { logger, clock, verifyHostKey: refuse });
    await assert.rejects(own.execute('echo 1'), HostKeyRefusedError);
    await assert.rejects(own.execute('echo 2'), HostKeyRefusedError);

    const warnings = new RateLimitedLog(logger, clock);
    const a = newExecutor(vm1, { logger, clock, warnings, verifyHostKey: refuse });
    const b = newExecutor(vm2, { logger, clock, warnings, verifyHostKey: refuse });
    await assert.rejects(a.execute('echo 3'), HostKeyRefusedError);
    await assert.rejects(b.execute('echo 4'), HostKeyRefusedError);
    await assert.rejects(a.execute('echo 5'), HostKeyRefusedError);
    await clock.advance(60_000);
    await assert.rejects(b.execute('echo 6'), HostKeyRefusedError);
    await new Promise<void>((resolve) => setImmediate(resolve));

    const refused = logs.records().filter((r) => r.msg === 'SSH host key refused');
    assert.equal(refused.filter((r) => r.level === 'debug').length, 6);
    const warned = refused.filter((r) => r.level === 'warning');
    assert.deepEqual(
      warned.map((r) => [r.Address, r.Suppressed]),
      [
        [vm1.server.address, undefined],
        [vm1.server.address, undefined],
        [vm2.server.address, 2],
      ],
    );
    assert.match(JSON.stringify(warned[0].error), /instance secret mismatch/);
  });

  it('reports when it first logged in: before the host key check, whatever that said, and only the first time', async () => {
    const vm = await newVm();
    const clock = new ManualClock();
    let calls = 0;
    const exr = newExecutor(vm, {
      clock,
      verifyHostKey: async () => {
        // Verification takes time; the login was before it.
        await clock.advance(5_000);
        if (++calls === 1) throw new HostKeyCheckPendingError('not yet');
      },
    });
    const wrongKey = newExecutor(vm, { clock, privateKey: generateHostKey().private });
    await assert.rejects(wrongKey.execute('echo x'), SshConnectError);
    assert.equal(wrongKey.firstLoginAt(), undefined, 'a refused login is no login');

    assert.equal(exr.firstLoginAt(), undefined);
    const loggedIn = clock.now();
    await assert.rejects(exr.execute('echo 1'), HostKeyUnverifiedError);
    assert.equal(exr.firstLoginAt(), loggedIn);
    await clock.advance(10_000);
    assert.equal((await exr.execute('echo 2')).stdout.toString(), '2\n');
    vm.server.dropConnections();
    await exr.execute('echo 3');
    assert.equal(exr.firstLoginAt(), loggedIn);
  });

  it('a connection lost during verification is retried, not reported as a refused key', async () => {
    const vm = await newVm();
    let calls = 0;
    const exr = newExecutor(vm, {
      verifyHostKey: async (_key, untrusted) => {
        if (++calls === 1) vm.server.dropConnections();
        const res = await untrusted.execute('cat-secret');
        if (res.stdout.toString() !== SECRET) throw new Error('instance secret mismatch');
      },
    });
    assert.equal((await exr.execute('echo ok')).stdout.toString(), 'ok\n');
    assert.equal(calls, 2);
  });

  it('the untrusted executor stops working once verification is over', async () => {
    const vm = await newVm();
    let kept: Executor | undefined;
    const exr = newExecutor(vm, {
      verifyHostKey: async (_key, untrusted) => {
        kept = untrusted;
      },
    });
    await exr.execute('echo 1');
    await assert.rejects(kept!.execute('echo 2'), /verification .* is over/);
  });

  it('the verifier cannot close or move the connection it checks, and a bad env name in its command is a rejection, not a throw', async () => {
    const vm = await newVm();
    const other = await newVm();
    let refused: unknown;
    const exr = newExecutor(vm, {
      verifyHostKey: async (_key, untrusted) => {
        untrusted.close();
        untrusted.setTarget(other.server.address);
        const pending = untrusted.execute('cat-secret', { env: { 'BAD NAME': 'x' } });
        refused = await pending.catch((e: unknown) => e);
        const res = await untrusted.execute('cat-secret');
        if (res.stdout.toString() !== SECRET) throw new Error('instance secret mismatch');
      },
    });
    assert.equal((await exr.execute('echo 1')).stdout.toString(), '1\n');
    assert.match(String(refused), /invalid environment variable name "BAD NAME"/);
    assert.deepEqual(
      vm.seen.map((c) => c.command),
      ['cat-secret', 'echo 1'],
      'the check ran on the connection it checked, which served the caller',
    );
    assert.equal(vm.server.connectionCount(), 1);
    assert.deepEqual(other.seen, [], 'nothing went to the other address');
  });

  it('verifies again when the host key changes, and refuses when the verifier says no', async () => {
    const vm = await newVm();
    let accept = true;
    const calls: Buffer[] = [];
    const exr = newExecutor(vm, {
      verifyHostKey: async (key) => {
        calls.push(key);
        if (!accept) throw new Error('not this instance');
      },
    });
    await exr.execute('echo 1');
    await vm.server.restart({ hostKey: generateHostKey().private });
    await exr.execute('echo 2');
    assert.equal(calls.length, 2);
    assert.ok(calls[1].equals(vm.server.hostPublicKey));
    assert.ok(!calls[0].equals(calls[1]));

    // Same key again after a drop: no new verification.
    vm.server.dropConnections();
    await exr.execute('echo 3');
    assert.equal(calls.length, 2);

    accept = false;
    await vm.server.restart({ hostKey: generateHostKey().private });
    const err = await exr.execute('echo 4').catch((e: unknown) => e);
    assert.ok(err instanceof HostKeyRefusedError, String(err));
    assert.equal(err.fingerprint, fingerprint(vm.server.hostPublicKey));
    assert.deepEqual(vm.callerCommands(), ['echo 1', 'echo 2', 'echo 3']);
  });
});
