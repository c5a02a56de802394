/**
 * What the reference's HTTP server adds around every request: the request
 * metrics (request_duration_seconds, time_to_status_seconds, the active
 * request ages, the request limiter's), X-Request-Id, the request log
 * lines, /_inspect/requests, and /metrics.json in the MetricFamily JSON
 * shape.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { ManualClock, settle, systemClock } from '../../src/clock/index.js';
import { metricsJSON } from '../../src/http/metrics-json.js';
import { lockedDispatcherSource } from '../../src/http/lock-status.js';
import { RequestLimiter } from '../../src/http/request-limiter.js';
import { startManagementServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { makeCluster } from '../drivers/lame/helpers.js';
import { call, parseProm, promValue, type Stack, startStack, until } from './helpers.js';

const API = '/arvados/v1/dispatch';

describe('request instrumentation', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({ start: false });
  });
  after(async () => {
    await stack?.stop();
  });

  async function samples() {
    return parseProm((await call(stack, 'GET', '/metrics', { token: stack.token })).text);
  }

  it('request_duration_seconds and time_to_status_seconds{code,method}, as the Go client names them, not for /metrics', async () => {
    const before = await samples();
    const count = (s: typeof before, name: string, labels: Record<string, string>) => promValue(s, `${name}_count`, labels) ?? 0;
    await call(stack, 'GET', `${API}/instances`, { token: stack.token });
    await call(stack, 'GET', `${API}/instances`, { token: stack.token });
    await call(stack, 'POST', `${API}/instances/hold`, { token: stack.token });
    await call(stack, 'GET', `${API}/instances`);
    await call(stack, 'PROPFIND', `${API}/instances`, { token: stack.token });
    const after = await samples();
    // An unusual method: promhttp's sanitised label for request_duration_seconds, the method itself for time_to_status_seconds.
    assert.ok(count(after, 'request_duration_seconds', { code: '405', method: 'unknown' }) >= 1, JSON.stringify(after.filter((s) => s.name.startsWith('request_duration_seconds_count'))));
    assert.ok(count(after, 'time_to_status_seconds', { code: '405', method: 'propfind' }) >= 1);
    assert.equal(count(after, 'request_duration_seconds', { code: '200', method: 'get' }) - count(before, 'request_duration_seconds', { code: '200', method: 'get' }), 2);
    assert.equal(count(after, 'request_duration_seconds', { code: '400', method: 'post' }) - count(before, 'request_duration_seconds', { code: '400', method: 'post' }), 1);
    assert.equal(count(after, 'request_duration_seconds', { code: '401', method: 'get' }) - count(before, 'request_duration_seconds', { code: '401', method: 'get' }), 1);
    assert.equal(count(after, 'time_to_status_seconds', { code: '200', method: 'get' }) - count(before, 'time_to_status_seconds', { code: '200', method: 'get' }), 2);
    // No quantiles (the Go client's default), and scrapes are not counted.
    assert.ok(!after.some((s) => s.name === 'request_duration_seconds' && s.labels.quantile !== undefined));
    const text = (await call(stack, 'GET', '/metrics', { token: stack.token })).text;
    assert.match(text, /^# HELP request_duration_seconds Summary of request duration\.$/m);
    assert.match(text, /^# HELP time_to_status_seconds Summary of request TTFB\.$/m);
    assert.match(text, /^# HELP arvados_max_active_request_age_seconds Age of oldest active request$/m);
    assert.match(text, /^# HELP arvados_max_abandoned_request_age_seconds Maximum time since client hung up on a request whose processing thread is still running$/m);
    assert.equal(promValue(after, 'arvados_max_active_request_age_seconds'), 0, 'none in progress during a scrape');
  });

  it('registers the request limiter\'s metrics for the "api" queue, with MaxConcurrentRequests and MaxQueuedRequests', async () => {
    await call(stack, 'GET', `${API}/containers`, { token: stack.token });
    const s = await samples();
    assert.equal(promValue(s, 'arvados_concurrent_requests', { queue: 'api' }), 0);
    assert.equal(promValue(s, 'arvados_max_concurrent_requests', { queue: 'api' }), 64);
    assert.equal(promValue(s, 'arvados_max_queued_requests', { queue: 'api' }), 128);
    for (const priority of ['low', 'normal', 'high']) assert.equal(promValue(s, 'arvados_queued_requests', { queue: 'api', priority }), 0, priority);
    assert.ok((promValue(s, 'arvados_queue_delay_seconds_count', { queue: 'api', priority: 'normal' }) ?? 0) >= 1);
    assert.equal(promValue(s, 'arvados_max_concurrent_requests', { queue: 'tunnel' }), undefined, 'no tunnel request yet');
  });

  it('sets X-Request-Id (keeping the client\'s) and logs "request" and "response" lines with the reference\'s fields', async () => {
    const res = await fetch(`${stack.server.url}${API}/instances?api_token=${stack.token}`);
    const id = res.headers.get('x-request-id') ?? '';
    assert.match(id, /^req-[0-9a-z]{20}$/);
    const mine = await fetch(`${stack.server.url}/_health/ping`, { headers: { 'X-Request-Id': 'req-mine', Authorization: `Bearer ${stack.token}` } });
    assert.equal(mine.headers.get('x-request-id'), 'req-mine');
    const lines = stack.logs.records().filter((r) => r.RequestID === id);
    assert.deepEqual(
      lines.map((r) => r.msg),
      ['request', 'response'],
    );
    const [req, resp] = lines;
    assert.equal(req.reqMethod, 'GET');
    assert.equal(req.reqPath, 'arvados/v1/dispatch/instances');
    assert.equal(req.reqQuery, 'api_token=[REDACTED]', 'no token in the logs');
    assert.equal(req.reqBytes, 0);
    assert.match(String(req.remoteAddr), /^127\.0\.0\.1:\d+$/);
    assert.equal(resp.respStatusCode, 200);
    assert.equal(resp.respStatus, 'OK');
    assert.equal(resp.queue, 'api');
    assert.equal(resp.priority, 0);
    assert.equal(typeof resp.timeTotal, 'number');
    assert.equal(typeof resp.timeToStatus, 'number');
    const denied = await fetch(`${stack.server.url}${API}/instances`);
    const deniedLog = stack.logs.records().find((r) => r.RequestID === denied.headers.get('x-request-id') && r.msg === 'response');
    assert.equal(deniedLog?.respBody, 'Unauthorized\n', 'an error response carries its body');
  });

  it('/_inspect/requests lists requests in progress, for the ManagementToken only', async () => {
    const none = await call(stack, 'GET', '/_inspect/requests', { token: `${stack.token}x` });
    assert.equal(none.status, 401);
    assert.deepEqual(none.json(), { errors: ['unauthorized'] });
    const r = await call(stack, 'GET', '/_inspect/requests', { token: stack.token });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), []);
    // A request in progress (its body still coming) is listed without the tokens its URL carries, however the name is spelt;
    // the log line too (the logger scrubs the ManagementToken by value, not another token).
    const held = request(`${stack.server.url}${API}/instances/hold?instance_id=i-1&api%5Ftoken=someoneElsesToken1234567&api_token=${stack.token}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '100' },
    });
    held.on('error', () => undefined);
    held.write('a');
    try {
      let listed: Array<{ URL: string }> = [];
      await until('the held request to be listed', async () => {
        listed = (await call(stack, 'GET', '/_inspect/requests', { token: stack.token })).json() as Array<{ URL: string }>;
        return listed.length === 1;
      });
      assert.equal(listed[0]!.URL, `${API}/instances/hold?instance_id=i-1&api%5Ftoken=[REDACTED]&api_token=[REDACTED]`);
    } finally {
      held.destroy();
    }
    const logged = stack.logs.records().filter((l) => l.msg === 'request' && String(l.reqPath).endsWith('instances/hold') && l.reqBytes === 100);
    assert.ok(logged.length > 0);
    for (const l of logged) assert.equal(l.reqQuery, 'instance_id=i-1&api%5Ftoken=[REDACTED]&api_token=[REDACTED]', 'the log line hides both spellings');
  });

  it('/metrics.json serves MetricFamily JSON as the reference (protobuf JSON mapping)', async () => {
    const r = await call(stack, 'GET', '/metrics.json', { token: stack.token });
    assert.equal(r.status, 200);
    assert.equal(r.contentType, 'text/plain; charset=utf-8');
    const families = r.json<Array<{ name: string; help: string; type: string; metric: unknown[] }>>();
    const names = families.map((f) => f.name);
    assert.deepEqual(names, [...names].sort(), 'sorted by name');
    const ops = families.find((f) => f.name === 'arvados_dispatchcloud_driver_operations');
    assert.equal(ops?.type, 'COUNTER');
    assert.equal(ops?.help, 'Number of instance-create/destroy/list operations performed via cloud driver.');
    assert.deepEqual(ops?.metric[0], { label: [{ name: 'error', value: '0' }, { name: 'operation', value: 'Create' }], counter: { value: 0 } });
    const duration = families.find((f) => f.name === 'request_duration_seconds');
    assert.equal(duration?.type, 'SUMMARY');
    const get200 = (duration?.metric as Array<{ label: Array<{ name: string; value: string }>; summary: { sampleCount: string; sampleSum: number } }>).find(
      (m) => m.label[0].value === '200' && m.label[1].value === 'get',
    );
    assert.deepEqual(get200?.label.map((l) => l.name), ['code', 'method']);
    assert.match(get200?.summary.sampleCount ?? '', /^\d+$/, '64-bit counts are strings');
  });
});

describe('/metrics.json shape', () => {
  it('is the jsonpb encoding of each MetricFamily, two-space indented', async () => {
    const registry = new Registry();
    new Gauge({ name: 'b_gauge', help: 'A gauge.', labelNames: ['z', 'a'], registers: [registry] }).set({ z: '1', a: '2' }, 0.5);
    new Counter({ name: 'a_counter', help: 'A counter.', registers: [registry] }).inc(3);
    const s = new Summary({ name: 'c_summary', help: 'A summary.', percentiles: [0.5], registers: [registry] });
    s.observe(2);
    new Gauge({ name: 'd_nan', help: 'Not a number.', registers: [registry] }).set(NaN);
    new Gauge({ name: 'e_empty', help: 'Labelled, nothing recorded yet: left out.', labelNames: ['x'], registers: [registry] });
    assert.equal(
      await metricsJSON([registry]),
      `[${[
        { name: 'a_counter', help: 'A counter.', type: 'COUNTER', metric: [{ counter: { value: 3 } }] },
        { name: 'b_gauge', help: 'A gauge.', type: 'GAUGE', metric: [{ label: [{ name: 'a', value: '2' }, { name: 'z', value: '1' }], gauge: { value: 0.5 } }] },
        { name: 'c_summary', help: 'A summary.', type: 'SUMMARY', metric: [{ summary: { sampleCount: '1', sampleSum: 2, quantile: [{ quantile: 0.5, value: 2 }] } }] },
        { name: 'd_nan', help: 'Not a number.', type: 'GAUGE', metric: [{ gauge: { value: 'NaN' } }] },
      ]
        .map((f) => JSON.stringify(f, null, 2))
        .join(',')}]`,
    );
  });

  it('writes a histogram as jsonpb does: cumulative counts as strings, no +Inf bucket (the count says it)', async () => {
    const registry = new Registry();
    const h = new Histogram({ name: 'f_histogram', help: 'A histogram.', buckets: [1, 2], registers: [registry] });
    h.observe(1.5);
    h.observe(5);
    assert.deepEqual(JSON.parse(await metricsJSON([registry])), [
      {
        name: 'f_histogram',
        help: 'A histogram.',
        type: 'HISTOGRAM',
        metric: [{ histogram: { sampleCount: '2', sampleSum: 6.5, bucket: [{ cumulativeCount: '0', upperBound: 1 }, { cumulativeCount: '1', upperBound: 2 }] } }],
      },
    ]);
  });

  it("sorts a family's series by their label values", async () => {
    const registry = new Registry();
    const g = new Gauge({ name: 'g_labelled', help: 'Labelled.', labelNames: ['x'], registers: [registry] });
    g.set({ x: 'b' }, 2);
    g.set({ x: 'a' }, 1);
    const [family] = JSON.parse(await metricsJSON([registry])) as Array<{ metric: Array<{ label: Array<{ value: string }> }> }>;
    assert.deepEqual(
      family.metric.map((m) => m.label[0].value),
      ['a', 'b'],
    );
  });

  it('writes infinities as the strings "Infinity" and "-Infinity"', async () => {
    const registry = new Registry();
    new Gauge({ name: 'g_inf', help: 'Infinite.', registers: [registry] }).set(Infinity);
    new Gauge({ name: 'g_minus_inf', help: 'Minus infinite.', registers: [registry] }).set(-Infinity);
    assert.deepEqual(
      (JSON.parse(await metricsJSON([registry])) as Array<{ metric: Array<{ gauge: { value: unknown } }> }>).map((f) => f.metric[0].gauge.value),
      ['Infinity', '-Infinity'],
    );
  });

  it('gives a summary without quantiles no quantile list, as jsonpb leaves an empty one out', async () => {
    const registry = new Registry();
    new Summary({ name: 'h_summary', help: 'No quantiles.', percentiles: [], registers: [registry] }).observe(1);
    assert.deepEqual(JSON.parse(await metricsJSON([registry])), [{ name: 'h_summary', help: 'No quantiles.', type: 'SUMMARY', metric: [{ summary: { sampleCount: '1', sampleSum: 1 } }] }]);
  });
});

describe('request limiter', () => {
  let server: Server;
  let url: string;
  const release: Array<() => void> = [];
  const registry = new Registry();
  const limiter = new RequestLimiter({ registry, clock: systemClock, api: { maxConcurrent: 1, maxQueue: 1 }, tunnel: { maxConcurrent: 0, maxQueue: 0 } });

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      void limiter.handle(req, res, async (_req, r) => {
        await new Promise<void>((resolve) => release.push(resolve));
        r.end('done');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const r of release) r();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('handles MaxConcurrentRequests at once, queues MaxQueuedRequests more, and answers 503 beyond', async () => {
    const first = fetch(`${url}/a`);
    await until('the request to be handled', () => release.length === 1);
    const second = fetch(`${url}/b`);
    const queued = async (): Promise<number | undefined> => promValue(parseProm(await registry.metrics()), 'arvados_queued_requests', { queue: 'api', priority: 'normal' });
    await until('the second request to be queued', async () => (await queued()) === 1);
    // The queue holds one: a third waits nowhere and is refused at once.
    const third = await fetch(`${url}/c`);
    assert.equal(third.status, 503);
    const s = parseProm(await registry.metrics());
    assert.equal(promValue(s, 'arvados_concurrent_requests', { queue: 'api' }), 1);
    assert.equal(promValue(s, 'arvados_queue_timeout_seconds_count', { queue: 'api', priority: 'normal' }), 1);
    release.shift()!();
    assert.equal(await (await first).text(), 'done');
    await until('the request to be handled', () => release.length === 1);
    release.shift()!();
    assert.equal(await (await second).text(), 'done');
  });
});

describe('request limiter: API.RequestTimeout', () => {
  /** A server whose handler holds every request it runs until released; its limiter handles one at a time. */
  async function limited(requestTimeoutMs: number): Promise<{
    url: string;
    clock: ManualClock;
    registry: Registry;
    release: Array<() => void>;
    close: () => Promise<void>;
  }> {
    const clock = new ManualClock();
    const registry = new Registry();
    const release: Array<() => void> = [];
    const limiter = new RequestLimiter({ registry, clock, api: { maxConcurrent: 1, maxQueue: 8 }, tunnel: { maxConcurrent: 0, maxQueue: 0 }, requestTimeoutMs });
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      void limiter.handle(req, res, async (_req, r) => {
        await new Promise<void>((resolve) => release.push(resolve));
        r.end('done');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const close = async (): Promise<void> => {
      for (const r of release) r();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, clock, registry, release, close };
  }
  const queued = async (registry: Registry): Promise<number | undefined> =>
    promValue(parseProm(await registry.metrics()), 'arvados_queued_requests', { queue: 'api', priority: 'normal' });
  type Limited = Awaited<ReturnType<typeof limited>>;
  /** Sends two requests: resolves once the first runs and the second waits for its turn. */
  async function oneRunsOneWaits(s: Limited): Promise<{ first: Promise<Response>; second: Promise<Response> }> {
    const first = fetch(`${s.url}/a`);
    await until('the first request to run', () => s.release.length === 1);
    const second = fetch(`${s.url}/b`);
    await until('the second request to wait', async () => (await queued(s.registry)) === 1);
    return { first, second };
  }

  it('answers 503 to a request still waiting for its turn when the timeout passes, not before; the one running is not cut', async () => {
    const s = await limited(300_000);
    try {
      const { first, second } = await oneRunsOneWaits(s);
      let answered = false;
      void second.then(() => (answered = true));
      await s.clock.advance(299_999);
      assert.equal(await queued(s.registry), 1);
      assert.equal(answered, false);
      await s.clock.advance(1);
      assert.equal((await second).status, 503);
      assert.equal(await queued(s.registry), 0);
      const m = parseProm(await s.registry.metrics());
      assert.equal(promValue(m, 'arvados_queue_timeout_seconds_sum', { queue: 'api', priority: 'normal' }), 300);
      // The running request has no deadline here (nor in the reference, whose handlers do not wait on it).
      await s.clock.advance(3_600_000);
      s.release.shift()!();
      assert.equal(await (await first).text(), 'done');
    } finally {
      await s.close();
    }
  });

  it('a request served in time runs to the end, and its deadline is dropped', async () => {
    const s = await limited(300_000);
    try {
      const { first, second } = await oneRunsOneWaits(s);
      await s.clock.advance(100_000);
      s.release.shift()!();
      await first;
      await until('the second request to run', () => s.release.length === 1);
      assert.equal(s.clock.pendingTimers(), 0);
      s.release.shift()!();
      assert.equal(await (await second).text(), 'done');
    } finally {
      await s.close();
    }
  });

  it('0 is no deadline; a negative one has passed at once, so a request that must wait gets 503 while one with room runs', async () => {
    const none = await limited(0);
    try {
      const { first, second } = await oneRunsOneWaits(none);
      // Both are cut when the server closes.
      first.catch(() => undefined);
      second.catch(() => undefined);
      await none.clock.advance(24 * 3_600_000);
      assert.equal(await queued(none.registry), 1);
    } finally {
      await none.close();
    }
    const passed = await limited(-1);
    try {
      const { first, second } = await oneRunsOneWaits(passed);
      assert.equal(passed.clock.pendingTimers(), 1);
      await passed.clock.advance(0);
      assert.equal((await second).status, 503);
      passed.release.shift()!();
      assert.equal(await (await first).text(), 'done');
    } finally {
      await passed.close();
    }
  });
});

describe('the server\'s own metrics while no dispatcher runs (dispatch lock not held)', () => {
  it('are in /metrics and /metrics.json, with the lock\'s, and outlive any dispatcher', async () => {
    const TOKEN = 'managementTokenForServerMetrics0123456789';
    const cluster = { ...makeCluster(), ManagementToken: TOKEN };
    const source = lockedDispatcherSource({ cluster, logger: silentLogger(), current: () => undefined, status: () => ({ state: 'waiting', detail: 'test', losses: 0 }) });
    const server = await startManagementServer(source, { listen: '127.0.0.1:0' });
    try {
      assert.equal((await call({ server }, 'GET', `${API}/containers`, { token: TOKEN })).status, 503);
      const s = parseProm((await call({ server }, 'GET', '/metrics', { token: TOKEN })).text);
      assert.equal(promValue(s, 'arvados_dispatchcloud_build_info', { version: '0.1.0' }), 1);
      assert.equal(promValue(s, 'request_duration_seconds_count', { code: '503', method: 'get' }), 1);
      assert.equal(promValue(s, 'arvados_dispatchcloud_dispatch_lock_held'), 0);
      const names = (await call({ server }, 'GET', '/metrics.json', { token: TOKEN })).json<Array<{ name: string }>>().map((f) => f.name);
      for (const name of ['arvados_dispatchcloud_dispatch_lock_held', 'arvados_dispatchcloud_build_info', 'request_duration_seconds', 'arvados_concurrent_requests']) {
        assert.ok(names.includes(name), name);
      }
    } finally {
      await server.close();
    }
  });
});

describe('request limiter: who runs next', () => {
  /** A limiter with fake exchanges: each request's handler runs until released; `ran` lists the paths in the order they started. */
  function limiterHarness(api: { maxConcurrent: number; maxQueue: number }) {
    const registry = new Registry();
    const limiter = new RequestLimiter({ registry, clock: new ManualClock(), api, tunnel: { maxConcurrent: 0, maxQueue: 0 } });
    const ran: string[] = [];
    const release = new Map<string, () => void>();
    const send = (path: string, headers: Record<string, string> = {}) => {
      const res = {
        status: 0,
        headersSent: false,
        destroyed: false,
        leave: () => undefined as void,
        once(event: string, fn: () => void) {
          if (event === 'close') res.leave = fn;
          return res;
        },
        writeHead(code: number) {
          res.status = code;
        },
        end() {},
      };
      const req = { url: path, method: 'GET', headers } as unknown as IncomingMessage;
      const done = limiter.handle(req, res as unknown as ServerResponse, async () => {
        ran.push(path);
        await new Promise<void>((resolve) => release.set(path, resolve));
      });
      return { res, done };
    };
    return { registry, ran, release, send };
  }

  it('starts waiting requests by priority, a browser\'s (with Origin) first, then in the order they came', async () => {
    const h = limiterHarness({ maxConcurrent: 1, maxQueue: 8 });
    for (const [path, headers] of [['/a'], ['/b'], ['/c'], ['/d', { origin: 'https://workbench.example' }], ['/e']] as Array<[string, Record<string, string>?]>) h.send(path, headers);
    await settle();
    for (let i = 0; i < 4; i++) {
      h.release.get(h.ran[h.ran.length - 1])!();
      await settle();
    }
    assert.deepEqual(h.ran, ['/a', '/d', '/b', '/c', '/e']);
  });

  it('MaxConcurrentRequests 0 is no limit: every request runs at once', async () => {
    const h = limiterHarness({ maxConcurrent: 0, maxQueue: 0 });
    for (const path of ['/a', '/b', '/c']) h.send(path);
    await settle();
    assert.deepEqual(h.ran, ['/a', '/b', '/c']);
  });

  it('a request started from the queue counts against MaxConcurrentRequests', async () => {
    const h = limiterHarness({ maxConcurrent: 1, maxQueue: 8 });
    h.send('/a');
    h.send('/b');
    await settle();
    h.release.get('/a')!();
    await settle();
    h.send('/c');
    await settle();
    assert.deepEqual(h.ran, ['/a', '/b'], 'c waits for b');
    assert.equal(promValue(parseProm(await h.registry.metrics()), 'arvados_concurrent_requests', { queue: 'api' }), 1);
  });

  it('a client that leaves while waiting gives its place up', async () => {
    const h = limiterHarness({ maxConcurrent: 1, maxQueue: 1 });
    h.send('/a');
    const left = h.send('/b');
    await settle();
    left.res.leave();
    const c = h.send('/c');
    await settle();
    assert.equal(c.res.status, 0, 'c is queued in the place b left, not refused');
    h.release.get('/a')!();
    await settle();
    assert.deepEqual(h.ran, ['/a', '/c']);
  });

  it('arvados_queued_requests counts the waiting requests by priority', async () => {
    const h = limiterHarness({ maxConcurrent: 1, maxQueue: 8 });
    h.send('/a');
    h.send('/b');
    h.send('/c', { origin: 'https://workbench.example' });
    h.send('/d', { origin: 'https://workbench.example' });
    await settle();
    const s = parseProm(await h.registry.metrics());
    assert.deepEqual(
      ['low', 'normal', 'high'].map((priority) => promValue(s, 'arvados_queued_requests', { queue: 'api', priority })),
      [0, 1, 2],
    );
  });

  it('the management server answers 503 to a request still waiting at API.RequestTimeout', async () => {
    const TOKEN = 'managementTokenForRequestTimeout0123456789';
    const base = makeCluster();
    const cluster = { ...base, ManagementToken: TOKEN, API: { ...base.API, MaxConcurrentRequests: 1, RequestTimeout: 60_000 } };
    const clock = new ManualClock();
    const source = lockedDispatcherSource({ cluster, logger: silentLogger(), current: () => undefined, status: () => ({ state: 'waiting', detail: 'test', losses: 0 }) });
    const server = await startManagementServer(source, { listen: '127.0.0.1:0', clock });
    const metric = async (name: string): Promise<number | undefined> => promValue(parseProm((await call({ server }, 'GET', '/metrics', { token: TOKEN })).text), name, { queue: 'api' });
    // The one request that may run reads a body that never comes.
    const held = request(`${server.url}${API}/instances/hold`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '100' },
    });
    held.on('error', () => undefined);
    held.write('a');
    try {
      await until('the held request to run', async () => (await metric('arvados_concurrent_requests')) === 1);
      const waiting = call({ server }, 'GET', `${API}/containers`, { token: TOKEN });
      await until('the second request to wait for its turn', () => clock.pendingTimers() === 1);
      await clock.advance(60_000);
      const r = await waiting;
      assert.equal(r.status, 503);
      assert.equal(r.text, '', "the limiter's empty 503, not the API's answer while not dispatching");
    } finally {
      held.destroy();
      await server.close();
    }
  });
});
