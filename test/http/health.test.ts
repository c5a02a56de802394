/**
 * The API handler over an object-literal target: the cases a real
 * dispatcher cannot easily be put in (an unhealthy pool, a failing call).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
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
