/**
 * The management server of a daemon under the dispatch lock, while it has
 * no dispatcher (waiting for the lock, or after losing it): an unhealthy
 * health check that says why, 503 from the API (404 for a container's
 * status), and the lock metrics.
 */
import assert from 'node:assert/strict';
import type { Cluster } from '../../src/config/types.js';
import type { LockStatus } from '../../src/dblock/lock.js';
import { lockedDispatcherSource } from '../../src/http/lock-status.js';
import { type ManagementServer, startManagementServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { makeCluster } from '../drivers/lame/helpers.js';
import { call, parseProm, promValue } from '../http/helpers.js';

const TOKEN = 'managementTokenForLockTests0123456789';

describe('management server while the dispatch lock is not held', () => {
  let server: ManagementServer;
  let status: LockStatus = { state: 'waiting', detail: 'another process holds it (127.0.0.1:40000)', holder: '127.0.0.1:40000', losses: 0 };

  before(async () => {
    const cluster: Cluster = { ...makeCluster(), ManagementToken: TOKEN };
    const source = lockedDispatcherSource({ cluster, logger: silentLogger(), current: () => undefined, status: () => status });
    server = await startManagementServer(source, { listen: '127.0.0.1:0' });
  });

  after(() => server.close());

  it('/_health/ping is unhealthy, naming the process that holds the lock', async () => {
    const r = await call({ server }, 'GET', '/_health/ping', { token: TOKEN });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { health: 'ERROR', error: 'not dispatching: waiting for the dispatch lock: another process holds it (127.0.0.1:40000)' });
  });

  it('the API answers 503 with the reason instead of a dispatcher it does not have', async () => {
    const r = await call({ server }, 'GET', '/arvados/v1/dispatch/containers', { token: TOKEN });
    assert.equal(r.status, 503);
    assert.deepEqual(r.json(), { errors: ['not dispatching: waiting for the dispatch lock: another process holds it (127.0.0.1:40000)'] });
    const kill = await call({ server }, 'POST', '/arvados/v1/dispatch/instances/kill', { token: TOKEN, form: { instance_id: 'i-1' } });
    assert.equal(kill.status, 503);
  });

  it("a container's status is a 404 naming why (no container is here), with the header that says so: the controller then reports the container as queued, as after the dispatcher's own 404, not 502", async () => {
    const r = await call({ server }, 'GET', '/arvados/v1/dispatch/container?container_uuid=zzzzz-dz642-000000000000001', { token: TOKEN });
    assert.equal(r.status, 404);
    assert.deepEqual(r.json(), { errors: ['container not found: not dispatching: waiting for the dispatch lock: another process holds it (127.0.0.1:40000)'] });
    assert.equal(r.headers.get('X-Arvados-Dispatch-Not-Dispatching'), 'not dispatching: waiting for the dispatch lock: another process holds it (127.0.0.1:40000)');
    // Still a token first, as every API route.
    assert.equal((await call({ server }, 'GET', '/arvados/v1/dispatch/container?container_uuid=zzzzz-dz642-000000000000001', {})).status, 401);
  });

  it('/metrics says the lock is not held, and counts losses', async () => {
    let samples = parseProm((await call({ server }, 'GET', '/metrics', { token: TOKEN })).text);
    assert.equal(promValue(samples, 'arvados_dispatchcloud_dispatch_lock_held'), 0);
    assert.equal(promValue(samples, 'arvados_dispatchcloud_dispatch_lock_lost_total'), 0);
    status = { state: 'lost', detail: 'lost: connection closed; taking it again', losses: 2 };
    const health = await call({ server }, 'GET', '/_health/ping', { token: TOKEN });
    assert.deepEqual(health.json(), { health: 'ERROR', error: 'not dispatching: dispatch lock lost: connection closed; taking it again' });
    samples = parseProm((await call({ server }, 'GET', '/metrics', { token: TOKEN })).text);
    assert.equal(promValue(samples, 'arvados_dispatchcloud_dispatch_lock_lost_total'), 2);
    status = { state: 'held', detail: 'held', losses: 2 };
    samples = parseProm((await call({ server }, 'GET', '/metrics', { token: TOKEN })).text);
    assert.equal(promValue(samples, 'arvados_dispatchcloud_dispatch_lock_held'), 1);
  });
});
