/**
 * The daemon's lifetime: `arvados-dispatch-cloud --config FILE` runs until
 * SIGTERM or SIGINT, however idle it is (an empty queue, unref'd
 * timers), and then stops cleanly with status 0.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForStopSignal } from '../src/daemon.js';
import { spawnDaemon } from './fixtures/daemon-process.js';
import { lameDaemonFixture, type LameDaemonFixture } from './fixtures/daemon-config.js';
import { selfSignedCertificate } from './arvados/self-signed.js';

describe('daemon', function () {
  this.timeout(30_000);

  it('waitForStopSignal resolves with the first stop signal and removes its listeners', async () => {
    const signals = new EventEmitter();
    const waiting = waitForStopSignal(signals);
    assert.equal(signals.listenerCount('SIGTERM'), 1);
    assert.equal(signals.listenerCount('SIGINT'), 1);
    signals.emit('SIGINT');
    signals.emit('SIGTERM');
    assert.equal(await waiting, 'SIGINT');
    assert.equal(signals.listenerCount('SIGTERM'), 0);
    assert.equal(signals.listenerCount('SIGINT'), 0);
  });

  /** A controller and a lame-cloud config for the real daemon, polling and listing every 200 ms. */
  function lameDaemonSetup(cloudVMsExtra = ''): Promise<LameDaemonFixture> {
    return lameDaemonFixture('daemon-test', { cloudVMs: `        PollInterval: 200ms\n        SyncInterval: 200ms\n${cloudVMsExtra}` });
  }

  it('stays up while idle, until SIGTERM, then exits 0', async () => {
    const { dir, config, controller, cleanup } = await lameDaemonSetup();
    // A site CA, as /etc/arvados/ca-certificates.crt would hold it: the daemon says it trusts it.
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, selfSignedCertificate({ dnsName: 'ca.example' }).cert);
    // And a directory of its own in SSL_CERT_DIR, as Go's clients read it.
    mkdirSync(join(dir, 'certs'));
    writeFileSync(join(dir, 'certs', 'other.pem'), selfSignedCertificate({ dnsName: 'other.example' }).cert);
    const daemon = spawnDaemon(config, { LOG_LEVEL: 'info', SSL_CERT_FILE: ca, SSL_CERT_DIR: join(dir, 'certs') });
    try {
      await daemon.waitForOutput(/starting scheduling/);
      // No PostgreSQL.Connection: it says it runs without the dispatch lock, as a warning.
      assert.match(daemon.output(), /"level":"warning","msg":"PostgreSQL\.Connection is empty: running without the dispatch lock, so nothing stops another dispatcher/);
      assert.match(daemon.output(), /"msg":"trusting CA certificates from file, besides Node's own roots".*"Added":1/);
      assert.match(daemon.output(), /"msg":"trusting CA certificates from directories, besides Node's own roots and the file's".*"Added":1/);
      // Named as the reference's binary is, for pidof and process monitors (the kernel keeps 15 characters).
      assert.equal(readFileSync(`/proc/${daemon.proc.pid}/comm`, 'utf8').trim(), 'arvados-dispatc');
      // Many poll intervals with nothing to do: the daemon must still be there.
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal(daemon.exitStatus(), undefined, `the daemon exited while idle:\n${daemon.output()}`);
      assert.ok((controller.stats['GET /arvados/v1/containers'] ?? 0) >= 3, 'it kept polling the queue');
      daemon.proc.kill('SIGTERM');
      assert.equal(await daemon.exited, 0, daemon.output());
      assert.match(daemon.output(), /"msg":"stopping: VMs and containers are left as they are for the next start to adopt"[^\n]*"Signal":"SIGTERM"/);
      assert.match(daemon.output(), /"msg":"dispatcher stopped"/);
    } finally {
      await daemon.kill();
      await cleanup();
    }
  });

  it('warns at start when the CA file SSL_CERT_FILE names cannot be read, saying what TLS clients trust instead, and runs', async () => {
    const { dir, config, cleanup } = await lameDaemonSetup();
    mkdirSync(join(dir, 'certs'));
    writeFileSync(join(dir, 'certs', 'site.pem'), selfSignedCertificate({ dnsName: 'site.example' }).cert);
    const missing = join(dir, 'no-such-ca.pem');
    const daemon = spawnDaemon(config, { LOG_LEVEL: 'info', SSL_CERT_FILE: missing, SSL_CERT_DIR: join(dir, 'certs') });
    try {
      await daemon.waitForOutput(/starting scheduling/);
      const warning = daemon
        .output()
        .split('\n')
        .filter((l) => l.includes('CA certificates not loaded'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        warning.map((w) => [w.level, w.msg, w.error]),
        [['warning', "CA certificates not loaded: TLS clients trust Node's own roots and those of the certificate directories", `SSL_CERT_FILE ${missing}: ENOENT`]],
      );
      daemon.proc.kill('SIGTERM');
      assert.equal(await daemon.exited, 0, daemon.output());
    } finally {
      await daemon.kill();
      await cleanup();
    }
  });

  it('a start-up failure past the config (a runner binary not there yet) exits 1 with one JSON `exiting` line on stderr, so systemd retries; the next start works once it is there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daemon-runner-'));
    const runner = join(dir, 'crunch-run');
    const { config, cleanup } = await lameDaemonSetup(`        DeployRunnerBinary: ${runner}\n`);
    const first = spawnDaemon(config, { LOG_LEVEL: 'info' });
    const second = { current: undefined as ReturnType<typeof spawnDaemon> | undefined };
    try {
      assert.equal(await first.exited, 1, first.output());
      await first.closed;
      const last = JSON.parse(first.errors().trim().split('\n').at(-1)!) as Record<string, unknown>;
      assert.deepEqual([last.level, last.msg], ['error', 'exiting']);
      // Named after the config file and the line of the key, as check-config names a problem.
      const line = readFileSync(config, 'utf8').split('\n').findIndex((l) => l.includes('DeployRunnerBinary:')) + 1;
      assert.equal(String(last.error).split(': Clusters')[0], `${config}: line ${line}`);
      assert.match(String(last.error), /: Clusters\.zzzzz\.Containers\.CloudVMs\.DeployRunnerBinary: cannot read .*crunch-run: ENOENT/);
      // The deploy finishes; systemd's next try (RestartSec=1) starts.
      writeFileSync(runner, '#!/bin/sh\n');
      second.current = spawnDaemon(config, { LOG_LEVEL: 'info' });
      await second.current.waitForOutput(/starting scheduling/);
      assert.equal((await second.current.signalAndWait('SIGTERM', 10_000)).status, 0);
    } finally {
      await first.kill();
      await second.current?.kill();
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers SIGQUIT as a Go program does: a dump on stderr (a Node diagnostic report), then exit status 2 at once, without stopping', async () => {
    const { token, config, cleanup } = await lameDaemonSetup();
    const daemon = spawnDaemon(config, { LOG_LEVEL: 'info', ARVADOS_API_TOKEN: token });
    try {
      await daemon.waitForOutput(/starting scheduling/);
      const { status, ms } = await daemon.signalAndWait('SIGQUIT', 5_000);
      await daemon.closed;
      assert.equal(status, 2, daemon.output());
      assert.ok(ms < 3_000, `took ${ms} ms`);
      const stderr = daemon.errors();
      assert.match(daemon.output(), /"msg":"SIGQUIT: writing a diagnostic report to stderr, then exiting with status 2 without stopping; VMs and containers are left as they are[^"]*".*"Report":"stderr"/);
      // The report: Node's, as indented JSON, from its first line to its last.
      const start = stderr.indexOf('{\n  "header"');
      assert.ok(start >= 0, stderr.slice(-2000));
      const report = JSON.parse(stderr.slice(start, stderr.indexOf('\n}\n', start) + 2)) as Record<string, Record<string, unknown>>;
      assert.match(String(report.header?.event), /JavaScript API/);
      assert.ok(Array.isArray(report.libuv) && report.libuv.length > 0);
      assert.equal(report.environmentVariables?.ARVADOS_API_TOKEN, '[REDACTED]');
      assert.ok(!daemon.output().includes(token), 'no token in the output');
      // No graceful stop: nothing was stopped, so the next start adopts everything.
      assert.doesNotMatch(daemon.output(), /"msg":"dispatcher stopped"|"msg":"stopping/);
    } finally {
      await daemon.kill();
      await cleanup();
    }
  });
});
