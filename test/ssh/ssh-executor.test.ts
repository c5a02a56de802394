/**
 * SshExecutor against a real SshServer on 127.0.0.1: running commands
 * (output, exit code, stdin, env, one shared connection, maxSessions), and
 * the connection's life (reconnecting after a drop, close, setTarget,
 * timeouts, and the SshConnectError kinds). Its host key check is
 * ssh-executor-host-keys.test.ts; its limits ssh-executor-limits.test.ts.
 * Real clock (ssh2 has its own timers); no fixed sleeps: tests wait on
 * events (a command reaching the handler, a connection closing).
 */
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import ssh2 from 'ssh2';
import { generateHostKey } from '../../drivers/lame/sshd.js';
import { ManualClock } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { CommandTimeoutError, SshConnectError, SshConnectionLostError, SshExecutor } from '../../src/ssh/ssh-executor.js';
import { clientKey, secretVerifier, useTestVms } from './test-vm.js';

describe('SshExecutor', function () {
  this.timeout(5000);
  const { newVm, newExecutor, closeAfter } = useTestVms();
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it('returns stdout, stderr and the exit code, and feeds stdin', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm);
    const echo = await exr.execute('echo hello');
    assert.equal(echo.stdout.toString(), 'hello\n');
    assert.equal(echo.stderr.length, 0);
    assert.equal(echo.exitCode, 0);

    const err = await exr.execute('stderr oops');
    assert.equal(err.stdout.toString(), 'out');
    assert.equal(err.stderr.toString(), 'oops\n');

    assert.equal((await exr.execute('exit 3')).exitCode, 3);

    const big = Buffer.alloc(1 << 20, 'x');
    const cat = await exr.execute('cat', { stdin: big });
    assert.ok(cat.stdout.equals(big));
    // Empty stdin is still closed: a command reading it sees EOF.
    assert.equal((await exr.execute('cat')).stdout.length, 0);
    assert.equal((await exr.execute('cat', { stdin: 'text' })).stdout.toString(), 'text');
  });

  it('sends env as quoted VAR=value prefixes that a shell reads back intact', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm);
    const tricky = `it's a 'quoted'  value; $HOME "x" \\`;
    // printenv, not "$FOO": prefix assignments reach the command's
    // environment, not the expansion of its own arguments.
    const res = await exr.execute('printenv FOO EMPTY', { env: { FOO: tricky, EMPTY: '' } });
    assert.equal(res.stderr.toString(), '');
    assert.equal(res.stdout.toString(), `${tricky}\n\n`);
    const line = vm.seen.at(-1)?.command ?? '';
    assert.ok(line.startsWith(`EMPTY='' FOO='it'\\''s a '\\''quoted'\\''  value; $HOME "x" \\' printenv FOO EMPTY`), line);
    assert.deepEqual(vm.seen.at(-1)?.env, {}, 'no SSH env requests');
    await assert.rejects(exr.execute('true', { env: { 'BAD NAME': 'x' } }), /invalid environment variable name/);
  });

  it('shares one connection among concurrent commands, connecting and verifying once', async () => {
    const vm = await newVm();
    const v = secretVerifier();
    const exr = newExecutor(vm, { verifyHostKey: v.verify });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => exr.execute(`echo ${i}`)));
    assert.deepEqual(
      results.map((r) => r.stdout.toString()),
      Array.from({ length: 20 }, (_, i) => `${i}\n`),
    );
    assert.equal(vm.callerCommands().length, 20);
    assert.equal(vm.server.connectionCount(), 1);
    assert.equal(v.calls.length, 1);
  });

  it('runs at most maxSessions commands at once', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm, { maxSessions: 3 });
    let blockedCount = 0;
    let threeBlocked!: () => void;
    const three = new Promise<void>((resolve) => (threeBlocked = resolve));
    vm.events.on('block', () => {
      if (++blockedCount === 3) threeBlocked();
    });
    const all = Promise.all(Array.from({ length: 6 }, () => exr.execute('block')));
    await three;
    // Release one at a time: each release lets exactly one more start.
    for (let next = 4; next <= 6; next++) {
      const arrived = once(vm.events, 'block');
      vm.releaseOne();
      await arrived;
      assert.equal(vm.running, 3);
    }
    vm.releaseAll();
    await all;
    assert.equal(vm.maxRunning, 3);
    assert.equal(vm.callerCommands().length, 6);
  });

  it('a command that timed out waiting for a session is never sent, and its turn passes to the next command', async () => {
    const vm = await newVm();
    const clock = new ManualClock();
    const exr = newExecutor(vm, { maxSessions: 1, clock });
    const blocked = once(vm.events, 'block');
    const first = exr.execute('block');
    await blocked;
    const waiting = exr.execute('echo late', { timeoutMs: 100 }).catch((e: unknown) => e);
    await clock.advance(100);
    const err = await waiting;
    assert.ok(err instanceof CommandTimeoutError, String(err));
    vm.releaseOne();
    await first;
    assert.equal((await exr.execute('echo next', { timeoutMs: 1000 })).stdout.toString(), 'next\n', 'the session slot was not lost');
    assert.deepEqual(vm.callerCommands(), ['block', 'echo next']);
  });

  it('when the connection drops, a command waiting for a session goes out on a new one; the one running is not sent again', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm, { maxSessions: 1 });
    const blocked = once(vm.events, 'block');
    const running = exr.execute('block').catch((e: unknown) => e);
    await blocked;
    const waiting = exr.execute('echo waited');
    vm.server.dropConnections();
    const err = await running;
    assert.ok(err instanceof SshConnectionLostError, String(err));
    assert.equal(err.started, true);
    assert.equal((await waiting).stdout.toString(), 'waited\n');
    assert.deepEqual(vm.callerCommands(), ['block', 'echo waited']);
  });

  it('reconnects after the server drops the connection', async () => {
    const vm = await newVm();
    const v = secretVerifier();
    const exr = newExecutor(vm, { verifyHostKey: v.verify });
    await exr.execute('echo 0');
    // Execute right after the drop, before the client can have noticed:
    // the command must not be lost to the race.
    for (let i = 1; i <= 5; i++) {
      vm.server.dropConnections();
      assert.equal((await exr.execute(`echo ${i}`)).stdout.toString(), `${i}\n`);
    }
    assert.equal(vm.server.connectionCount(), 1);
    assert.equal(v.calls.length, 1);
  });

  it('rejects a command in flight when the connection drops', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm);
    await exr.execute('echo warm');
    const blocked = once(vm.events, 'block');
    const pending = exr.execute('block');
    await blocked;
    vm.server.dropConnections();
    const err = await pending.catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectionLostError, String(err));
    assert.equal(err.started, true);
    assert.match(err.message, /lost while the command was running/);
    // And the next one reconnects.
    assert.equal((await exr.execute('echo again')).stdout.toString(), 'again\n');
  });

  it('close() rejects commands in flight; later commands reconnect', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm);
    const blocked = once(vm.events, 'block');
    const pending = exr.execute('block');
    await blocked;
    exr.close();
    await assert.rejects(pending, SshConnectionLostError);
    assert.equal((await exr.execute('echo back')).stdout.toString(), 'back\n');
  });

  it('setTarget moves to the new address and drops the old connection', async () => {
    const a = await newVm();
    const b = await newVm();
    const exr = newExecutor(a, { verifyHostKey: async () => undefined });
    await exr.execute('echo on-a');
    exr.setTarget(a.server.address); // unchanged: keeps the connection
    assert.equal(a.server.connectionCount(), 1);
    exr.setTarget(b.server.address);
    await exr.execute('echo on-b');
    assert.deepEqual(a.callerCommands(), ['echo on-a']);
    assert.deepEqual(b.callerCommands(), ['echo on-b']);
  });

  it('times out a command and keeps the connection usable', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm, { commandTimeoutMs: 100 });
    const blocked = once(vm.events, 'block');
    const err = await exr.execute('block').catch((e: unknown) => e);
    await blocked;
    assert.ok(err instanceof CommandTimeoutError, String(err));
    assert.equal(err.timeoutMs, 100);
    assert.match(err.message, /timed out after 100 ms: block/);
    await assert.rejects(exr.execute('sleep-ms 1000', { timeoutMs: 50 }), CommandTimeoutError);
    assert.equal((await exr.execute('echo fine', { timeoutMs: 1000 })).stdout.toString(), 'fine\n');
    assert.equal(vm.server.connectionCount(), 1);
  });

  it('fails with SshConnectError (authentication) when our key is not accepted', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm, { privateKey: generateHostKey().private });
    const err = await exr.execute('echo x').catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectError, String(err));
    assert.equal(err.kind, 'authentication');
    assert.match(err.message, /authentication as "crunch" failed/);
    assert.ok(err.message.includes(vm.server.address));
  });

  it('fails fast with SshConnectError (refused) when nothing listens', async () => {
    const vm = await newVm();
    await vm.server.close();
    const exr = newExecutor(vm);
    const started = performance.now();
    const err = await exr.execute('echo x').catch((e: unknown) => e);
    assert.ok(performance.now() - started < 1000);
    assert.ok(err instanceof SshConnectError, String(err));
    assert.equal(err.kind, 'refused');
    assert.match(err.message, /connection refused/);
    // The VM comes up: the same executor connects.
    await vm.server.start();
    assert.equal((await exr.execute('echo up')).stdout.toString(), 'up\n');
  });

  it('fails with SshConnectError (timeout) when the server never speaks SSH', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const exr = new SshExecutor({
        target: `127.0.0.1:${port}`,
        username: 'crunch',
        privateKey: clientKey.private,
        verifyHostKey: async () => undefined,
        connectTimeoutMs: 150,
      });
      closeAfter(exr);
      const err = await exr.execute('echo x').catch((e: unknown) => e);
      assert.ok(err instanceof SshConnectError, String(err));
      assert.equal(err.kind, 'timeout');
      assert.match(err.message, /no SSH handshake within 150 ms/);
    } finally {
      silent.close();
    }
  });

  /** A TCP server on 127.0.0.1 whose connections `onSocket` handles; closed after the test. */
  async function tcpServer(onSocket: (socket: net.Socket) => void): Promise<string> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      onSocket(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  function executorFor(target: string): SshExecutor {
    const exr = new SshExecutor({ target, username: 'crunch', privateKey: clientKey.private, verifyHostKey: async () => undefined, connectTimeoutMs: 2000 });
    closeAfter(exr);
    return exr;
  }

  it('fails with SshConnectError (handshake) when the server offers no algorithm we accept', async () => {
    // A server that only speaks key exchange ssh2's client does not offer by default (an outdated sshd).
    const proto = new ssh2.Server({ hostKeys: [generateHostKey().private], algorithms: { kex: ['diffie-hellman-group1-sha1'] } }, (conn) => {
      conn.on('error', () => undefined);
    });
    proto.on('error', () => undefined);
    const target = await tcpServer((socket) => proto.injectSocket(socket));
    const err = await executorFor(target).execute('echo x').catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectError, String(err));
    assert.equal(err.kind, 'handshake');
    assert.match(err.message, /^SSH connection to 127\.0\.0\.1:\d+ failed: SSH handshake failed: .*key exchange/);
  });

  it('fails with SshConnectError (closed) when the server hangs up after its version line, as an sshd restarted during boot does', async () => {
    const target = await tcpServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'));
    const err = await executorFor(target).execute('echo x').catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectError, String(err));
    assert.equal(err.kind, 'closed');
    assert.match(err.message, /the server closed the connection before the SSH session was ready$/);
  });

  it('fails with SshConnectError (closed) naming the socket error when the connection is reset before the handshake', async () => {
    const target = await tcpServer((socket) => socket.resetAndDestroy());
    const err = await executorFor(target).execute('echo x').catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectError, String(err));
    assert.equal(err.kind, 'closed');
    assert.match(err.message, /socket error: .*ECONNRESET/);
  });

  it('fails with SshConnectError (unreachable) when the host name does not resolve', async function () {
    // Only where the resolver answers at once: a host without DNS servers would wait out the connect timeout instead.
    const answered = await Promise.race([
      lookup('no-such-host.invalid').then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'),
      new Promise<boolean>((resolve) => setTimeout(resolve, 1000, false).unref()),
    ]);
    if (!answered) this.skip();
    const err = await executorFor('no-such-host.invalid:22').execute('echo x').catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectError, String(err));
    assert.equal(err.kind, 'unreachable');
    assert.match(err.message, /failed: (ENOTFOUND|EAI_AGAIN): /);
  });

  it('without an address, rejects with SshConnectError until setTarget', async () => {
    const vm = await newVm();
    const exr = newExecutor(vm, { target: '' });
    const err = await exr.execute('echo x').catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectError, String(err));
    assert.equal(err.kind, 'no-address');
    exr.setTarget(vm.server.address);
    assert.equal((await exr.execute('echo now')).stdout.toString(), 'now\n');
    // A bare host gets defaultPort.
    const exr2 = newExecutor(vm, { target: '127.0.0.1', defaultPort: vm.server.port });
    assert.equal((await exr2.execute('echo port')).stdout.toString(), 'port\n');
  });

  it('refuses an unusable private key at construction', () => {
    const base = { target: '127.0.0.1:22', username: 'u', verifyHostKey: async () => undefined };
    assert.throws(() => new SshExecutor({ ...base, privateKey: 'not a key' }), /cannot parse the SSH private key/);
    assert.throws(() => new SshExecutor({ ...base, privateKey: clientKey.public }), /is a public key/);
  });

  it('never logs env values or stdin', async () => {
    const vm = await newVm();
    const lines = new LineCollector();
    const logger = createLogger({ level: 'debug', stream: lines });
    const exr = newExecutor(vm, { logger });
    await exr.execute('cat', { stdin: 'stdin-secret-0123456789', env: { ARVADOS_API_TOKEN: 'token-secret-0123456789' } });
    await new Promise<void>((resolve) => setImmediate(resolve));
    const all = lines.lines.join('\n');
    assert.match(all, /SSH execute/);
    assert.match(all, /ARVADOS_API_TOKEN/);
    assert.doesNotMatch(all, /token-secret|stdin-secret/);
    assert.match(all, /SSH host key verified/);
  });
});
