/**
 * The real dispatcher with `Driver: loopback`: the config's implicit
 * `localhost` type, the driver through the registry, the SSH executor over
 * the driver's SSH server with its host key check, the boot probe, and
 * crunch-run's command line (a stand-in script on this host that moves the
 * container through the test controller as crunch-run would).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { waitFor } from '../cloud/conformance.js';
import { TestController } from '../fixtures/controller.js';
import { type LoopbackHost, makeLoopbackHost } from '../fixtures/loopback-host.js';
import { loadConfigText } from '../../src/config/index.js';
import { createDispatcher, type Dispatcher } from '../../src/dispatcher.js';
import { createLogger, LineCollector } from '../../src/log.js';

const TOKEN = `tok${randomBytes(24).toString('hex')}`;

describe('loopback driver end to end', function () {
  this.timeout(60_000);
  let controller: TestController;
  let host: LoopbackHost;
  let dispatcher: Dispatcher | undefined;
  let logs: LineCollector;

  beforeEach(async () => {
    controller = new TestController({ rootToken: TOKEN });
    await controller.start();
    host = makeLoopbackHost({ controllerURL: controller.url, rootToken: TOKEN });
    logs = new LineCollector();
  });

  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
    await controller.stop();
    host.cleanup();
  });

  it('the loopback driver runs a container on this host', async () => {
    const { cluster } = loadConfigText(host.configText);
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['localhost']);
    dispatcher = await createDispatcher(cluster, { logger: createLogger({ stream: logs, level: 'debug' }) });
    const c = controller.addContainer({ command: ['sleep', '1'] });
    dispatcher.start();
    await waitFor('the container to complete', () => controller.get(c.uuid)!.state === 'Complete', 30_000, 50);
    assert.equal(controller.get(c.uuid)!.exit_code, 0);
    assert.deepEqual(
      controller.history(c.uuid).map((h) => h.state),
      ['Queued', 'Locked', 'Running', 'Complete'],
    );
    const msgs = logs.records().map((r) => String(r.msg));
    assert.ok(msgs.includes('crunch-run process started'), 'started through crunch-run --detach');
    // Idle for TimeoutIdle, the instance is destroyed, and the host can hold a new one.
    await waitFor('the idle instance to be destroyed', async () => (await dispatcher!.instanceSet.instances({})).length === 0, 20_000, 50);
    const d = controller.addContainer({ command: ['sleep', '0'] });
    await waitFor('a second container to complete on a new instance', () => controller.get(d.uuid)!.state === 'Complete', 30_000, 50);
  });
});
