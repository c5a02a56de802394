/**
 * A dispatcher restart: a new pool over the same lame cloud and
 * InstanceSetID rebuilds its picture from the cloud alone: idle behaviour
 * from the tags, running containers from `crunch-run --list`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { initCommandForSecret } from '../../src/arvados/crunch-run.js';
import { FakeCloud } from './fake-cloud.js';
import { Harness, SMALL, waitFor } from './helpers.js';

describe('worker pool: restart', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  it('restores hold and drain from the IdleBehavior tag', async () => {
    h = await Harness.start({ cloudVMs: { TimeoutIdle: 3_600_000 } });
    h.pool.start();
    await h.tick(0);
    const held = await h.createIdle();
    const drained = await h.createIdle();
    const plain = await h.createIdle();
    const c = h.ctl!.addContainer({ state: 'Locked', command: ['sleep', '100'] });
    assert.equal(h.pool.startContainer(drained, h.ctl!.get(c.uuid)!), true);
    await waitFor('process running', () => h.cloud.vm(drained)!.processes.get(c.uuid)?.phase === 'running');
    await h.pool.setIdleBehavior(held, 'hold');
    await h.pool.setIdleBehavior(drained, 'drain');

    await h.restart();
    const byId = new Map(h.pool.instances().map((v) => [v.instance, v]));
    assert.equal(byId.get(held)?.idleBehavior, 'hold');
    assert.equal(byId.get(drained)?.idleBehavior, 'drain');
    assert.equal(byId.get(plain)?.idleBehavior, 'run');
    await h.tick(1000);
    assert.equal(h.pool.detail(held)?.workerState, 'idle');
    assert.equal(h.pool.detail(drained)?.workerState, 'running', 'drain waits for its container');
    assert.equal(h.pool.startContainer(held, h.ctl!.addContainer({ state: 'Locked' })), false, 'nothing starts on hold');

    // Hold survives TimeoutIdle; drain goes once its container ends.
    await h.tick(100_000);
    await waitFor('Complete', () => h.ctl!.get(c.uuid)?.state === 'Complete');
    await waitFor('process gone', () => !h.cloud.vm(drained)?.processes.get(c.uuid)?.alive);
    await h.tick(h.cluster.Containers.CloudVMs.SyncInterval);
    assert.equal(h.pool.detail(drained)?.workerState ?? 'gone', 'gone');
    assert.equal(h.pool.detail(held)?.workerState, 'idle');
  });

  it('adopts running containers: they count as running on their worker, and no second crunch-run starts', async () => {
    h = await Harness.start();
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    const c = h.ctl!.addContainer({ state: 'Locked', command: ['sleep', '100'] });
    assert.equal(h.pool.startContainer(id, h.ctl!.get(c.uuid)!), true);
    await waitFor('process running', () => h.cloud.vm(id)!.processes.get(c.uuid)?.phase === 'running');
    const startedAt = h.pool.running().get(c.uuid);
    assert.ok(startedAt !== undefined);

    const restartAt = h.clock.now() + 5000;
    await h.tick(5000);
    await h.restart();
    // The first listing and the probe round that follows it have run.
    assert.equal(h.only().workerState, 'running');
    assert.deepEqual(h.only().runningContainerUUIDs, [c.uuid]);
    assert.equal(h.pool.running().get(c.uuid), restartAt, 'first seen by this pool at the restart');
    assert.equal(h.pool.startContainer(id, h.ctl!.get(c.uuid)!), false, 'already running there');
    assert.equal(h.sent('--detach').length, 1, 'one crunch-run only');
    assert.equal(h.pool.countWorkers().running, 1);
    assert.equal(h.pool.countWorkers().unknown, 0);

    // The adopted container can be killed through the new pool.
    assert.equal(h.pool.killContainer(c.uuid, 'test'), true);
    await waitFor('Cancelled', () => h.ctl!.get(c.uuid)?.state === 'Cancelled');
    await waitFor('runner closed', () => !h.pool.running().has(c.uuid));
    assert.ok(h.pool.exited().has(c.uuid));
  });

  it('a new pool sees unknown workers until their first probe, then idle', async () => {
    h = await Harness.start({ controller: false });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    h.pool.stop();
    await h.build();
    await h.pool.syncNow();
    assert.equal(h.pool.detail(id)?.workerState, 'unknown');
    assert.equal(h.pool.countWorkers().unknown, 1);
    void h.pool.probeNow();
    await h.tick(0);
    assert.equal(h.pool.detail(id)?.workerState, 'idle');
    assert.equal(h.sent('crunch-run --list', id).length >= 2, true);
  });

  it('drains an instance whose InstanceType tag names a type that is not configured', async () => {
    h = await Harness.start({ controller: false, params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: 3_600_000 } });
    const secret = randomBytes(20).toString('hex');
    const tags = {
      ArvadosInstanceSetID: h.instanceSetId,
      ArvadosInstanceType: 'retired-type',
      ArvadosIdleBehavior: 'run',
      ArvadosInstanceSecret: secret,
    };
    const inst = await h.instanceSet.create(SMALL, 'img', tags, initCommandForSecret(secret), '');
    h.pool.start();
    await h.tick(0);
    const d = h.pool.detail(inst.id);
    assert.equal(d?.idleBehavior, 'drain');
    assert.equal(d?.arvadosInstanceType, 'retired-type');
    assert.equal(d?.price, 0);
    assert.equal(h.cloud.vm(inst.id)?.tags.ArvadosIdleBehavior, 'drain');
    assert.equal(h.cloud.vm(inst.id)?.tags.ArvadosInstanceType, 'retired-type', 'the type tag is left alone');
    await h.tick(1000);
    assert.equal(h.pool.detail(inst.id)?.workerState, 'shutdown', 'idle and drained: shut down');
  });
});

describe('worker pool: restart, an IdleBehavior tag that is missing or names no behaviour', () => {
  it("is 'run': the VM is used, not drained and shut down (a VM tagged by an older dispatcher, or a tag edited by hand)", async () => {
    const f = new FakeCloud();
    const missing = f.seed({ ArvadosIdleBehavior: undefined });
    const odd = f.seed({ ArvadosIdleBehavior: 'Run' });
    const drained = f.seed({ ArvadosIdleBehavior: 'drain' });
    await f.pool.syncNow();
    const byId = new Map(f.pool.instances().map((v) => [v.instance, v.idleBehavior]));
    assert.equal(byId.get(missing), 'run');
    assert.equal(byId.get(odd), 'run');
    assert.equal(byId.get(drained), 'drain');
  });
});
