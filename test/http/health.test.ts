/**
 * The API handler over an object-literal target: the cases a real
 * dispatcher cannot easily be put in (an unhealthy pool, a failing call).
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ManagementTarget, managementHandler } from '../../src/http/api.js';
import type { InstanceViewJSON } from '../../src/http/format.js';
import type { InstanceView } from '../../src/scheduler/interfaces.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { InstanceNotFoundError } from '../../src/worker/pool.js';
import { call } from './helpers.js';

const TOKEN = 'management-token-for-tests';

function fakeTarget(over: Partial<ManagementTarget>): ManagementTarget {
  return {
    managementToken: TOKEN,
    logger: createLogger({ stream: new LineCollector(), level: 'debug' }),
    queueView: () => [],
    instances: () => [],
    killContainer: () => false,
    setIdleBehavior: (id) => {
      throw new InstanceNotFoundError(id);
    },
    killInstance: (id) => {
      throw new InstanceNotFoundError(id);
    },
    checkHealth: () => undefined,
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    ...over,
  };
}

async function serve(target: ManagementTarget): Promise<{ server: { url: string }; close: () => Promise<void> }> {
  const server: Server = createServer(managementHandler(target));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server: { url },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('management API handler', () => {
  it('reports an unhealthy pool as the reference does: 200 {"error":...,"health":"ERROR"}, keys in Go\'s sorted order', async () => {
    const s = await serve(
      fakeTarget({
        checkHealth: () => {
          throw new Error('error loading runner binary /nonesuch');
        },
      }),
    );
    try {
      const r = await call({ server: s.server }, 'GET', '/_health/ping', { token: TOKEN });
      assert.equal(r.status, 200);
      assert.equal(r.text, '{"error":"error loading runner binary /nonesuch","health":"ERROR"}\n');
    } finally {
      await s.close();
    }
  });

  it('answers empty lists as [] and a failing call as 500 with the error JSON', async () => {
    const s = await serve(
      fakeTarget({
        killContainer: () => {
          throw new Error('boom');
        },
      }),
    );
    try {
      const stack = { server: s.server };
      assert.deepEqual((await call(stack, 'GET', '/arvados/v1/dispatch/instances', { token: TOKEN })).json(), { items: [] });
      assert.deepEqual((await call(stack, 'GET', '/arvados/v1/dispatch/containers', { token: TOKEN })).json(), { items: [] });
      const r = await call(stack, 'POST', '/arvados/v1/dispatch/containers/kill?container_uuid=x', { token: TOKEN });
      assert.equal(r.status, 500);
      assert.deepEqual(r.json(), { errors: ['boom'] });
    } finally {
      await s.close();
    }
  });

  it("reads parameters from a multipart/form-data body (curl -F) as Go's r.FormValue does: after the query string's, where a urlencoded body's come before", async () => {
    const seen: string[] = [];
    const s = await serve(
      fakeTarget({
        setIdleBehavior: (id, behavior) => void seen.push(`${behavior} ${id}`),
        killInstance: (id, reason) => void seen.push(`kill ${id} (${reason})`),
      }),
    );
    const post = (path: string, body: FormData | URLSearchParams): Promise<Response> =>
      fetch(`${s.server.url}/arvados/v1/dispatch/instances/${path}`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, body });
    const multipart = (fields: Record<string, string>): FormData => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      // A file part is no form value.
      f.append('instance_id', new Blob(['i-file']), 'id.txt');
      return f;
    };
    try {
      assert.equal((await post('hold', multipart({ instance_id: 'i-form' }))).status, 200);
      assert.equal((await post('kill', multipart({ instance_id: 'i-form', reason: 'bad disk' }))).status, 200);
      assert.equal((await post('drain?instance_id=i-query', multipart({ instance_id: 'i-form' }))).status, 200);
      assert.equal((await post('run?instance_id=i-query', new URLSearchParams({ instance_id: 'i-form' }))).status, 200);
      const noId = await post('hold', multipart({}));
      assert.equal(noId.status, 400);
      assert.deepEqual(await noId.json(), { errors: ['instance_id parameter not provided'] });
      assert.deepEqual(seen, ['hold i-form', 'kill i-form (via management API: bad disk)', 'drain i-query', 'run i-form']);
    } finally {
      await s.close();
    }
  });

  it('an idle behaviour change that fails for another reason than an unknown instance is a 500 with its message, logged', async () => {
    const out = new LineCollector();
    const s = await serve(
      fakeTarget({
        logger: createLogger({ stream: out, level: 'debug' }),
        setIdleBehavior: () => {
          throw new Error('cloud tag update refused');
        },
      }),
    );
    try {
      const r = await call({ server: s.server }, 'POST', '/arvados/v1/dispatch/instances/hold?instance_id=i-1', { token: TOKEN });
      assert.equal(r.status, 500);
      assert.deepEqual(r.json(), { errors: ['cloud tag update refused'] });
      const logged = out.records().find((l) => l.msg === 'management API request failed');
      assert.deepEqual(logged && [logged.Method, logged.Path, logged.error], ['POST', '/arvados/v1/dispatch/instances/hold', 'cloud tag update refused']);
    } finally {
      await s.close();
    }
  });

  it('refuses a form body over 1 MiB with 413, without acting on it', async () => {
    const seen: string[] = [];
    const s = await serve(fakeTarget({ setIdleBehavior: (id) => void seen.push(id) }));
    try {
      const body = new URLSearchParams({ instance_id: 'i-1', reason: 'x'.repeat(2 ** 20) });
      const r = await fetch(`${s.server.url}/arvados/v1/dispatch/instances/hold`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, body });
      assert.equal(r.status, 413);
      assert.deepEqual(await r.json(), { errors: ['request body too large'] });
      assert.deepEqual(seen, []);
    } finally {
      await s.close();
    }
  });

  it("takes a multipart body that does not parse as an empty form, as Go's r.FormValue does: the query string's parameters still count", async () => {
    const seen: string[] = [];
    const s = await serve(fakeTarget({ setIdleBehavior: (id, behavior) => void seen.push(`${behavior} ${id}`) }));
    try {
      const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'multipart/form-data; boundary=xyz' };
      const r = await fetch(`${s.server.url}/arvados/v1/dispatch/instances/drain?instance_id=i-query`, { method: 'POST', headers, body: 'not a multipart body' });
      assert.equal(r.status, 200);
      assert.deepEqual(seen, ['drain i-query']);
    } finally {
      await s.close();
    }
  });

  it('answers 400 to a request target that is no URL (Go\'s server refuses it with 400 too)', async () => {
    const s = await serve(fakeTarget({}));
    try {
      const base = new URL(s.server.url);
      // fetch would refuse to send this target: it goes out as written over node:http.
      const got = await new Promise<[number, string]>((resolve, reject) => {
        const req = httpRequest({ host: base.hostname, port: base.port, path: 'http://%zz/arvados/v1/dispatch/instances', headers: { Authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve([res.statusCode ?? 0, text]));
        });
        req.on('error', reject);
        req.end();
      });
      assert.deepEqual(got, [400, 'Bad Request\n']);
    } finally {
      await s.close();
    }
  });

  it('cuts the connection when a call fails after the answer began, rather than end a partial answer as if whole, and logs the failure', async () => {
    const out = new LineCollector();
    const s = await serve(
      fakeTarget({
        logger: createLogger({ stream: out, level: 'debug' }),
        metricsJSON: () => Promise.reject(new Error('registry gone')),
      }),
    );
    try {
      await assert.rejects(fetch(`${s.server.url}/metrics.json`, { headers: { Authorization: `Bearer ${TOKEN}` } }).then((r) => r.text()));
      const logged = out.records().find((l) => l.msg === 'management API request failed');
      assert.deepEqual(logged && [logged.Method, logged.Path, logged.error], ['GET', '/metrics.json', 'registry gone']);
    } finally {
      await s.close();
    }
  });

  it('the instances list carries the spending cap and the day\'s forecast beside the costs, only when the cap is on', async () => {
    const view = { soft: 30, hard: 40, burn: 38.123456, spentToday: 100.00004, forecastToday: 328.5, held: 2 };
    let on = true;
    const s = await serve(fakeTarget({ spendingCap: () => (on ? view : undefined) }));
    try {
      const stack = { server: s.server };
      assert.deepEqual((await call(stack, 'GET', '/arvados/v1/dispatch/instances', { token: TOKEN })).json(), {
        items: [],
        spending_cap: { soft_per_hour: 30, hard_per_hour: 40, burn_per_hour: 38.1235, spent_today: 100, forecast_today: 328.5, held_containers: 2 },
      });
      on = false;
      assert.deepEqual((await call(stack, 'GET', '/arvados/v1/dispatch/instances', { token: TOKEN })).json(), { items: [] });
    } finally {
      await s.close();
    }
  });

  it('an instance drain to save marks draining says so, since when and why; the others have no such field', async () => {
    const vm = (instance: string): InstanceView => ({
      instance,
      address: '10.0.0.1',
      price: 0.4,
      arvadosInstanceType: 't8',
      providerInstanceType: 't8',
      lastContainerUUID: '',
      lastBusy: 0,
      runningContainerUUIDs: ['zzzzz-dz642-000000000000001'],
      workerState: 'running',
      idleBehavior: 'run',
    });
    const reason = 'running 1 of 8 VCPUs and 4 of 32 GiB RAM; its 1 container would fit on other instances';
    const s = await serve(
      fakeTarget({
        instances: () => [vm('i-a'), vm('i-b')],
        draining: (id) => (id === 'i-a' ? { since: Date.UTC(2026, 0, 2, 3, 4, 5), reason } : undefined),
      }),
    );
    try {
      const r = await call({ server: s.server }, 'GET', '/arvados/v1/dispatch/instances', { token: TOKEN });
      const { items } = r.json<{ items: InstanceViewJSON[] }>();
      assert.deepEqual(items[0].draining, { since: '2026-01-02T03:04:05Z', reason });
      assert.equal('draining' in items[1], false);
    } finally {
      await s.close();
    }
  });
});
