/**
 * The status page in Chromium against the real management API of a real
 * dispatcher: in-process, on the lame cloud (VMs are SSH servers on
 * 127.0.0.1), against the in-process test controller, as `npm start` runs.
 * The page is served beside `managementHandler` the way the management
 * server mounts it (GET / without auth, everything else to the API), so this
 * checks the page reads the API's real JSON and that hold reaches the pool.
 *
 * Skips (with the reason printed) only when Chromium cannot be launched.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { systemClock } from '../../src/clock/index.js';
import { loadConfigFile } from '../../src/config/index.js';
import { createDispatcher, type Dispatcher } from '../../src/dispatcher.js';
import { againstController, EXAMPLE_CONFIG } from '../../src/demo/run.js';
import { managementHandler } from '../../src/http/api.js';
import { managementTarget } from '../../src/http/server.js';
import { isStatusPagePath, statusPageHandler } from '../../src/http/status-page.js';
import { createLogger } from '../../src/log.js';
import { TestController } from '../fixtures/controller.js';

const OUT = join(fileURLToPath(new URL('../..', import.meta.url)), 'test-output');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const LAUNCH_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

async function waitFor(what: string, fn: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('status page in Chromium (real dispatcher on the lame cloud)', function () {
  this.timeout(90_000);
  let browser: Browser | undefined;
  let skipReason = '';
  let controller: TestController | undefined;
  let dispatcher: Dispatcher | undefined;
  let server: Server | undefined;
  let url = '';
  let token = '';

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      skipReason = `Chromium is not installed at ${CHROMIUM} (npm pretest installs it when run as root with apt-get)`;
      return;
    }
    try {
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 });
    } catch (err) {
      skipReason = `Chromium at ${CHROMIUM} cannot be launched: ${(err as Error).message.split('\n')[0]}`;
      return;
    }
    const { cluster: loaded } = loadConfigFile(EXAMPLE_CONFIG, {});
    token = loaded.ManagementToken;
    const log = createLogger({ level: 'warn', stream: new Writable({ write: (_c, _e, cb) => cb() }), secrets: [loaded.SystemRootToken, token] });
    controller = new TestController({ clusterId: loaded.ClusterID, rootToken: loaded.SystemRootToken, logger: log });
    await controller.start();
    const cluster = againstController(loaded, controller.url, {
      MinBootTime: 200, MaxBootTime: 500,
      ErrorRateCreate: 0, ErrorRateDestroy: 0, CrunchRunCrashRate: 0, BrokenRate: 0, NeverBootRate: 0,
      CapacityErrorTypes: [], QuotaMaxInstances: 0,
      Seed: 7, CloudName: `status-page-${process.pid}`,
    });
    dispatcher = await createDispatcher(cluster, { logger: log, clock: systemClock });
    dispatcher.start();
    // Mounted as the management server is asked to: GET / is the page, without auth.
    const page = statusPageHandler();
    const api = managementHandler(managementTarget(dispatcher));
    server = createServer((req, res) => (req.method === 'GET' && isStatusPagePath(req.url) ? page(req, res) : api(req, res)));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(async () => {
    await browser?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    }
    if (dispatcher && controller) {
      // Leave no lame VM behind. Stopping alone would leave them for the next
      // start to adopt, and killing them while the queue still wants its
      // containers would only make the scheduler create more: so cancel the
      // containers, drain every VM, wait for the cloud to be empty, then stop.
      const d = dispatcher;
      const ctl = controller;
      for (const c of ctl.all()) if (c.state !== 'Complete' && c.state !== 'Cancelled') ctl.cancel(c.uuid, 'test over');
      const tag = `${d.cluster.Containers.CloudVMs.TagKeyPrefix}InstanceSetID`;
      const left = async () => (await d.instanceSet.instances({ [tag]: d.instanceSetId })).length;
      await waitFor('every lame VM to be gone', async () => {
        for (const v of d.pool.instances()) {
          if (v.idleBehavior !== 'drain' && d.pool.detail(v.instance) !== undefined) await d.pool.setIdleBehavior(v.instance, 'drain').catch(() => undefined);
        }
        return (await left()) === 0;
      }, 30_000);
      await d.stop();
    }
    await controller?.stop();
  });

  beforeEach(function () {
    if (!browser) {
      console.log(`      skipped: ${skipReason}`);
      this.skip();
    }
  });

  it('lists the real queue and VMs, and hold reaches the pool', async () => {
    const ctl = controller!;
    const d = dispatcher!;
    const running = ctl.addContainer({ command: ['sleep', '300'], priority: 10, runtime_constraints: { vcpus: 1, ram: 1 << 30 } });
    const big = ctl.addContainer({ command: ['sleep', '300'], priority: 5, runtime_constraints: { vcpus: 1, ram: 1 << 30 } });
    await waitFor('both containers to run', () => ctl.get(running.uuid)!.state === 'Running' && ctl.get(big.uuid)!.state === 'Running', 45_000);

    const ctx = await browser!.newContext({ viewport: { width: 1400, height: 800 } });
    try {
      const page = await ctx.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      await page.fill('#token', token);
      await page.click('#token-save');
      await page.waitForSelector(`#containers tr[data-container="${running.uuid}"]`, { timeout: 10_000 });
      const rowText = await page.textContent(`#containers tr[data-container="${running.uuid}"]`);
      // The API shows the dispatcher's cached queue: Locked until its next poll sees Running. Its
      // position is 1, or 2 while the other is still Locked there (Locked sorts before Running,
      // as in the reference).
      assert.match(rowText ?? '', /^[12]zzzzz-dz642-\w+(Locked|Running)10/);
      // Real instance types carry no Name: the page shows the provider type and price.
      assert.match(rowText ?? '', /\(\$\d+\.\d{3}\)/);

      const vms = d.pool.instances().filter((v) => d.pool.detail(v.instance) !== undefined);
      assert.ok(vms.length >= 1);
      const busy = vms.find((v) => v.runningContainerUUIDs.includes(running.uuid)) ?? vms[0]!;
      const row = `#instances tr[data-instance="${busy.instance}"]`;
      await page.waitForSelector(row);
      assert.match(await page.textContent(row) ?? '', new RegExp(running.uuid));
      const rows = await page.$$eval('#instances tbody tr[data-instance]', (r) => r.length);
      assert.equal(await page.textContent('#total-instances .big'), String(rows));
      // The controller card, read from the daemon's own /metrics.json.
      assert.equal(await page.textContent('#total-controller .big'), 'normal');
      assert.match((await page.textContent('#total-controller')) ?? '', new RegExp(`concurrency limit: ${d.scheduler.maxContainers || 'none'}\nlast 503: never`));
      // No Services.Websocket.ExternalURL in this config: the feed card says so.
      assert.equal(await page.textContent('#total-feed .big'), 'disabled');
      assert.match((await page.textContent('#total-feed')) ?? '', /new containers wait for the next poll/);
      // The cost card: the daemon's cost-per-hour gauge, and what its VMs have spent (their `cost` fields).
      assert.match((await page.textContent('#total-cost .big + .small')) ?? '', /^at current prices \(spot where known\)\nspent by these VMs: \$\d+\.\d{3}$/);

      await page.click(`${row} button[data-action="hold"]`);
      await page.waitForSelector(`${row} td.beh-hold`, { timeout: 10_000 });
      assert.equal(d.pool.instances().find((v) => v.instance === busy.instance)?.idleBehavior, 'hold');
      await page.click(`${row} button[data-action="run"]`);
      await page.waitForSelector(`${row} td.beh-run`, { timeout: 10_000 });
      assert.equal(d.pool.instances().find((v) => v.instance === busy.instance)?.idleBehavior, 'run');

      // The charts of the last hours, from this dispatcher's history (it samples once at start).
      await page.waitForSelector('#charts figure[data-group="vms"] canvas', { timeout: 10_000 });
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, 'status-page-dispatcher.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await ctx.close();
    }
  });
});
