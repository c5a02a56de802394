/**
 * A whole dispatcher in this process, for the management API and metrics
 * tests: the test controller over HTTP, the lame cloud (its own cloud name
 * per stack), the real dispatcher with short intervals, and its management
 * server on a free loopback port. Plus small HTTP and Prometheus-text
 * helpers.
 */
import { randomBytes } from 'node:crypto';
import { getLameCloud, type LameCloud, type LameTransport } from '../../drivers/lame/index.js';
import { loadConfigText } from '../../src/config/index.js';
import { createDispatcher, type Dispatcher } from '../../src/dispatcher.js';
import { type ManagementServer, startManagementServer } from '../../src/http/server.js';
import type { ConfigSource } from '../../src/http/service-metrics.js';
import type { DispatcherMetrics } from '../../src/http/metrics.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { TestController } from '../fixtures/controller.js';

export interface Stack {
  controller: TestController;
  dispatcher: Dispatcher;
  server: ManagementServer;
  /** The ManagementToken ('' when built without one). */
  token: string;
  cloud: () => LameCloud;
  logs: LineCollector;
  stop(): Promise<void>;
}

export interface StackOptions {
  managementToken?: string;
  transport?: LameTransport;
  /** Whether to start the dispatcher's loops (the API answers either way). */
  start?: boolean;
  /** The config file the server's config metrics describe. */
  configSource?: ConfigSource;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const rootToken = `root${randomBytes(20).toString('hex')}`;
  const token = opts.managementToken ?? `mgmt${randomBytes(20).toString('hex')}`;
  const logs = new LineCollector();
  const log = createLogger({ level: 'info', stream: logs, secrets: [rootToken, token].filter((t) => t !== '') });
  const controller = new TestController({ rootToken, logger: log.child({ Component: 'controller' }) });
  await controller.start();
  const cloudName = `http-test-${randomBytes(4).toString('hex')}`;
  const { cluster } = loadConfigText(`
Clusters:
  zzzzz:
    SystemRootToken: ${rootToken}
    ManagementToken: "${token}"
    Services:
      Controller:
        ExternalURL: ${controller.url}
    Containers:
      StaleLockTimeout: 1s
      CloudVMs:
        Driver: lame
        DriverParameters:
          CloudName: ${cloudName}
          Transport: ${opts.transport ?? 'inprocess'}
          MinBootTime: 100ms
          MaxBootTime: 300ms
          MinRunTime: 1s
          MaxRunTime: 2s
        PollInterval: 200ms
        SyncInterval: 500ms
        ProbeInterval: 200ms
        TimeoutIdle: 10s
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
`);
  const dispatcher = await createDispatcher(cluster, { logger: log });
  const server = await startManagementServer(dispatcher, { listen: '127.0.0.1:0', configSource: opts.configSource });
  if (opts.start !== false) dispatcher.start();
  return {
    controller,
    dispatcher,
    server,
    token,
    logs,
    cloud: () => {
      const c = getLameCloud(cloudName);
      if (!c) throw new Error(`no lame cloud ${cloudName}`);
      return c;
    },
    async stop() {
      await server.close();
      await dispatcher.stop();
      // Leave no VM behind: destroy what this stack's cloud still holds.
      const cloud = getLameCloud(cloudName);
      if (cloud) await Promise.all(cloud.listVMs().map((vm) => cloud.destroyVM(vm).catch(() => undefined)));
      await controller.stop();
    },
  };
}

export interface Reply {
  status: number;
  text: string;
  contentType: string;
  /** The answer's headers, names lower-case. */
  headers: Headers;
  json<T = unknown>(): T;
}

/** One request to the management server; `token` undefined sends no Authorization header. */
export async function call(
  stack: { server: Pick<ManagementServer, 'url'> },
  method: 'GET' | 'POST' | 'PUT' | 'PROPFIND',
  path: string,
  opts: { token?: string; authorization?: string; form?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.authorization !== undefined) headers.Authorization = opts.authorization;
  else if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(opts.form).toString();
  }
  const res = await fetch(stack.server.url + path, { method, headers, body });
  const text = await res.text();
  return {
    status: res.status,
    text,
    contentType: res.headers.get('content-type') ?? '',
    headers: res.headers,
    json: <T>() => JSON.parse(text) as T,
  };
}

/** Polls until `check` is true; fails naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (enough of the format for our own output). */
export function parseProm(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined if none. */
export function promValue(samples: PromSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

/** Scrape-time sources with nothing in them. */
export function noSources(): Parameters<DispatcherMetrics['attach']>[0] {
  return {
    queueEntries: () => [],
    workers: () => [],
    poolStats: () => ({ bootOutcomes: { success: 0, failure: 0, aborted: 0, disappeared: 0 }, disappeared: { unknown: 0, booting: 0, idle: 0, running: 0, shutdown: 0 }, maxProbeAgeMs: 0, medianProbeAgeMs: 0, creating: 0 }),
    containersRunning: () => 0,
    scheduler: { maxContainers: 0, containersAllocatedNotStarted: 0, containersNotAllocatedOverQuota: 0, longestWaitTimeSeconds: 0, atQuota: false },
    last503: () => 0,
  };
}
