/**
 * The status page's charts in Chromium: a `History` stepped through two
 * hours of a scripted cluster by a ManualClock (a queue burst, VMs booting
 * for it, throttling by the cloud, a controller overload), served by the
 * real management API handler with the page and its files mounted as the
 * management server mounts them (before the auth check). The test types the
 * token and checks the six charts drew their data (each chart's first
 * series' colour on its canvas), their titles and legends, that the
 * Content-Security-Policy blocked nothing, and saves a screenshot to
 * test-output/status-page-charts.png.
 *
 * Skips (with the reason printed) only when Chromium cannot be launched.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { ManualClock } from '../../src/clock/index.js';
import { CapacityError, RateLimitError } from '../../src/cloud/errors.js';
import { History } from '../../src/history/history.js';
import { managementHandler, type ManagementTarget } from '../../src/http/api.js';
import { isStatusPagePath, statusPageHandler } from '../../src/http/status-page.js';
import { createLogger } from '../../src/log.js';
import { launchChromium } from '../fixtures/chromium.js';
import { FakeHistorySources } from '../fixtures/history-sources.js';

const OUT = join(fileURLToPath(new URL('../..', import.meta.url)), 'test-output');
const TOKEN = 'charts-test-management-token';
const T0 = Date.UTC(2026, 10, 1, 10, 0);
const SAMPLES = 240;

/** Sample i of the scripted cluster: a burst of work from sample 60 to 140, then quiet. */
function script(f: FakeHistorySources, history: History, i: number): void {
  const queued = i >= 60 && i < 140 ? Math.round(20 * Math.sin((Math.PI * (i - 60)) / 80)) : 0;
  const running = Math.max(0, Math.round(8 + 6 * Math.sin(i / 25)));
  const booting = queued > 0 ? Math.min(5, Math.ceil(queued / 4)) : 0;
  const idle = i % 50 < 10 ? 3 : 1;
  const hold = i >= 180 ? 1 : 0;
  f.setContainers({ Queued: queued, Locked: queued > 0 ? 2 : 0, Running: running });
  f.setVMs({ inuse: running, idle, booting, hold, unknown: i >= 100 && i < 104 ? 2 : 0 });
  f.longestWaitSeconds = queued > 0 ? 120 + (i - 60) * 18 : 20;
  f.costPerHour = running * 0.192 + idle * 0.096 + booting * 0.192 + hold * 0.768;
  for (let k = 0; k < 2; k++) history.observePool({ type: 'crunchRunStarted', instanceId: 'i', containerUUID: 'c', sinceQueuedMs: (queued > 0 ? 300 + queued * 30 : 45) * 1000 });
  if (i >= 90 && i < 100) for (let k = 0; k < 2; k++) history.observeCloud(new RateLimitError('throttled', 0));
  if (i >= 150 && i < 153) for (let k = 0; k < 3; k++) history.observeCloud(new CapacityError('no capacity'));
  if (i === 200) history.observeCloud(new Error('boom'));
  f.requests.ok += 10;
  if (i >= 120 && i < 126) f.requests.overload += 4;
  if (i === 123) f.requests.failed += 2;
}

/**
 * Run in the page: for each chart, how many canvas pixels have its first
 * series' colour (a line 1.5 px wide is antialiased, so near it counts).
 */
const COLOUR_PIXELS = `(() => {
  const want = {
    vms: [0x1b, 0x7a, 0x2f], containers: [0x8a, 0x8f, 0x98], queue_wait_seconds: [0xcb, 0x4b, 0x16],
    cost_per_hour_dollars: [0x6c, 0x71, 0xc4], cloud_errors_per_minute: [0xb5, 0x89, 0x00], controller_errors_per_minute: [0xcb, 0x4b, 0x16],
  };
  return Array.from(document.querySelectorAll('#charts figure.chart'), (fig) => {
    const [r, g, b] = want[fig.dataset.group];
    const canvas = fig.querySelector('canvas');
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 60 && px[i + 3] > 200) n++;
    return [fig.dataset.group, n];
  });
})()`;

function target(history: History): ManagementTarget {
  return {
    managementToken: TOKEN,
    logger: createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, cb) => cb() }) }),
    queueView: () => [],
    instances: () => [],
    killContainer: () => false,
    setIdleBehavior: async () => undefined,
    killInstance: () => undefined,
    checkHealth: () => undefined,
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    metricsJSON: async () => '[]',
    history: () => history.json(),
  };
}

describe('status page charts in Chromium (a history stepped by a manual clock)', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let skipReason = '';
  let server: Server | undefined;
  let url = '';

  before(async function () {
    const clock = new ManualClock(T0);
    const fake = new FakeHistorySources();
    const history = new History({ clock, sources: fake.sources(), logger: target(undefined as never).logger });
    script(fake, history, 0);
    history.start();
    for (let i = 1; i < SAMPLES; i++) {
      script(fake, history, i);
      await clock.advance(history.intervalMs);
    }
    history.stop();
    assert.equal(history.json().times.length, SAMPLES);

    // Mounted as startManagementServer mounts them: the page and its files before the auth check.
    const page = statusPageHandler();
    const api = managementHandler(target(history), {
      before: (req, res) => {
        if ((req.method !== 'GET' && req.method !== 'HEAD') || !isStatusPagePath(req.url)) return false;
        page(req, res);
        return true;
      },
    });
    server = createServer(api);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

    const launched = await launchChromium();
    if ('browser' in launched) browser = launched.browser;
    else skipReason = launched.skipReason;
  });

  after(async () => {
    await browser?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    }
  });

  beforeEach(function () {
    if (!browser) {
      console.log(`      skipped: ${skipReason}`);
      this.skip();
    }
  });

  it('draws the six charts of the last hours, with their legends, under the page\'s CSP', async () => {
    const ctx = await browser!.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      const page = await ctx.newPage();
      const errors: string[] = [];
      const blocked: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        // The browser asks for /favicon.ico on its own; the page has none.
        if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) blocked.push(`${m.text()} (${m.location().url})`);
      });
      await page.goto(url);
      await page.fill('#token', TOKEN);
      await page.click('#token-save');
      // A selector, not waitForFunction: once the condition is not true at once, Playwright polls it
      // with an eval the page's CSP forbids (so that failed only when the page was slow to draw).
      await page.locator('#charts figure.chart canvas').nth(5).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator('#charts figure.chart canvas').count(), 6);

      const captions = await page.$$eval('#charts figcaption', (f) => f.map((x) => x.textContent));
      assert.deepEqual(captions, ['VMs by state', 'Containers by state', 'Queue wait', 'Cost per hour', 'Cloud errors per minute', 'Controller errors per minute']);
      const legends = await page.evaluate(`Array.from(document.querySelectorAll('#charts figure.chart'), (f) =>
        Array.from(f.querySelectorAll('.u-legend .u-series .u-label'), (l) => l.textContent))`);
      assert.deepEqual(legends, [
        ['Time', 'in use', 'idle', 'booting', 'hold', 'unknown'],
        ['Time', 'queued', 'locked', 'running'],
        ['Time', 'longest waiting now', 'median of those started'],
        ['Time', 'VMs alive'],
        ['Time', 'rate limit', 'quota', 'capacity', 'other'],
        ['Time', 'overload (503, 429)', 'no answer'],
      ]);
      assert.equal(await page.textContent('#charts-note'), 'one sample every 30 s, the last 6 h kept');

      // Each chart's first series was drawn: its colour covers a good few pixels of the canvas.
      const drawn = (await page.evaluate(COLOUR_PIXELS)) as Array<[string, number]>;
      for (const [group, n] of drawn) assert.ok(n >= 40, `${group}: only ${n} pixels of its first series' colour`);

      // Hovering shows the values under the cursor: the cost chart at its right edge reads the last sample's cost.
      const plot = page.locator('#charts figure[data-group="cost_per_hour_dollars"] .u-over');
      const box = (await plot.boundingBox())!;
      await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
      // Sample 239: 8 + 6 sin(239/25) rounds to 7 in use, with 1 idle and 1 on hold: $2.208.
      assert.equal(await page.textContent('#charts figure[data-group="cost_per_hour_dollars"] .u-legend .u-series:nth-child(2) .u-value'), '$2.21');

      mkdirSync(OUT, { recursive: true });
      await page.mouse.move(0, 0);
      await page.locator('#charts').screenshot({ path: join(OUT, 'status-page-charts.png') });
      assert.deepEqual(errors, []);
      assert.deepEqual(blocked, []);
    } finally {
      await ctx.close();
    }
  });
});
