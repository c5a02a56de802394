/**
 * The lame cloud's SSH server, driven with a bare ssh2 client (so these
 * tests do not depend on the executor): auth rules, env requests, exit
 * statuses, faults.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import ssh2 from 'ssh2';
import type { Client as Ssh2Client, ConnectConfig } from 'ssh2';
import { type CommandContext, type CommandHandler, generateHostKey, SshServer } from '../../drivers/lame/sshd.js';

const { Client, utils } = ssh2;

// generateHostKey, not utils.generateKeyPairSync: see its comment (1 in 256 ssh2 keys is malformed).
const clientKey = generateHostKey();

interface RawResult {
  stdout: string;
  stderr: string;
  code: unknown;
}

/** Connects; resolves with the client and the host key it was shown. */
async function connect(server: SshServer, extra: Partial<ConnectConfig> = {}): Promise<{ client: Ssh2Client; hostKey: Buffer }> {
  const client = new Client();
  // ssh2 can emit more than one error (auth failure, then the reset): keep a listener for good.
  client.on('error', () => undefined);
  let hostKey = Buffer.alloc(0);
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', (err) => {
      client.destroy();
      reject(err);
    });
  });
  client.connect({
    host: '127.0.0.1',
    port: server.port,
    username: 'crunch',
    privateKey: clientKey.private,
    hostVerifier: (key: Buffer): boolean => {
      hostKey = Buffer.from(key);
      return true;
    },
    readyTimeout: 2000,
    ...extra,
  });
  client.setNoDelay(true);
  await ready;
  return { client, hostKey };
}

function run(client: Ssh2Client, command: string, opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, { env: opts.env }, (err, ch) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: unknown;
      ch.on('data', (d: Buffer) => (stdout += d.toString()));
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      ch.on('exit', (c: unknown) => (code = c));
      ch.on('close', () => resolve({ stdout, stderr, code }));
      ch.end(opts.stdin);
    });
  });
}

describe('lame sshd', () => {
  const servers: SshServer[] = [];
  const clients: Ssh2Client[] = [];
  let seen: CommandContext[];

  const handler: CommandHandler = async (ctx) => {
    seen.push(ctx);
    if (ctx.command === 'cat') return { stdout: ctx.stdin, exitCode: 0 };
    if (ctx.command === 'fail') throw new Error('handler blew up');
    const exit = /^exit (\d+)$/.exec(ctx.command);
    if (exit) return { stderr: 'bye\n', exitCode: Number(exit[1]) };
    return { stdout: `ran ${ctx.command}\n`, exitCode: 0 };
  };

  async function newServer(): Promise<SshServer> {
    const server = new SshServer({ hostKey: generateHostKey().private, authorizedKeys: [clientKey.public], handler });
    servers.push(server);
    await server.start();
    return server;
  }

  async function newClient(server: SshServer, extra: Partial<ConnectConfig> = {}): Promise<{ client: Ssh2Client; hostKey: Buffer }> {
    const c = await connect(server, extra);
    clients.push(c.client);
    return c;
  }

  beforeEach(() => {
    seen = [];
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('listens on an ephemeral port and presents hostPublicKey', async () => {
    const server = await newServer();
    assert.ok(server.port > 0);
    assert.equal(server.address, `127.0.0.1:${server.port}`);
    const { hostKey } = await newClient(server);
    assert.ok(hostKey.equals(server.hostPublicKey));
  });

  it('runs commands with stdin, env requests, username and exit status', async () => {
    const server = await newServer();
    const { client } = await newClient(server);
    assert.deepEqual(await run(client, 'cat', { stdin: 'hello\n' }), { stdout: 'hello\n', stderr: '', code: 0 });
    assert.deepEqual(await run(client, 'exit 7'), { stdout: '', stderr: 'bye\n', code: 7 });
    await run(client, 'with-env', { env: { LANG: 'C', X: "a 'b'" } });
    const ctx = seen.find((c) => c.command === 'with-env');
    assert.deepEqual(ctx?.env, { LANG: 'C', X: "a 'b'" });
    assert.equal(ctx?.username, 'crunch');
  });

  it('reports a throwing handler as exit 255 with the message on stderr', async () => {
    const server = await newServer();
    const { client } = await newClient(server);
    const res = await run(client, 'fail');
    assert.equal(res.code, 255);
    assert.match(res.stderr, /handler blew up/);
  });

  it('runs many sessions concurrently on one connection', async () => {
    const server = await newServer();
    const { client } = await newClient(server);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => run(client, `job ${i}`)));
    assert.deepEqual(
      results.map((r) => r.stdout),
      Array.from({ length: 8 }, (_, i) => `ran job ${i}\n`),
    );
    assert.equal(server.connectionCount(), 1);
  });

  it('refuses keys it does not know, and passwords', async () => {
    const server = await newServer();
    const stranger = generateHostKey();
    await assert.rejects(connect(server, { privateKey: stranger.private }), (err: Error & { level?: string }) => err.level === 'client-authentication');
    await assert.rejects(connect(server, { privateKey: undefined, password: 'hunter2' }), (err: Error & { level?: string }) => err.level === 'client-authentication');
  });

  it('setAuthorizedKeys applies to later logins', async () => {
    const server = await newServer();
    await newClient(server);
    server.setAuthorizedKeys([]);
    await assert.rejects(connect(server), (err: Error & { level?: string }) => err.level === 'client-authentication');
  });

  it('dropConnections closes client connections', async () => {
    const server = await newServer();
    const { client } = await newClient(server);
    assert.equal(server.connectionCount(), 1);
    const closed = once(client, 'close');
    server.dropConnections();
    await closed;
    assert.equal(server.connectionCount(), 0);
  });

  it('restart keeps the port and can change the host key', async () => {
    const server = await newServer();
    const port = server.port;
    const before = server.hostPublicKey;
    const { client } = await newClient(server);
    const closed = once(client, 'close');
    await server.restart({ hostKey: generateHostKey().private });
    await closed;
    assert.equal(server.port, port);
    assert.ok(!server.hostPublicKey.equals(before));
    const { hostKey } = await newClient(server);
    assert.ok(hostKey.equals(server.hostPublicKey));
  });

  it('generateHostKey never returns one of ssh2\'s malformed keys', () => {
    // About 1 in 256 raw ssh2 ed25519 pairs is malformed: 1000 pairs almost
    // surely include some, and every pair we hand out must parse.
    for (let i = 0; i < 1000; i++) {
      const pair = generateHostKey();
      const priv = utils.parseKey(pair.private);
      assert.ok(!(priv instanceof Error), pair.private);
      assert.ok(!(utils.parseKey(pair.public) instanceof Error), pair.public);
    }
  });

  it('close stops listening', async () => {
    const server = await newServer();
    await server.close();
    await assert.rejects(connect(server), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  });
});
