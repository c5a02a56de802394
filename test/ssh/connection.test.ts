/**
 * SshConnection rules that decide what a VM (or whatever answers at its
 * address) can make the dispatcher accept or keep: the host key a re-key
 * presents, a timed-out command's channel (also one the server opened only
 * after the timeout), and whether a command may be sent again after the
 * connection dies (not once its exec request was sent; yes when it never
 * left, the socket being gone or the connection closed). Against a
 * real SshServer, or a bare ssh2 server where the test needs to misbehave
 * at one exact step.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import ssh2 from 'ssh2';
import type { ServerChannel } from 'ssh2';
import { generateHostKey, SshServer } from '../../drivers/lame/sshd.js';
import { ManualClock, systemClock } from '../../src/clock/index.js';
import { silentLogger } from '../../src/log.js';
import { SshConnection } from '../../src/ssh/connection.js';
import { CommandTimeoutError, SshConnectError, SshConnectionLostError, SshExecutor } from '../../src/ssh/ssh-executor.js';
import { clientKey } from './test-vm.js';

function realTurn(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  for (const start = Date.now(); !cond(); ) {
    if (Date.now() - start > ms) assert.fail(`timed out waiting for ${what}`);
    await realTurn();
  }
}

/** ssh2's client inside the next SshConnection made while `make` runs, so a test can break its socket. */
function capturingClient<T>(make: () => T): { made: T; client: ssh2.Client } {
  const proto = ssh2.Client.prototype as unknown as { connect: (cfg: unknown) => unknown };
  const orig = proto.connect;
  let client: ssh2.Client | undefined;
  proto.connect = function (this: ssh2.Client, cfg) {
    client = this;
    return orig.call(this, cfg);
  };
  try {
    const made = make();
    assert.ok(client, 'the connection made an ssh2 client');
    return { made, client };
  } finally {
    proto.connect = orig;
  }
}

describe('SshConnection', function () {
  this.timeout(10_000);
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** An executor for `target` with the tests' key and timeouts, closed after the test. */
  function executor(target: string, clock?: ManualClock): SshExecutor {
    const exr = new SshExecutor({
      target,
      username: 'crunch',
      privateKey: clientKey.private,
      verifyHostKey: async () => undefined,
      connectTimeoutMs: 2000,
      ...(clock ? { clock } : {}),
    });
    cleanups.push(() => exr.close());
    return exr;
  }

  /**
   * Serves `proto` on a loopback port (closed, its connections cut, after the
   * test): the address, and the live sockets, which a test may cut itself.
   */
  async function serveProto(proto: ssh2.Server): Promise<{ address: string; sockets: Set<net.Socket> }> {
    const sockets = new Set<net.Socket>();
    const listener = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      proto.injectSocket(socket);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => listener.close(() => resolve())));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
    });
    return { address: `127.0.0.1:${(listener.address() as net.AddressInfo).port}`, sockets };
  }

  it('a re-key must present the host key of the first handshake: any other key is refused', async () => {
    const server = new SshServer({
      hostKey: generateHostKey().private,
      authorizedKeys: [clientKey.public],
      handler: async () => ({ stdout: 'ok', exitCode: 0 }),
    });
    await server.start();
    cleanups.push(() => server.close());
    // The verifier ssh2 calls at each key exchange (the first and any re-key).
    const proto = ssh2.Client.prototype as unknown as { connect: (cfg: { hostVerifier: (key: Buffer) => boolean }) => unknown };
    const orig = proto.connect;
    let verifier: ((key: Buffer) => boolean) | undefined;
    proto.connect = function (this: unknown, cfg) {
      verifier = cfg.hostVerifier;
      return orig.call(this, cfg);
    };
    let conn: SshConnection;
    try {
      conn = connection(server.address);
    } finally {
      proto.connect = orig;
    }
    await conn.ready;
    const first = conn.presentedKey;
    assert.ok(first && verifier);
    const other = ssh2.utils.parseKey(generateHostKey().public);
    assert.ok(!(other instanceof Error) && !Array.isArray(other));
    assert.equal(verifier(other.getPublicSSH()), false, 'a re-key presenting another host key is refused');
    assert.equal(verifier(Buffer.from(first)), true, 'the same key again is accepted');
  });

  it('closes the channel of a command that timed out, so a hung command does not hold one of the server’s sessions', async () => {
    const channels: ServerChannel[] = [];
    const closed: boolean[] = [];
    const server = new SshServer({
      hostKey: generateHostKey().private,
      authorizedKeys: [clientKey.public],
      // Never answers: the command hangs.
      channelHandler: (ch) => {
        const i = channels.push(ch) - 1;
        closed[i] = false;
        ch.on('close', () => (closed[i] = true));
        ch.resume(); // consumed, so its end (and close) can come
      },
    });
    await server.start();
    cleanups.push(() => server.close());
    const clock = new ManualClock();
    const exr = executor(server.address, clock);
    const p = exr.execute('hang', { timeoutMs: 100 }).catch((e: unknown) => e);
    await until(() => channels.length === 1, 'the command to reach the server');
    await clock.advance(100);
    const err = await p;
    assert.ok(err instanceof CommandTimeoutError, String(err));
    await until(() => closed[0], 'the server to see the timed-out command’s channel closed');
    assert.equal(server.connectionCount(), 1, 'the connection itself stays up');
  });

  it('a command whose exec request reached the server is not sent again when the connection then dies: it may have run', async () => {
    const hostKey = generateHostKey().private;
    let execs = 0;
    let sockets = new Set<net.Socket>();
    const proto = new ssh2.Server({ hostKeys: [hostKey] }, (conn) => {
      conn.on('error', () => undefined);
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('error', () => undefined);
        // The exec request arrives; the server dies before it answers.
        session.on('exec', () => {
          execs++;
          for (const s of sockets) s.destroy();
        });
      });
    });
    proto.on('error', () => undefined);
    const served = await serveProto(proto);
    sockets = served.sockets;
    const exr = executor(served.address);
    const err = await exr.execute('crunch-run --detach x', { timeoutMs: 3000 }).catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectionLostError, String(err));
    assert.equal(err.started, true, 'reported as possibly started');
    await realTurn(50);
    assert.equal(execs, 1, 'sent once, not retried on a new connection');
  });

  function connection(address: string, overrides: Partial<ConstructorParameters<typeof SshConnection>[0]> = {}): SshConnection {
    const [host, port] = address.split(':');
    const conn = new SshConnection({
      target: { host, port: Number(port) },
      label: address,
      username: 'crunch',
      privateKey: clientKey.private,
      connectTimeoutMs: 2000,
      keepaliveIntervalMs: 10_000,
      keepaliveCountMax: 3,
      maxSessions: 8,
      clock: systemClock,
      logger: silentLogger(),
      ...overrides,
    });
    cleanups.push(() => conn.close(new Error('test over')));
    return conn;
  }

  async function echoServer(seen: string[] = []): Promise<SshServer> {
    const server = new SshServer({
      hostKey: generateHostKey().private,
      authorizedKeys: [clientKey.public],
      handler: async (ctx) => {
        seen.push(ctx.command);
        return { stdout: `${ctx.command}\n`, exitCode: 0 };
      },
    });
    await server.start();
    cleanups.push(() => server.close());
    return server;
  }

  it('a private key ssh2 cannot use fails the connection as an authentication error, without connecting', async () => {
    let accepted = 0;
    const listener = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => listener.close(() => resolve())));
    const conn = connection(`127.0.0.1:${(listener.address() as net.AddressInfo).port}`, { privateKey: 'not a key' });
    const err = await conn.ready.catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectError, String(err));
    assert.equal(err.kind, 'authentication');
    assert.match(err.message, /failed: cannot use the private key: Cannot parse privateKey/);
    assert.equal(conn.isClosed, true, 'closed for good');
    await realTurn(20);
    assert.equal(accepted, 0, 'nothing was dialled');
  });

  it('a command on a connection already closed fails as not started, and nothing reaches the server', async () => {
    const seen: string[] = [];
    const server = await echoServer(seen);
    const conn = connection(server.address);
    await conn.ready;
    assert.equal((await conn.run('first', 'first', undefined, 0)).stdout.toString(), 'first\n');
    conn.close(new Error('done with it'));
    const err = await conn.run('second', 'second', undefined, 0).catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectionLostError, String(err));
    assert.equal(err.started, false, 'safe to send again elsewhere');
    assert.match(err.message, /was lost before the command started/);
    await realTurn(20);
    assert.deepEqual(seen, ['first']);
  });

  it('a command sent after the socket died but before its close event fails as not started, so the executor sends it on a new connection', async () => {
    const server = await echoServer();
    const exr = executor(server.address, new ManualClock());
    // The first command makes the connection (and its client).
    const first = capturingClient(() => exr.execute('one'));
    assert.equal((await first.made).stdout.toString(), 'one\n');
    // What our 'end' handler does when the server sends EOF: the socket is
    // gone at once, its 'close' event comes a turn later.
    first.client.destroy();
    const err = await exr.execute('two').catch((e: unknown) => e);
    assert.ok(!(err instanceof Error), `sent again on a new connection, not ${String(err)}`);
    assert.equal((err as { stdout: Buffer }).stdout.toString(), 'two\n');
  });

  it('closes the channel of a command whose exec was accepted only after the command had timed out', async () => {
    const hostKey = generateHostKey().private;
    const held: Array<() => void> = [];
    const serverChannels: ServerChannel[] = [];
    const closed = new Set<ServerChannel>();
    const proto = new ssh2.Server({ hostKeys: [hostKey] }, (c) => {
      c.on('error', () => undefined);
      c.on('authentication', (ctx) => ctx.accept());
      c.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('error', () => undefined);
        session.on('exec', (acceptExec, _reject, info) => {
          const answer = (): void => {
            const ch = acceptExec();
            serverChannels.push(ch);
            ch.on('error', () => undefined);
            ch.on('close', () => closed.add(ch));
            ch.resume(); // consumed, so its end (and close) can come
            if (info.command === 'slow') return; // runs on; the client must close it
            ch.end(`${info.command}\n`);
            ch.exit(0);
            ch.close();
          };
          if (info.command === 'slow') held.push(answer);
          else answer();
        });
      });
    });
    proto.on('error', () => undefined);
    const clock = new ManualClock();
    const conn = connection((await serveProto(proto)).address, { clock, maxSessions: 1 });
    await conn.ready;
    const slow = conn.run('slow', 'slow', undefined, 100).catch((e: unknown) => e);
    await until(() => held.length === 1, 'the exec request to reach the server');
    await clock.advance(100);
    const err = await slow;
    assert.ok(err instanceof CommandTimeoutError, String(err));
    // The server accepts the exec now: the client closes that channel at once.
    held[0]();
    await until(() => serverChannels.length === 1, 'the late channel');
    await until(() => closed.has(serverChannels[0]), 'the client to close the late channel');
    assert.equal((await conn.run('next', 'next', undefined, 0)).stdout.toString(), 'next\n', 'the connection goes on');
  });
});
