/**
 * SshConnection rules that decide what a VM (or whatever answers at its
 * address) can make the dispatcher accept or keep: the host key a re-key
 * presents, a timed-out command's channel, and whether a command whose exec
 * request was sent may be sent again after the connection dies. Against a
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
import { CommandTimeoutError, SshConnectionLostError, SshExecutor } from '../../src/ssh/ssh-executor.js';
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

describe('SshConnection', function () {
  this.timeout(10_000);
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

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
      const [host, port] = server.address.split(':');
      conn = new SshConnection({
        target: { host, port: Number(port) },
        label: server.address,
        username: 'crunch',
        privateKey: clientKey.private,
        connectTimeoutMs: 2000,
        keepaliveIntervalMs: 10_000,
        keepaliveCountMax: 3,
        maxSessions: 8,
        clock: systemClock,
        logger: silentLogger(),
      });
    } finally {
      proto.connect = orig;
    }
    cleanups.push(() => conn.close(new Error('test over')));
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
    const exr = new SshExecutor({
      target: server.address,
      username: 'crunch',
      privateKey: clientKey.private,
      verifyHostKey: async () => undefined,
      connectTimeoutMs: 2000,
      clock,
    });
    cleanups.push(() => exr.close());
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
    const sockets = new Set<net.Socket>();
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
    const { port } = listener.address() as net.AddressInfo;
    const exr = new SshExecutor({
      target: `127.0.0.1:${port}`,
      username: 'crunch',
      privateKey: clientKey.private,
      verifyHostKey: async () => undefined,
      connectTimeoutMs: 2000,
    });
    cleanups.push(() => exr.close());
    const err = await exr.execute('crunch-run --detach x', { timeoutMs: 3000 }).catch((e: unknown) => e);
    assert.ok(err instanceof SshConnectionLostError, String(err));
    assert.equal(err.started, true, 'reported as possibly started');
    await realTurn(50);
    assert.equal(execs, 1, 'sent once, not retried on a new connection');
  });
});
