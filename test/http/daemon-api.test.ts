/**
 * The daemon serves the management API on the DispatchCloud InternalURL
 * local to its host (or the one ARVADOS_SERVICE_INTERNAL_URL names), at its
 * ListenURL when it has one, over TLS for https; it lets go of the port when
 * it stops; and it does not start when it has nowhere to listen.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, LineCollector } from '../../src/log.js';
import { TestController } from '../fixtures/controller.js';
import { call, until } from './helpers.js';
import { FakeNotifySocket, have } from '../systemd/fake-notify-socket.js';
import { selfSignedCertificate } from '../arvados/self-signed.js';

/** The SHA-256 fingerprint of the certificate served on 127.0.0.1:port. */
function peerCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

/** GET over https, trusting `ca` only. */
function httpsGet(port: number, path: string, ca: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function runDaemon(
  config: string,
  env: NodeJS.ProcessEnv = {},
): { out: () => string; exited: Promise<number | string>; kill: (s: NodeJS.Signals) => void } {
  const proc = spawn(process.execPath, ['scripts/from-sources.mjs', '--config', config], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { out: () => out, exited, kill: (s) => proc.kill(s) };
}

describe('daemon management API', function () {
  this.timeout(30_000);
  const rootToken = randomBytes(24).toString('hex');
  const mgmtToken = randomBytes(24).toString('hex');
  let controller: TestController;
  let dir: string;

  before(async () => {
    controller = new TestController({ rootToken, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
    await controller.start();
    dir = mkdtempSync(join(tmpdir(), 'daemon-api-test-'));
  });
  after(async () => {
    await controller.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(port: number, internalURLs = `"http://127.0.0.1:${port}": {}`, extra = ''): string {
    const path = join(dir, `config-${port}-${randomBytes(4).toString('hex')}.yml`);
    writeFileSync(
      path,
      `Clusters:
  zzzzz:
    SystemRootToken: ${rootToken}
    ManagementToken: ${mgmtToken}
${extra}    Services:
      Controller:
        ExternalURL: ${controller.url}
      DispatchCloud:
        InternalURLs:
          ${internalURLs}
    Containers:
      CloudVMs:
        Driver: lame
        DriverParameters:
          CloudName: daemon-api-test-${port}
        PollInterval: 200ms
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
`,
    );
    return path;
  }

  it('reads its config from the standard input for -config -, as the reference; the config metrics hash what it read', async () => {
    const port = await freePort();
    const file = writeConfig(port);
    const text = readFileSync(file);
    const proc = spawn(process.execPath, ['scripts/from-sources.mjs', '-config', '-'], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    proc.stdin!.end(text);
    try {
      await until('the management API to listen', () => out.includes('"msg":"listening"'), 20_000);
      const metrics = (await call({ server: { url: `http://127.0.0.1:${port}` } }, 'GET', '/metrics', { token: mgmtToken })).text;
      const sha = createHash('sha256').update(text).digest('hex');
      const source = new RegExp(`^arvados_config_source_timestamp_seconds\\{sha256="${sha}"\\} (\\S+)$`, 'm').exec(metrics);
      const load = new RegExp(`^arvados_config_load_timestamp_seconds\\{sha256="${sha}"\\} (\\S+)$`, 'm').exec(metrics);
      assert.ok(source && load, metrics);
      // Standard input has no modification time: it is the load's, as in the reference.
      assert.equal(source[1], load[1]);
    } finally {
      proc.kill('SIGTERM');
      assert.equal(await exited, 0, out);
    }
  });

  it('listens on every address for an InternalURL with a port and no host (http://:PORT), as the reference; the instances command reaches it', async () => {
    const port = await freePort();
    const config = writeConfig(port, `"http://:${port}": {}`);
    const d = runDaemon(config);
    try {
      await until('the management API to listen', () => d.out().includes('"msg":"listening"') || d.out().includes('"exiting"'), 20_000);
      const listening = d.out().split('\n').find((l) => l.includes('"msg":"listening"'));
      assert.ok(listening, d.out());
      assert.match(listening, new RegExp(`"URL":"http://:${port}/","Listen":"(\\[::\\]|0\\.0\\.0\\.0):${port}"`));
      const ping = await call({ server: { url: `http://127.0.0.1:${port}` } }, 'GET', '/_health/ping', { token: mgmtToken });
      assert.deepEqual(ping.json(), { health: 'OK' });
      const cli = spawn(process.execPath, ['scripts/from-sources.mjs', 'instances', '--config', config], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
      let cliOut = '';
      cli.stdout!.on('data', (c: Buffer) => (cliOut += c.toString()));
      cli.stderr!.on('data', (c: Buffer) => (cliOut += c.toString()));
      const status = await new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
      assert.equal(status, 0, cliOut);
    } finally {
      d.kill('SIGTERM');
      assert.equal(await d.exited, 0, d.out());
    }
  });

  it('listens on the InternalURL local to this host, answers with the token, and frees the port on SIGTERM', async () => {
    const port = await freePort();
    // 192.0.2.1 (TEST-NET-1) is no address of this host: another host's URL, skipped.
    const d = runDaemon(writeConfig(port, `"http://192.0.2.1:${port}": {}\n          "http://127.0.0.1:${port}": {}`));
    const target = { server: { url: `http://127.0.0.1:${port}` } };
    try {
      await until('the management API to listen', () => d.out().includes('"msg":"listening"'), 20_000);
      const listening = d.out().split('\n').find((l) => l.includes('"msg":"listening"'))!;
      assert.match(listening, new RegExp(`"URL":"http://127.0.0.1:${port}/","Listen":"127.0.0.1:${port}","Service":"arvados-dispatch-cloud"`));
      const ping = await call(target, 'GET', '/_health/ping', { token: mgmtToken });
      assert.deepEqual(ping.json(), { health: 'OK' });
      assert.equal((await call(target, 'GET', '/arvados/v1/dispatch/instances')).status, 401);
      const metrics = await call(target, 'GET', '/metrics', { token: mgmtToken });
      assert.match(metrics.text, /arvados_dispatchcloud_driver_operations\{operation="List",error="0"\}/);
      // The service's own: its version, and the config file it runs on.
      assert.match(metrics.text, /^arvados_dispatchcloud_build_info\{version="0\.1\.0"\} 1$/m);
      // The cluster health check would report a version mismatch for the whole cluster.
      assert.doesNotMatch(metrics.text, /arvados_version_running/);
      assert.match(metrics.text, /^arvados_config_source_timestamp_seconds\{sha256="[0-9a-f]{64}"\} \d{10}/m);
      assert.match(metrics.text, /^arvados_config_load_timestamp_seconds\{sha256="[0-9a-f]{64}"\} \d{10}/m);
      assert.ok(!d.out().includes(mgmtToken), 'the token is never logged');
      d.kill('SIGTERM');
      assert.equal(await d.exited, 0, d.out());
      // The port is free again: a new daemon could listen there.
      const again = createServer();
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.listen(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => again.close(() => resolve()));
    } finally {
      d.kill('SIGKILL');
      await d.exited;
    }
  });

  it('tells systemd it is ready after the first poll and cloud list, then its status, and that it is stopping', async function () {
    if (!have('systemd-notify') || !have('python3')) this.skip();
    const sock = new FakeNotifySocket();
    await sock.start();
    const port = await freePort();
    const d = runDaemon(writeConfig(port), { NOTIFY_SOCKET: sock.path });
    try {
      await until('READY=1', () => sock.lines().includes('READY=1'), 20_000);
      const status = sock.lines().filter((l) => l.startsWith('STATUS='));
      assert.match(status[0], /^STATUS=starting/);
      assert.ok(status.some((l) => /^STATUS=\d+ containers?/.test(l)), status.join('\n'));
      d.kill('SIGTERM');
      assert.equal(await d.exited, 0, d.out());
      assert.ok(sock.lines().includes('STOPPING=1'), sock.lines().join('\n'));
    } finally {
      d.kill('SIGKILL');
      await d.exited;
      sock.stop();
    }
  });

  it('does not start when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const d = runDaemon(writeConfig(port));
    try {
      assert.equal(await d.exited, 1, d.out());
      assert.match(d.out(), /"msg":"exiting",.*"error":"could not enable the \\"arvados-dispatch-cloud\\" service on this host: http:\/\/127\.0\.0\.1:\d+\/: listen EADDRINUSE/);
    } finally {
      d.kill('SIGKILL');
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('refuses to start when no InternalURL is local to this host', async () => {
    const port = await freePort();
    const d = runDaemon(writeConfig(port, `"http://192.0.2.1:${port}": {}`));
    try {
      assert.equal(await d.exited, 1, d.out());
      assert.match(d.out(), /"level":"error","msg":"exiting",.*"error":"configuration does not enable the \\"arvados-dispatch-cloud\\" service on this host"/);
      assert.doesNotMatch(d.out(), /dispatcher starting/, 'it stops before building the dispatcher');
    } finally {
      d.kill('SIGKILL');
    }
  });

  it('honours ARVADOS_SERVICE_INTERNAL_URL and listens on its ListenURL', async () => {
    const port = await freePort();
    const other = await freePort();
    // Both InternalURLs are local; the environment says which one this process is.
    const d = runDaemon(
      writeConfig(port, `"http://127.0.0.1:${other}": {}\n          "https://dispatch.example:9006": {ListenURL: "http://127.0.0.1:${port}"}`),
      { ARVADOS_SERVICE_INTERNAL_URL: 'https://dispatch.example:9006' },
    );
    try {
      await until('the management API to listen', () => d.out().includes('"msg":"listening"'), 20_000);
      const ping = await call({ server: { url: `http://127.0.0.1:${port}` } }, 'GET', '/_health/ping', { token: mgmtToken });
      assert.deepEqual(ping.json(), { health: 'OK' });
      // It listens there and nowhere else. (Not checked by connecting to the other port: a
      // test running beside this one may have been given that port since freePort chose it.)
      const listening = d
        .out()
        .split('\n')
        .filter((l) => l.includes('"msg":"listening"'))
        .map((l) => (JSON.parse(l) as { Listen: string; URL: string }));
      assert.deepEqual(listening.map((l) => [l.Listen, l.URL]), [[`127.0.0.1:${port}`, `http://127.0.0.1:${port}/`]]);
      d.kill('SIGTERM');
      assert.equal(await d.exited, 0, d.out());
    } finally {
      d.kill('SIGKILL');
      await d.exited;
    }
  });

  it('serves TLS with TLS.Certificate and TLS.Key on an https InternalURL, and reloads them on SIGHUP', async () => {
    const port = await freePort();
    const first = selfSignedCertificate();
    const certFile = join(dir, `cert-${port}.pem`);
    const keyFile = join(dir, `key-${port}.pem`);
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
    const d = runDaemon(writeConfig(port, `"https://127.0.0.1:${port}": {}`, `    TLS:\n      Certificate: "file://${certFile}"\n      Key: ${keyFile}\n`));
    try {
      await until('the management API to listen', () => d.out().includes('"msg":"listening"'), 20_000);
      assert.equal(await peerCertificate(port), new X509Certificate(first.cert).fingerprint256);
      const ping = await httpsGet(port, '/_health/ping', first.cert, mgmtToken);
      assert.equal(ping, '{"health":"OK"}\n');
      // A renewed certificate is served after SIGHUP, without a restart.
      const second = selfSignedCertificate();
      writeFileSync(certFile, second.cert);
      writeFileSync(keyFile, second.key);
      d.kill('SIGHUP');
      await until('the new certificate', async () => (await peerCertificate(port)) === new X509Certificate(second.cert).fingerprint256, 10_000);
      d.kill('SIGTERM');
      assert.equal(await d.exited, 0, d.out());
    } finally {
      d.kill('SIGKILL');
      await d.exited;
    }
  });

  it('does not start on an https InternalURL without a usable certificate', async () => {
    const port = await freePort();
    const d = runDaemon(writeConfig(port, `"https://127.0.0.1:${port}": {}`, `    TLS:\n      Certificate: ${join(dir, 'missing.pem')}\n      Key: ${join(dir, 'missing.key')}\n`));
    try {
      assert.equal(await d.exited, 1, d.out());
      assert.match(d.out(), /"msg":"cannot start arvados-dispatch-cloud service on https:\/\/127\.0\.0\.1:\d+\/".*error loading X509 key pair: ENOENT/);
    } finally {
      d.kill('SIGKILL');
    }
  });
});
