/**
 * SshExecutor's limits on what a VM can make it do: how long it waits for a
 * connection whose host key check never answers, and how much output it
 * keeps. Against a real SshServer
 * on 127.0.0.1 (see test-vm.ts); the executor's timeouts run on a manual
 * clock, so they are exact.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { ManualClock } from '../../src/clock/index.js';
import { OUTPUT_LIMITS } from '../../src/ssh/collect.js';
import { CommandOutputTooLargeError, CommandTimeoutError, HostKeyRefusedError, SshConnectionLostError } from '../../src/ssh/ssh-executor.js';
import { SECRET, useTestVms } from './test-vm.js';

/** Lets the loopback traffic and the promise callbacks run. */
function realTurn(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('SshExecutor limits', function () {
  this.timeout(10_000);
  const { newVm, newExecutor } = useTestVms();

  it('bounds the wait for the host key check by the caller’s timeout, closes that connection, and the next call starts afresh', async () => {
    const vm = await newVm();
    const clock = new ManualClock();
    let hang = true;
    let checks = 0;
    const exr = newExecutor(vm, {
      clock,
      // No commandTimeoutMs: the verifier's own command has no limit, as on
      // the VM executors before they got the pool's command timeout.
      verifyHostKey: async (_key, untrusted) => {
        checks++;
        const res = await untrusted.execute(hang ? 'block' : 'cat-secret');
        if (res.stdout.toString() !== SECRET) throw new Error('instance secret mismatch');
      },
    });
    const blocked = once(vm.events, 'block');
    let settled = false;
    const first = exr.execute('echo x', { timeoutMs: 200 }).finally(() => (settled = true));
    first.catch(() => undefined);
    // Another caller, with no limit of its own, waits on the same check.
    const other = exr.execute('echo other').catch((e: unknown) => e);
    await blocked;
    await clock.advance(199);
    await realTurn();
    assert.equal(settled, false, 'still waiting at 199 ms');
    await clock.advance(1);
    const err = await Promise.race([first.catch((e: unknown) => e), realTurn(2_000).then(() => 'still pending 2 s after the timeout')]);
    assert.ok(err instanceof CommandTimeoutError, String(err));
    assert.equal(err.phase, 'connecting');
    assert.equal(err.timeoutMs, 200);
    assert.match(err.message, /timed out after 200 ms waiting for the SSH connection and its host key check \(it never ran\): echo x$/);
    const otherErr = await other;
    assert.ok(otherErr instanceof SshConnectionLostError, String(otherErr));
    assert.equal(otherErr.started, false);
    // The connection the check hung on is closed.
    for (let i = 0; i < 200 && vm.server.connectionCount() > 0; i++) await realTurn();
    assert.equal(vm.server.connectionCount(), 0);

    // The VM answers now: the next call connects and checks again, and runs.
    hang = false;
    vm.releaseAll();
    assert.equal((await exr.execute('echo y', { timeoutMs: 200 })).stdout.toString(), 'y\n');
    assert.equal(checks, 2);
    assert.deepEqual(
      vm.seen.map((c) => c.command),
      ['block', 'cat-secret', 'echo y'],
    );
    assert.equal(clock.pendingTimers(), 0, 'no timer left behind');
  });

  it('fails a command whose output passes the limit (16 MiB stdout, 1 MiB stderr), and the connection runs the next command', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm);
    assert.deepEqual(OUTPUT_LIMITS, { stdout: 16 * 1024 * 1024, stderr: 1024 * 1024 });
    const big = await exr.execute(`bytes-out ${64 * 1024 * 1024}`).catch((e: unknown) => e);
    assert.ok(big instanceof CommandOutputTooLargeError, String(big));
    assert.equal(big.stream, 'stdout');
    assert.equal(big.limitBytes, OUTPUT_LIMITS.stdout);
    assert.match(big.message, /^command on 127\.0\.0\.1:\d+ wrote more than 16 MiB to stdout, the most kept; its output was dropped: bytes-out 67108864$/);
    assert.equal((await exr.execute('echo after')).stdout.toString(), 'after\n');

    const noisy = await exr.execute(`bytes-err ${2 * 1024 * 1024}`).catch((e: unknown) => e);
    assert.ok(noisy instanceof CommandOutputTooLargeError, String(noisy));
    assert.equal(noisy.stream, 'stderr');
    assert.match(noisy.message, /wrote more than 1 MiB to stderr/);
    // Up to the limit is kept whole.
    assert.equal((await exr.execute(`bytes-err ${OUTPUT_LIMITS.stderr}`)).stderr.length, OUTPUT_LIMITS.stderr);
    assert.equal((await exr.execute('echo still')).stdout.toString(), 'still\n');
    assert.equal(vm.server.connectionCount(), 1, 'one connection throughout');
  });
  it('gives the host key check’s commands the executor’s default timeout, so a check that never answers ends even for a caller without a deadline', async () => {
    const vm = await newVm();
    const clock = new ManualClock();
    const exr = newExecutor(vm, {
      clock,
      commandTimeoutMs: 100,
      verifyHostKey: async (_key, untrusted) => {
        await untrusted.execute('block'); // no timeout of its own
      },
    });
    const blocked = once(vm.events, 'block');
    const call = exr.execute('echo x', { timeoutMs: 0 }).catch((e: unknown) => e);
    await blocked;
    await clock.advance(100);
    const err = await Promise.race([call, realTurn(2_000).then(() => 'still pending 2 s after the check’s timeout')]);
    assert.ok(err instanceof HostKeyRefusedError, String(err));
    assert.ok(err.cause instanceof CommandTimeoutError, String(err.cause));
    assert.equal(err.cause.timeoutMs, 100);
    assert.deepEqual(vm.callerCommands(), ['block'], 'the caller’s command never ran');
  });
});
