/**
 * GET /arvados/v1/dispatch/instances lists what the reference's pool lists:
 * every worker, shut-down ones included until they leave the cloud list,
 * and every create still in flight, with an empty instance id.
 */
import assert from 'node:assert/strict';
import { instanceViewJSON, type InstanceViewJSON } from '../../src/http/format.js';
import { createInFlightJSON } from '../fixtures/instance-views.js';
import { call, type Stack, startStack, until } from './helpers.js';

const API = '/arvados/v1/dispatch';

describe('management API: instance list', function () {
  this.timeout(30_000);
  let stack: Stack;

  beforeEach(async () => {
    // Not started: no scheduler creating or shutting down VMs, no sync loop.
    stack = await startStack({ start: false });
  });
  afterEach(async () => {
    stack.cloud().releaseCreates();
    await stack?.stop();
  });

  async function items(): Promise<InstanceViewJSON[]> {
    const r = await call(stack, 'GET', `${API}/instances`, { token: stack.token });
    assert.equal(r.status, 200);
    return r.json<{ items: InstanceViewJSON[] }>().items;
  }

  it('lists creates in flight with an empty instance id', async () => {
    const pool = stack.dispatcher.pool;
    stack.cloud().holdCreates();
    assert.ok(pool.create(stack.dispatcher.cluster.InstanceTypes.small));
    assert.deepEqual(await items(), [createInFlightJSON({ name: 'small', price: 0.1 })]);
    // Nothing can name it: hold and kill of "" are a missing parameter.
    assert.equal((await call(stack, 'POST', `${API}/instances/hold?instance_id=`, { token: stack.token })).status, 400);
    stack.cloud().releaseCreates();
    await until('the create to return', () => pool.details().length === 1);
    const [vm] = await items();
    assert.equal(vm.instance, pool.details()[0].instance);
    assert.deepEqual(vm.running_container_uuids, []);
  });

  it('sorts creates in flight first, by instance type, as the reference', async () => {
    const { pool, cluster } = stack.dispatcher;
    assert.ok(pool.create(cluster.InstanceTypes.small));
    await until('the first create to return', () => pool.details().length === 1);
    stack.cloud().holdCreates();
    // MaxConcurrentInstanceCreateOps is 1 by default: one create in flight at a time.
    assert.ok(pool.create(cluster.InstanceTypes.small));
    const listed = await items();
    assert.deepEqual(
      listed.map((v) => [v.instance, v.worker_state]),
      [
        ['', 'booting'],
        [pool.details()[0].instance, 'booting'],
      ],
    );
  });

  it('lists shutdown workers until they leave the cloud list', async () => {
    const pool = stack.dispatcher.pool;
    // A destroyed VM stays listed a while, as real clouds' do.
    stack.cloud().configure({ DestroyDelay: 1000 });
    assert.ok(pool.create(stack.dispatcher.cluster.InstanceTypes.small));
    await until('the create to return', () => pool.details().length === 1);
    const id = pool.details()[0].instance;
    const kill = await call(stack, 'POST', `${API}/instances/kill?instance_id=${id}&reason=test`, { token: stack.token });
    assert.equal(kill.status, 200);
    const [vm] = await items();
    assert.equal(vm.instance, id);
    assert.equal(vm.worker_state, 'shutdown');
    // Still there to act on, as in the reference.
    assert.equal((await call(stack, 'POST', `${API}/instances/hold?instance_id=${id}`, { token: stack.token })).status, 200);
    await pool.syncNow();
    assert.deepEqual((await items()).map((v) => [v.instance, v.worker_state]), [[id, 'shutdown']], 'listed by the cloud, so still listed');
    await until('the cloud to forget it', () => !stack.cloud().vm(id));
    await pool.syncNow();
    assert.deepEqual(await items(), []);
  });

  it("answers the reference's `arvados-server instance` requests as they are sent: query only, reason always present, 200 and an empty body", async () => {
    const pool = stack.dispatcher.pool;
    assert.ok(pool.create(stack.dispatcher.cluster.InstanceTypes.small), 'a VM to act on');
    await until('the create to return', () => pool.details().length === 1);
    const id = pool.details()[0].instance;
    // Go's url.Values.Encode: keys sorted, an empty reason still sent (hold, drain and run take none).
    for (const action of ['hold', 'drain', 'run'] as const) {
      const r = await call(stack, 'POST', `${API}/instances/${action}?instance_id=${encodeURIComponent(id)}&reason=`, { token: stack.token });
      assert.equal(r.status, 200, `${action}: ${r.text}`);
      assert.equal(r.text, '');
      assert.equal((await items())[0].idle_behavior, action);
    }
    const kill = await call(stack, 'POST', `${API}/instances/kill?instance_id=${encodeURIComponent(id)}&reason=`, { token: stack.token });
    assert.equal(kill.status, 200, kill.text);
    assert.equal(kill.text, '');
    const shutdown = stack.logs.records().find((l) => l.msg === 'shutting down' && l.Instance === id);
    assert.ok(shutdown, `a "shutting down" line for ${id}: ${stack.logs.lines.join('\n')}`);
    assert.equal(shutdown.Reason, 'via management API: ');
  });

  it('says when the provider gave notice of taking an instance back, and only then', () => {
    const view = {
      instance: 'i-1',
      address: '10.0.0.1',
      price: 0.1,
      arvadosInstanceType: 'small.preemptible',
      providerInstanceType: 'small',
      lastContainerUUID: '',
      lastBusy: 0,
      runningContainerUUIDs: ['zzzzz-dz642-000000000000001'],
      workerState: 'running' as const,
      idleBehavior: 'run' as const,
    };
    assert.equal(instanceViewJSON(view).reclaim_notice, undefined);
    assert.equal('reclaim_notice' in instanceViewJSON(view), false);
    const noticed = instanceViewJSON({ ...view, reclaimNotice: 'instance-action: terminate at 2026-12-05T03:00:00Z' });
    assert.equal(noticed.reclaim_notice, 'instance-action: terminate at 2026-12-05T03:00:00Z');
  });

  it('says since when and why an instance drains, and a warm pool\'s note, only when there is one', () => {
    const view = {
      instance: 'i-2',
      address: '10.0.0.2',
      price: 0.1,
      arvadosInstanceType: 'small',
      providerInstanceType: 'small',
      lastContainerUUID: '',
      lastBusy: Date.parse('2026-12-05T01:00:00Z'),
      runningContainerUUIDs: [],
      workerState: 'idle' as const,
      idleBehavior: 'run' as const,
    };
    assert.equal('note' in instanceViewJSON(view), false);
    assert.equal('draining' in instanceViewJSON(view), false);
    const j = instanceViewJSON({ ...view, note: 'warm pool 0 (small)' }, { since: Date.parse('2026-12-05T02:30:00.5Z'), reason: 'saving money' });
    assert.equal(j.note, 'warm pool 0 (small)');
    assert.deepEqual(j.draining, { since: '2026-12-05T02:30:00.5Z', reason: 'saving money' });
    assert.equal(j.last_busy, '2026-12-05T01:00:00Z');
  });
});
