/**
 * What the status page's browser tests share (status-page.test.ts and
 * status-page-cards.test.ts): a fake management API (an in-memory set of
 * VMs and containers served with the JSON shapes of ARVADOS.md section 7,
 * with the same auth rules, recording every POST), the data to fill it, and
 * Debian's Chromium (driven by playwright-core) launched once per file,
 * with the page opened in a fresh context for each test.
 *
 * A test skips (with the reason printed) only when Chromium cannot be
 * launched; `npm pretest` (scripts/ensure-chromium.mjs) installs it when it can.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../fixtures/chromium.js';
import { isStatusPagePath, statusPageHandler } from '../../src/http/status-page.js';
import type { InstanceViewJSON } from '../../src/http/format.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OUT = join(ROOT, 'test-output');
export const TOKEN = 'mgmt-token-for-the-test';
export const API = '/arvados/v1/dispatch/';

/** The fake serves the real API's instance records, so the two cannot drift apart. */
export type FakeVM = InstanceViewJSON;

export interface FakeEntry {
  container: { uuid: string; state: string; priority: number; runtime_constraints: Record<string, unknown>; [k: string]: unknown };
  instance_types: Array<{ Name: string; Price: number; VCPUs: number; RAM: number; [k: string]: unknown }>;
  instance_resources: Record<string, unknown>;
  first_seen_at: string;
  scheduling_status: string;
}

export interface Posted {
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
}

/** A management API with the section 7 shapes and auth, over in-memory state. */
export class FakeManagementAPI {
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

export const TYPES = [
  { Name: 'small', ProviderType: 'm5.large', Price: 0.096, VCPUs: 2, RAM: 8 << 30 },
  { Name: 'medium', ProviderType: 'm5.xlarge', Price: 0.192, VCPUs: 4, RAM: 16 << 30 },
  { Name: 'large', ProviderType: 'm5.4xlarge', Price: 0.768, VCPUs: 16, RAM: 64 << 30 },
];
export const T0 = Date.parse('2026-11-01T12:00:00Z');

export function uuid(i: number): string {
  return `zzzzz-dz642-${i.toString().padStart(15, '0')}`;
}

/** `nVMs` VMs and `nContainers` queue entries; the first VMs run the first containers. */
export function fill(api: FakeManagementAPI, nVMs: number, nContainers: number): void {
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

/**
 * Registers, in the calling describe, the hooks that start the fake API and
 * Chromium for the file and skip each test when there is no browser; returns
 * the fake and the function that opens the page in a fresh browser context.
 */
export function statusPageInChromium(): { api: FakeManagementAPI; openPage: () => Promise<{ ctx: BrowserContext; page: Page; problems: string[] }> } {
  let browser: Browser | undefined;
  let skipReason = '';
  const api = new FakeManagementAPI();

  before(async () => {
    await api.start();
    const launched = await launchChromium();
    if ('browser' in launched) browser = launched.browser;
    else skipReason = launched.skipReason;
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

  return { api, openPage };
}

/** Types the management token into the page's prompt and saves it. */
export async function typeToken(page: Page, token: string): Promise<void> {
  await page.fill('#token', token);
  await page.click('#token-save');
}
