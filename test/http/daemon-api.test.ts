/**
 * The daemon serves the management API on its first DispatchCloud
 * InternalURL, and lets go of the port when it stops; a port it cannot
 * listen on stops it from starting.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, LineCollector } from '../../src/log.js';
import { TestController } from '../fixtures/controller.js';
import { call, until } from './helpers.js';
import { FakeNotifySocket, have } from '../systemd/fake-notify-socket.js';

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
  const proc = spawn(process.execPath, ['bin/arvados-dispatch-cloud.mjs', '--config', config], {
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

  function writeConfig(port: number): string {
    const path = join(dir, `config-${port}.yml`);
    writeFileSync(
      path,
      `Clusters:
  zzzzz:
    SystemRootToken: ${rootToken}
    ManagementToken: ${mgmtToken}
    Services:
      Controller:
        ExternalURL: ${controller.url}
      DispatchCloud:
        InternalURLs:
          "http://127.0.0.1:${port}": {}
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

  it('listens on the first InternalURL, answers with the token, and frees the port on SIGTERM', async () => {
    const port = await freePort();
    const d = runDaemon(writeConfig(port));
    const target = { server: { url: `http://127.0.0.1:${port}` } };
    try {
      await until('the management API to listen', () => d.out().includes('management API listening'), 20_000);
      const ping = await call(target, 'GET', '/_health/ping', { token: mgmtToken });
      assert.deepEqual(ping.json(), { health: 'OK' });
      assert.equal((await call(target, 'GET', '/arvados/v1/dispatch/instances')).status, 401);
      const metrics = await call(target, 'GET', '/metrics', { token: mgmtToken });
      assert.match(metrics.text, /arvados_dispatchcloud_driver_operations\{operation="List",error="0"\}/);
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
      assert.match(d.out(), /cannot start the management API/);
    } finally {
      d.kill('SIGKILL');
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
