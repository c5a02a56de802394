/**
 * The status page in a real browser (Debian's Chromium driven by
 * playwright-core) against a fake management API: an in-memory set of VMs
 * and containers served with the JSON shapes of ARVADOS.md section 7, with
 * the same auth rules, recording every POST. The test types the token, reads
 * the tables, clicks hold and kill, checks the fake saw them, and checks the
 * page stays quick with 10,000 queued containers and 1,000 VMs.
 *
 * Skips (with the reason printed) only when Chromium cannot be launched;
 * `npm pretest` (scripts/ensure-chromium.mjs) installs it when it can.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { isStatusPagePath, statusPageHandler } from '../../src/http/status-page.js';
import type { InstanceViewJSON } from '../../src/http/format.js';
import { createInFlightJSON } from '../fixtures/instance-views.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, 'test-output');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TOKEN = 'mgmt-token-for-the-test';
const API = '/arvados/v1/dispatch/';

/** The fake serves the real API's instance records, so the two cannot drift apart. */
export type FakeVM = InstanceViewJSON;

export interface FakeEntry {
  container: { uuid: string; state: string; priority: number; runtime_constraints: Record<string, unknown>; [k: string]: unknown };
  instance_types: Array<{ Name: string; Price: number; VCPUs: number; RAM: number; [k: string]: unknown }>;
  instance_resources: Record<string, unknown>;
  first_seen_at: string;
  scheduling_status: string;
}

interface Posted {
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
}

/** A management API with the section 7 shapes and auth, over in-memory state. */
class FakeManagementAPI {
  readonly posts: Posted[] = [];
  vms: FakeVM[] = [];
  queue: FakeEntry[] = [];
  /** GET container answers with these fields added to the queue entry (a blocker, an estimate, suggestions). */
  extra = new Map<string, Record<string, unknown>>();
  /** GET container/timeline answers; a container without one answers 404. */
  timelines = new Map<string, unknown>();
  /** The body of /metrics.json (the reference's MetricFamily JSON); undefined answers 404, as a dispatcher without it. */
  metrics: unknown[] | undefined;
  private server?: Server;
  private readonly page = statusPageHandler();
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    // The page and the files it loads (its scripts, the charts), as the management server serves them.
    if (isStatusPagePath(req.url) && req.method === 'GET') return this.page(req, res);
    if (!u.pathname.startsWith(API) && u.pathname !== '/metrics.json') return this.json(res, 404, { errors: ['not found'] });
    const auth = req.headers.authorization;
    if (!auth) return this.json(res, 401, { errors: ['unauthorized'] });
    if (auth !== `Bearer ${TOKEN}`) return this.json(res, 403, { errors: ['forbidden'] });
    if (u.pathname === '/metrics.json') return this.metrics ? this.json(res, 200, this.metrics) : this.json(res, 404, { errors: ['not found'] });
    const route = `${req.method} ${u.pathname.slice(API.length)}`;
    const q = Object.fromEntries(u.searchParams);
    if (req.method === 'POST') this.posts.push({ path: u.pathname, query: q, authorization: auth });
    switch (route) {
      case 'GET instances':
        return this.json(res, 200, { items: this.vms });
      case 'GET containers':
        return this.json(res, 200, { items: this.queue });
      case 'GET container': {
        const e = this.queue.find((x) => x.container.uuid === q.container_uuid);
        return e ? this.json(res, 200, { ...e, ...this.extra.get(e.container.uuid) }) : this.json(res, 404, { errors: ['container not found'] });
      }
      case 'GET container/timeline': {
        const t = this.timelines.get(q.container_uuid ?? '');
        return t ? this.json(res, 200, t) : this.json(res, 404, { errors: ['container not found'] });
      }
      case 'POST instances/hold':
      case 'POST instances/drain':
      case 'POST instances/run':
      case 'POST instances/kill': {
        if (!q.instance_id) return this.json(res, 400, { errors: ['instance_id missing'] });
        const vm = this.vms.find((v) => v.instance === q.instance_id);
        if (!vm) return this.json(res, 404, { errors: ['no such instance'] });
        const what = route.slice('POST instances/'.length);
        if (what === 'kill') vm.worker_state = 'shutdown';
        else vm.idle_behavior = what;
        return this.json(res, 200, {});
      }
      case 'POST containers/kill': {
        const e = this.queue.find((x) => x.container.uuid === q.container_uuid);
        if (!e || !this.vms.some((v) => v.running_container_uuids?.includes(q.container_uuid!))) {
          return this.json(res, 404, { errors: ['container is not running'] });
        }
        return this.json(res, 200, {});
      }
      default:
        return this.json(res, 404, { errors: ['not found'] });
    }
  }
}

const TYPES = [
  { Name: 'small', ProviderType: 'm5.large', Price: 0.096, VCPUs: 2, RAM: 8 << 30 },
  { Name: 'medium', ProviderType: 'm5.xlarge', Price: 0.192, VCPUs: 4, RAM: 16 << 30 },
  { Name: 'large', ProviderType: 'm5.4xlarge', Price: 0.768, VCPUs: 16, RAM: 64 << 30 },
];
const T0 = Date.parse('2026-11-01T12:00:00Z');

function uuid(i: number): string {
  return `zzzzz-dz642-${i.toString().padStart(15, '0')}`;
}

/** `nVMs` VMs and `nContainers` queue entries; the first VMs run the first containers. */
function fill(api: FakeManagementAPI, nVMs: number, nContainers: number): void {
  const states = ['running', 'idle', 'booting', 'running', 'unknown'];
  api.vms = [];
  api.queue = [];
  for (let i = 0; i < nContainers; i++) {
    const t = TYPES[i % TYPES.length]!;
    const running = i < Math.min(nVMs, nContainers) && states[i % states.length] === 'running';
    api.queue.push({
      container: {
        uuid: uuid(i),
        state: running ? 'Running' : i % 7 === 0 ? 'Locked' : 'Queued',
        priority: 1000 - (i % 1000),
        runtime_constraints: { vcpus: t.VCPUs, ram: t.RAM },
        command: ['echo', String(i)],
      },
      instance_types: TYPES.slice(TYPES.indexOf(t)),
      instance_resources: {},
      first_seen_at: new Date(T0 + i * 1000).toISOString(),
      scheduling_status: running ? '' : `waiting for a ${t.Name} instance to boot and be ready`,
    });
  }
  for (let i = 0; i < nVMs; i++) {
    const t = TYPES[i % TYPES.length]!;
    const st = states[i % states.length]!;
    api.vms.push({
      instance: `vm-${i}`,
      address: `10.0.${(i >> 8) & 255}.${i & 255}`,
      price: t.Price,
      arvados_instance_type: t.Name,
      provider_instance_type: t.ProviderType,
      last_container_uuid: i < nContainers ? uuid(i) : '',
      last_busy: st === 'running' ? new Date(T0).toISOString() : '0001-01-01T00:00:00Z',
      running_container_uuids: st === 'running' && i < nContainers ? [uuid(i)] : [],
      worker_state: st,
      idle_behavior: 'run',
    });
  }
}

const LAUNCH_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

describe('status page in Chromium (fake management API)', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;
  let skipReason = '';
  const api = new FakeManagementAPI();

  before(async () => {
    await api.start();
    if (!existsSync(CHROMIUM)) {
      skipReason = `Chromium is not installed at ${CHROMIUM} (npm pretest installs it when run as root with apt-get)`;
      return;
    }
    try {
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 });
    } catch (err) {
      skipReason = `Chromium at ${CHROMIUM} cannot be launched: ${(err as Error).message.split('\n')[0]}`;
    }
  });

  after(async () => {
    await browser?.close();
    await api.stop();
  });

  beforeEach(function () {
    if (!browser) {
      console.log(`      skipped: ${skipReason}`);
      this.skip();
    }
  });

  async function openPage(): Promise<{ ctx: BrowserContext; page: Page; problems: string[] }> {
    const ctx = await browser!.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // 401/403 answers are the test's own doing; the favicon is not served.
      if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.goto(api.url);
    return { ctx, page, problems };
  }

  async function typeToken(page: Page, token: string): Promise<void> {
    await page.fill('#token', token);
    await page.click('#token-save');
  }

  it('asks for the token, explains 403, lists VMs and queue, and holds a VM', async () => {
    fill(api, 6, 12);
    // Ours: a VM a warm pool created, and one drain to save empties.
    api.vms[1]!.note = 'warm pool 0 (small)';
    api.vms[3]!.draining = { since: new Date(T0).toISOString(), reason: 'running 1 of 8 VCPUs; its 1 container would fit on other instances' };
    // User-controlled fields carrying markup must show as text and never run.
    api.queue[3]!.scheduling_status = '<img src=x onerror="window.__xss=1">';
    api.queue[4]!.instance_types = [{ Name: '<script>window.__xss=2</script>', Price: 1, VCPUs: 1, RAM: 1 }];
    api.posts.length = 0;
    const { ctx, page, problems } = await openPage();
    try {
      await page.waitForSelector('#message:has-text("management token")');

      await typeToken(page, 'not-the-token');
      await page.waitForSelector('#message:has-text("403")');
      assert.match(await page.textContent('#message') ?? '', /refused this token/);

      await typeToken(page, TOKEN);
      await page.waitForSelector('#instances tr[data-instance="vm-5"]');
      await page.waitForSelector('#containers tr[data-container]');
      assert.equal(await page.textContent('#message'), '');

      // Token only in this tab's sessionStorage; the field is emptied.
      const stored = await page.evaluate("[sessionStorage.length, localStorage.length, document.getElementById('token').value]");
      assert.deepEqual(stored, [1, 0, '']);

      // Every VM, with its state, behaviour, type and price.
      const vmIds = await page.$$eval('#instances tbody tr', (rows) => rows.map((r) => r.getAttribute('data-instance')));
      assert.deepEqual(vmIds, api.vms.map((v) => v.instance));
      const vm0 = await page.$$eval('#instances tr[data-instance="vm-0"] td', (tds) => tds.map((td) => td.textContent));
      assert.deepEqual(vm0.slice(0, 7), ['vm-0', 'running', 'run', 'small', 'm5.large', '$0.096', uuid(0)]);
      // Why a VM was created ahead of work, and why it gets no new work, under its id.
      assert.equal(await page.textContent('#instances tr[data-instance="vm-1"] td:first-child .note'), 'warm pool 0 (small)');
      assert.equal(await page.textContent('#instances tr[data-instance="vm-3"] td:first-child .draining'), 'draining: running 1 of 8 VCPUs; its 1 container would fit on other instances');

      // The queue in scheduling order, with the fields the operator needs.
      const order = await page.$$eval('#containers tbody tr', (rows) => rows.map((r) => r.getAttribute('data-container')));
      assert.deepEqual(order, api.queue.map((e) => e.container.uuid));
      const c1 = await page.$$eval(`#containers tr[data-container="${uuid(1)}"] td`, (tds) => tds.map((td) => td.textContent));
      assert.deepEqual(c1.slice(0, 5), ['2', uuid(1), 'Queued', '999', 'medium ($0.192), large ($0.768)']);
      assert.equal(c1[6], 'waiting for a medium instance to boot and be ready');

      // Totals: VMs by state, cost per hour, containers by state.
      const totals = await page.textContent('#totals');
      assert.match(totals ?? '', /VMs6running: 3\nidle: 1\nbooting: 1\nunknown: 1/);
      const cost = api.vms.reduce((s, v) => s + v.price, 0);
      assert.equal(await page.textContent('#total-cost .big'), `$${cost.toFixed(3)}`);
      assert.equal(await page.textContent('#total-containers .big'), '12');

      // The markup shows as text and ran nothing.
      assert.equal(await page.textContent(`#containers tr[data-container="${uuid(3)}"] td.status`), '<img src=x onerror="window.__xss=1">');
      assert.match(await page.textContent(`#containers tr[data-container="${uuid(4)}"]`) ?? '', /<script>window.__xss=2<\/script>/);
      assert.equal(await page.evaluate('typeof window.__xss'), 'undefined');
      assert.equal(await page.$$eval('#containers img, #containers script', (e) => e.length), 0);

      // Hold a VM: the API gets the POST with the token, and the page shows it.
      await page.click('#instances tr[data-instance="vm-1"] button[data-action="hold"]');
      await page.waitForSelector('#message:has-text("vm-1 is now on hold")');
      assert.deepEqual(api.posts, [{ path: `${API}instances/hold`, query: { instance_id: 'vm-1' }, authorization: `Bearer ${TOKEN}` }]);
      assert.equal(api.vms[1]!.idle_behavior, 'hold');
      await page.waitForSelector('#instances tr[data-instance="vm-1"] td.beh-hold');
      assert.equal(await page.isDisabled('#instances tr[data-instance="vm-1"] button[data-action="hold"]'), true);

      // Kill a running container, after confirming.
      page.once('dialog', (d) => void d.accept());
      await page.click(`#containers tr[data-container="${uuid(0)}"] button[data-action="kill-container"]`);
      await page.waitForSelector('#message:has-text("was sent SIGTERM")');
      const kill = api.posts[1] as Posted;
      assert.equal(kill.path, `${API}containers/kill`);
      assert.equal(kill.query.container_uuid, uuid(0));

      // Declining the confirmation sends nothing.
      page.once('dialog', (d) => void d.dismiss());
      await page.click('#instances tr[data-instance="vm-2"] button[data-action="kill-instance"]');
      await page.waitForTimeout(200);
      assert.equal(api.posts.length, 2);

      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, 'status-page.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  it('shows creates in flight (empty instance id, as the reference lists them) without hold or kill buttons', async () => {
    fill(api, 2, 0);
    const creating = (t: (typeof TYPES)[number]): FakeVM => createInFlightJSON({ name: t.Name, providerType: t.ProviderType, price: t.Price });
    api.vms.unshift(creating(TYPES[0]!), creating(TYPES[1]!));
    api.vms[3]!.worker_state = 'shutdown';
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#instances tr[data-instance="vm-1"]');
      const rows = await page.$$eval('#instances tbody tr', (trs) =>
        trs.map((tr) => [tr.getAttribute('data-instance'), tr.querySelector('td')?.textContent, tr.querySelectorAll('button').length]),
      );
      assert.deepEqual(rows, [
        ['', '(being created)', 0],
        ['', '(being created)', 0],
        ['vm-0', 'vm-0', 4],
        ['vm-1', 'vm-1', 4],
      ]);
      assert.equal(await page.textContent('#instances tr[data-instance="vm-1"] td:nth-child(2)'), 'shutdown');
      assert.match((await page.textContent('#totals')) ?? '', /VMs4booting: 2\nrunning: 1\nshutdown: 1/);
      assert.equal(await page.$$eval('#total-controller', (e) => e.length), 0, 'no /metrics.json (404): no controller card, nothing else amiss');
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  it('shows why fewer containers run: the controller state, the concurrency limit and the last 503; and the event feed', async () => {
    fill(api, 2, 2);
    const gauge = (name: string, value: number, label?: [string, string]) => ({
      ...(label ? { label: [{ name: label[0], value: label[1] }] } : {}),
      gauge: { value },
    });
    const family = (name: string, metric: unknown[]) => ({ name: `arvados_dispatchcloud_${name}`, help: '', type: 'GAUGE', metric });
    const last503 = Math.floor(Date.now() / 1000) - 30;
    const counter = (kind: string, value: number) => ({ label: [{ name: 'kind', value: kind }], counter: { value } });
    const health = (state: string, limit: number, feed = 'connected', token = 'own', deaf = 0) => [
      family('controller_state', ['normal', 'outage', 'overload'].map((st) => gauge('', st === state ? 1 : 0, ['state', st]))),
      family('last_503_time', [gauge('', last503)]),
      family('max_concurrent_containers', [gauge('', limit)]),
      family('event_feed_state', ['disabled', 'connecting', 'connected', 'unavailable', 'stopped'].map((st) => gauge('', st === feed ? 1 : 0, ['state', st]))),
      { ...family('event_feed_messages_total', [counter('container', 42), counter('other', 7), counter('garbage', 0)]), type: 'COUNTER' },
      { ...family('event_feed_refreshes_total', [counter('refresh', 12), counter('poll', 1)]), type: 'COUNTER' },
      family('event_feed_token', ['none', 'own', 'root'].map((st) => gauge('', st === token ? 1 : 0, ['state', st]))),
      { ...family('event_feed_deaf_total', [{ counter: { value: deaf } }]), type: 'COUNTER' },
    ];
    api.metrics = health('overload', 3);
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-controller');
      assert.equal(await page.textContent('#total-controller .big'), 'overload');
      const small = (await page.textContent('#total-controller .big + .small')) ?? '';
      assert.match(small, /^concurrency limit: 3\nlast 503: 3\ds ago\n503s while other requests succeed/);
      assert.equal(await page.textContent('#total-feed .big'), 'connected');
      assert.equal(await page.textContent('#total-feed .big + .small'), 'container events: 42, refreshes: 12\ntoken: its own, read-only, renewed hourly');
      api.metrics = health('outage', 3, 'unavailable', 'root', 2);
      await page.waitForSelector('#total-controller.ctl-outage', { timeout: 12_000 });
      assert.match((await page.textContent('#total-controller')) ?? '', /every request failing/);
      assert.equal(await page.textContent('#total-feed .big'), 'unavailable');
      assert.match((await page.textContent('#total-feed')) ?? '', /down: dispatching from polls only, retrying/);
      assert.match((await page.textContent('#total-feed')) ?? '', /token: the SystemRootToken \(arvados-ws and its proxy log it\)/);
      assert.match((await page.textContent('#total-feed')) ?? '', /found deaf 2 times \(connected, no event while polls found new containers\): reconnected/);
      assert.deepEqual(problems, []);
    } finally {
      api.metrics = undefined;
      await ctx.close();
    }
  });

  it('shows what the VMs cost: the cost-per-hour gauge at current prices, and what the listed VMs have spent', async () => {
    fill(api, 3, 1);
    api.vms[0]!.cost = 1.25;
    api.vms[1]!.cost = 0.5;
    const gauge = (name: string, value: number) => ({ name: `arvados_dispatchcloud_${name}`, help: '', type: 'GAUGE', metric: [{ gauge: { value } }] });
    api.metrics = [gauge('max_concurrent_containers', 0), gauge('cost_per_hour_dollars', 0.1234)];
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-cost .small:has-text("current prices")');
      assert.equal(await page.textContent('#total-cost .big'), '$0.123');
      assert.equal(await page.textContent('#total-cost .big + .small'), 'at current prices (spot where known)\nspent by these VMs: $1.750');
      assert.deepEqual(problems, []);
    } finally {
      api.metrics = undefined;
      await ctx.close();
    }
  });

  it('shows spot reclaims by type and zone, the containers lost, and each type\'s recent rate', async () => {
    fill(api, 2, 1);
    const counter = (labels: Record<string, string>, value: number) => ({ label: Object.entries(labels).map(([name, v]) => ({ name, value: v })), counter: { value } });
    const family = (name: string, type: string, metric: unknown[]) => ({ name: `arvados_dispatchcloud_${name}`, help: '', type, metric });
    api.metrics = [
      family('max_concurrent_containers', 'GAUGE', [{ gauge: { value: 0 } }]),
      family('instances_reclaimed_total', 'COUNTER', [
        counter({ instance_type: 'm5.spot', zone: 'a', preemptible: 'true' }, 3),
        counter({ instance_type: 'r5.spot', zone: 'b', preemptible: 'true' }, 1),
      ]),
      family('containers_lost_to_reclaims_total', 'COUNTER', [counter({ instance_type: 'm5.spot', zone: 'a' }, 2), counter({ instance_type: 'r5.spot', zone: 'b' }, 0)]),
      family('instance_type_reclaim_rate', 'GAUGE', [{ label: [{ name: 'instance_type', value: 'm5.spot' }], gauge: { value: 0.25 } }]),
    ];
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-reclaims');
      assert.equal(await page.textContent('#total-reclaims .big'), '4');
      assert.equal(
        await page.textContent('#total-reclaims .big + .small'),
        'm5.spot @ a: 3 VMs, 2 containers lost\nr5.spot @ b: 1 VMs, 0 containers lost\nm5.spot recently reclaimed: 25%',
      );
      assert.deepEqual(problems, []);
    } finally {
      api.metrics = undefined;
      await ctx.close();
    }
  });

  it('shows the spending cap and the day\'s forecast under the cost, only when a level is set', async () => {
    fill(api, 2, 1);
    const gauge = (name: string, value: number) => ({ name: `arvados_dispatchcloud_${name}`, help: '', type: 'GAUGE', metric: [{ gauge: { value } }] });
    const levels = (soft: number, hard: number) => ({
      name: 'arvados_dispatchcloud_spending_cap_dollars_per_hour',
      help: '',
      type: 'GAUGE',
      metric: [
        { label: [{ name: 'level', value: 'soft' }], gauge: { value: soft } },
        { label: [{ name: 'level', value: 'hard' }], gauge: { value: hard } },
      ],
    });
    api.metrics = [gauge('max_concurrent_containers', 0), gauge('cost_per_hour_dollars', 38.5), levels(30, 40), gauge('spend_forecast_dollars', 612.25)];
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-cost .small:has-text("spending cap")');
      assert.equal(await page.textContent('#total-cost .big'), '$38.500');
      assert.equal(await page.textContent('#total-cost .big + .small'), 'at current prices (spot where known)\nspending cap: soft $30.000/h, hard $40.000/h\nforecast today: $612');
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
    // Off: the levels read 0, and the card says nothing of a cap.
    api.metrics = [gauge('max_concurrent_containers', 0), gauge('cost_per_hour_dollars', 1), levels(0, 0), gauge('spend_forecast_dollars', 0)];
    const second = await openPage();
    try {
      await typeToken(second.page, TOKEN);
      await second.page.waitForSelector('#total-cost .small:has-text("current prices")');
      assert.equal(await second.page.textContent('#total-cost .big + .small'), 'at current prices (spot where known)');
      assert.deepEqual(second.problems, []);
    } finally {
      api.metrics = undefined;
      await second.ctx.close();
    }
  });

  it('shows why a container waits: the blocker in words, what is ahead, the price cap, the estimate, and the timeline as a bar', async () => {
    fill(api, 2, 4);
    const u = uuid(2);
    const now = Date.now();
    api.extra.set(u, {
      blocker: {
        reason: 'types_at_capacity',
        position: 1,
        types: [{ name: 'large', scope: 'type', since: new Date(now - 120_000).toISOString(), error: 'InsufficientInstanceCapacity' }],
        ahead: { containers: 3, vcpus: 48, ram_bytes: 192 * 2 ** 30 },
        price_cap: { maximum_price_factor: 1.5, types: [{ name: 'xlarge', price: 1.536, now: 'can be created' }] },
        summary: 'every eligible instance type is at capacity: large since 11:58:00: InsufficientInstanceCapacity',
      },
      estimate: { start_low: new Date(now + 4 * 60_000).toISOString(), start_typical: new Date(now + 6 * 60_000).toISOString(), start_high: new Date(now + 9 * 60_000).toISOString() },
      suggestions: [{ change: 'MaximumPriceFactor 2.0', effect: 'would let it use xlarge now' }],
    });
    const at = (s: number): string => new Date(now - s * 1000).toISOString();
    api.timelines.set(u, {
      container_uuid: u,
      events: [
        { at: at(300), kind: 'first_seen', state: 'Queued', priority: 998 },
        { at: at(299), kind: 'locked' },
        { at: at(240), kind: 'vm_requested', instance_type: 'large' },
      ],
      phases: [
        { phase: 'queued', from: at(300), to: at(299), duration_ms: 1000 },
        { phase: 'locked', from: at(299), to: at(240), duration_ms: 59_000 },
        { phase: 'vm_requested', from: at(240), to: null, duration_ms: 240_000 },
      ],
      dropped_events: 0,
    });
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.click(`#containers tr[data-container="${u}"] button[data-action="why"]`);
      await page.waitForSelector('#detail:not([hidden]) #detail-events tr');
      assert.equal(await page.textContent('#detail-uuid'), u);
      const facts = await page.$$eval('#detail-facts dt, #detail-facts dd', (els) => els.map((e) => e.textContent));
      assert.deepEqual(facts, [
        'state', 'Queued, priority 998',
        'status', 'waiting for a large instance to boot and be ready',
        'why', 'every eligible instance type is at capacity: large since 11:58:00: InsufficientInstanceCapacity',
        'ahead', '3 waiting containers that can use its types, needing 48 VCPUs and 192.0 GiB',
        'price cap', 'MaximumPriceFactor 1.5 leaves out xlarge ($1.536/h, can be created)',
        'estimate', 'starts in about 6 min (4\u20139 min)',
        'would help', 'MaximumPriceFactor 2.0: would let it use xlarge now',
      ]);
      // The bar: one segment per phase, widths in proportion to the durations.
      const segments = await page.$$eval('#detail-bar div', (ds) => ds.map((d) => [d.getAttribute('data-phase'), Math.round(d.getBoundingClientRect().width)]));
      assert.deepEqual(segments.map((s) => s[0]), ['queued', 'locked', 'vm_requested']);
      const widths = segments.map((s) => Number(s[1]));
      assert.ok(widths[2]! > widths[1]! * 3 && widths[1]! > widths[0]! * 10, `widths ${widths.join(', ')}`);
      const events = await page.$$eval('#detail-events tr', (rows) => rows.map((r) => r.children[1]?.textContent));
      assert.deepEqual(events, ['first_seen', 'locked', 'vm_requested']);
      mkdirSync(OUT, { recursive: true });
      await page.locator('#detail').screenshot({ path: join(OUT, 'status-page-container-why.png') });
      // A container with no timeline still shows why.
      await page.click(`#containers tr[data-container="${uuid(3)}"] button[data-action="why"]`);
      // A selector, not waitForFunction: the page's CSP forbids the eval that would take.
      await page.waitForSelector(`#detail-uuid:text-is("${uuid(3)}")`);
      assert.equal(await page.$$eval('#detail-events tr', (r) => r.length), 0);
      await page.click('#detail-close');
      assert.equal(await page.getAttribute('#detail', 'hidden'), '');
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  it('refreshes by itself', async () => {
    fill(api, 3, 3);
    const { ctx, page } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#instances tr[data-instance="vm-2"]');
      api.vms[2]!.idle_behavior = 'drain';
      api.queue.push({ ...api.queue[0]!, container: { ...api.queue[0]!.container, uuid: uuid(99) } });
      await page.waitForSelector('#instances tr[data-instance="vm-2"] td.beh-drain', { timeout: 12_000 });
      await page.waitForSelector(`#containers tr[data-container="${uuid(99)}"]`, { timeout: 2_000 });
    } finally {
      await ctx.close();
    }
  });

  it('shows the first page and the totals of 10,000 containers and 1,000 VMs within 2 s', async () => {
    fill(api, 1000, 10_000);
    const { ctx, page, problems } = await openPage();
    try {
      const t0 = Date.now();
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-containers .big:text-is("10000")', { timeout: 5_000 });
      await page.waitForSelector('#total-instances .big:text-is("1000")', { timeout: 5_000 });
      const elapsed = Date.now() - t0;
      assert.equal(await page.$$eval('#containers tbody tr', (r) => r.length), 100);
      assert.equal(await page.$$eval('#instances tbody tr', (r) => r.length), 100);
      assert.match(await page.textContent('#containers-range') ?? '', /^1–100 of 10000, page 1\/100$/);
      assert.ok(elapsed < 2000, `first render took ${elapsed} ms`);

      // Paging and filtering stay quick.
      const t1 = Date.now();
      await page.click('.controls[data-table="containers"] button[data-page="last"]');
      assert.match(await page.textContent('#containers-range') ?? '', /^9901–10000 of 10000/);
      assert.equal(await page.getAttribute('#containers tbody tr:last-child', 'data-container'), uuid(9999));
      await page.fill('#instances-filter', 'booting large');
      const range = await page.textContent('#instances-range');
      assert.match(range ?? '', /of \d+ \(filtered from 1000\)/);
      const booting = await page.$$eval('#instances tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
      assert.ok(booting.length > 0 && booting.every((s) => s === 'booting'));
      const interactive = Date.now() - t1;
      assert.ok(interactive < 2000, `paging and filtering took ${interactive} ms`);

      await page.evaluate('window.scrollTo(0, 0)');
      await page.screenshot({ path: join(OUT, 'status-page-large.png') });
      console.log(`      10,000 containers / 1,000 VMs: first page and totals in ${elapsed} ms, paging+filter ${interactive} ms`);
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
});
