/**
 * The daemon's lifetime: `arvados-dispatch-cloud --config FILE` runs until
 * SIGTERM or SIGINT, however idle it is (an empty queue, unref'd
 * timers), and then stops cleanly with status 0.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForStopSignal } from '../src/daemon.js';
import { createLogger, LineCollector } from '../src/log.js';
import { TestController } from './fixtures/controller.js';
import { spawnDaemon } from './fixtures/daemon-process.js';
import { daemonConfigHead } from './fixtures/daemon-config.js';
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

  it('stays up while idle, until SIGTERM, then exits 0', async () => {
    const token = randomBytes(24).toString('hex');
    const controller = new TestController({ rootToken: token, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
    await controller.start();
    const dir = mkdtempSync(join(tmpdir(), 'daemon-test-'));
    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      `${daemonConfigHead({ rootToken: token, controllerURL: controller.url })}    Containers:
      CloudVMs:
        Driver: lame
        DriverParameters:
          CloudName: daemon-test
        PollInterval: 200ms
        SyncInterval: 200ms
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
`,
    );
    // A site CA, as /etc/arvados/ca-certificates.crt would hold it: the daemon says it trusts it.
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, selfSignedCertificate({ dnsName: 'ca.example' }).cert);
    const daemon = spawnDaemon(config, { LOG_LEVEL: 'info', SSL_CERT_FILE: ca });
    try {
      await daemon.waitForOutput(/starting scheduling/);
      assert.match(daemon.output(), /"msg":"trusting CA certificates from file, besides Node's own roots".*"Added":1/);
      // Many poll intervals with nothing to do: the daemon must still be there.
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal(daemon.exitStatus(), undefined, `the daemon exited while idle:\n${daemon.output()}`);
      assert.ok((controller.stats['GET /arvados/v1/containers'] ?? 0) >= 3, 'it kept polling the queue');
      daemon.proc.kill('SIGTERM');
      assert.equal(await daemon.exited, 0, daemon.output());
      assert.match(daemon.output(), /"msg":"dispatcher stopped"/);
    } finally {
      await daemon.kill();
      await controller.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
