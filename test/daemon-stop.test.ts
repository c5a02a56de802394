/**
 * SIGTERM and SIGINT end the real daemon within 10 s, with status 0, while a
 * VM runs a container: on the in-process lame cloud (whose VMs, SSH servers
 * in the daemon's own process, go with it), on a lame cloud in another
 * process (`lame-cloud`, here served by the test), and on the loopback
 * driver (whose container, a process of this host, is left running). The daemon exits
 * because nothing holds it open any more, not through its last-resort exit
 * (which would log LINGER_WARNING).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './cloud/conformance.js';
import { TestController } from './fixtures/controller.js';
import { startLameCloudServer } from '../drivers/lame/index.js';
import { loadConfigText } from '../src/config/index.js';
import { spawnDaemon } from './fixtures/daemon-process.js';
import { makeLoopbackHost } from './fixtures/loopback-host.js';
import { createLogger, LineCollector } from '../src/log.js';
import { LINGER_WARNING } from '../src/stop.js';
import { daemonConfigHead } from './fixtures/daemon-config.js';

const STOP_BUDGET_MS = 10_000;

interface Setup {
  configText: string;
  /** After the daemon exited: checks what it left behind. */
  afterExit(): void;
  cleanup(): Promise<void> | void;
}

const lameConfig = (controllerURL: string, token: string, driverParameters: string, websocketURL?: string): string => `${daemonConfigHead({ rootToken: token, controllerURL, websocketURL })}    Containers:
      CloudVMs:
        Driver: lame
        DriverParameters:
${driverParameters}          MinBootTime: 0s
          MaxBootTime: 0s
        PollInterval: 200ms
        SyncInterval: 200ms
        ProbeInterval: 200ms
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
`;

const CONFIGURATIONS: Record<string, (controllerURL: string, token: string) => Promise<Setup>> = {
  'the in-process lame cloud': async (controllerURL, token) => ({
    configText: lameConfig(controllerURL, token, '          CloudName: daemon-stop\n'),
    afterExit: () => undefined,
    cleanup: () => undefined,
  }),
  'a lame cloud in another process': async (controllerURL, token) => {
    const quiet = createLogger({ stream: new LineCollector(), level: 'error' });
    const cloud = await startLameCloudServer({
      cluster: loadConfigText(lameConfig(controllerURL, token, '          CloudURL: http://127.0.0.1:0\n')).cluster,
      logger: quiet,
    });
    return {
      configText: lameConfig(controllerURL, token, `          CloudURL: ${cloud.url}\n`),
      afterExit: () => assert.equal(cloud.cloud.listVMs().length, 1, 'the VM outlives the dispatcher'),
      cleanup: () => cloud.close(),
    };
  },
  'the loopback driver': async (controllerURL, token) => {
    const host = makeLoopbackHost({ controllerURL, rootToken: token });
    return {
      configText: host.configText,
      afterExit() {
        const pids = host.runnerPids();
        assert.equal(pids.length, 1, 'the container process is still recorded');
        assert.doesNotThrow(() => process.kill(pids[0], 0), 'the container process outlives the dispatcher');
      },
      cleanup: () => host.cleanup(),
    };
  },
};

describe('daemon stop', function () {
  this.timeout(60_000);

  for (const [name, configure] of Object.entries(CONFIGURATIONS)) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      it(`${signal} ends the daemon on ${name} within 10 s, while a container runs`, async () => {
        const token = randomBytes(24).toString('hex');
        const controller = new TestController({ rootToken: token, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
        await controller.start();
        const setup = await configure(controller.url, token);
        const dir = mkdtempSync(join(tmpdir(), 'daemon-stop-'));
        const config = join(dir, 'config.yml');
        writeFileSync(config, setup.configText);
        const daemon = spawnDaemon(config);
        try {
          const c = controller.addContainer({ command: ['sleep', '600'] });
          await waitFor('the container to run', () => controller.get(c.uuid)!.state === 'Running' || daemon.exitStatus() !== undefined, 30_000, 50);
          assert.equal(daemon.exitStatus(), undefined, `the daemon exited early:\n${daemon.output()}`);
          const { status, ms } = await daemon.signalAndWait(signal, STOP_BUDGET_MS);
          assert.equal(status, 0, `exit status after ${ms} ms:\n${daemon.output()}`);
          assert.match(daemon.output(), /"msg":"dispatcher stopped"/);
          assert.ok(!daemon.output().includes(LINGER_WARNING), `something held the process open:\n${daemon.output()}`);
          assert.equal(controller.get(c.uuid)!.state, 'Running', 'the container is left alone');
          setup.afterExit();
        } finally {
          await daemon.kill();
          await controller.stop();
          await setup.cleanup();
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  }

  it("SIGTERM deletes the event feed's own token; the feed connected with it, never with the root token", async () => {
    const token = randomBytes(24).toString('hex');
    const controller = new TestController({ rootToken: token, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
    await controller.start();
    const dir = mkdtempSync(join(tmpdir(), 'daemon-stop-'));
    const config = join(dir, 'config.yml');
    writeFileSync(config, lameConfig(controller.url, token, '          CloudName: daemon-stop-feed\n', controller.feed.url));
    const daemon = spawnDaemon(config);
    try {
      await waitFor('the feed to connect', () => controller.feed.connections().length > 0 || daemon.exitStatus() !== undefined, 30_000, 50);
      const issued = controller.tokens.issued();
      assert.equal(issued.length, 1, daemon.output());
      assert.deepEqual(issued[0].scopes, ['GET /arvados/v1/containers/']);
      assert.deepEqual(controller.feed.connections().map((c) => c.tokenUuid), [issued[0].uuid]);
      const { status } = await daemon.signalAndWait('SIGTERM', STOP_BUDGET_MS);
      assert.equal(status, 0, daemon.output());
      assert.deepEqual(controller.tokens.issued(), [], 'the token outlived the daemon');
      assert.ok(!daemon.output().includes(issued[0].secret), 'the feed token was logged');
    } finally {
      await daemon.kill();
      await controller.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
