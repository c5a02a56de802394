/**
 * The listing cadence: the cloud is listed at start, then SyncInterval
 * after each listing ends, and never because of a create or a destroy.
 */
import assert from 'node:assert/strict';
import type { Instance, InstanceTags } from '../../src/cloud/types.js';
import type { PoolCore } from '../../src/worker/pool-core.js';
import { Harness, SMALL } from './helpers.js';

describe('worker pool: listing cadence', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  const lists = () => h.cloud.callCounts().instances;

  async function started(cloudVMs: Parameters<typeof Harness.start>[0] = {}): Promise<number> {
    h = await Harness.start({ controller: false, params: { DestroyDelay: 0 }, ...cloudVMs });
    h.pool.start();
    await h.tick(0);
    assert.equal(lists(), 1, 'one listing at start');
    return h.cluster.Containers.CloudVMs.SyncInterval;
  }

  it('lists only every SyncInterval, not after each create', async () => {
    const syncInterval = await started({ cloudVMs: { MaxConcurrentInstanceCreateOps: 0 } });
    for (let i = 0; i < 3; i++) assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    assert.equal(h.cloud.callCounts().create, 3);
    assert.equal(h.pool.instances().filter((v) => !v.instance.startsWith('pending-')).length, 3, 'the creates answered for themselves');
    await h.tick(syncInterval - 1);
    assert.equal(lists(), 1);
    await h.tick(1);
    assert.equal(lists(), 2);
  });

  it('lists only every SyncInterval, not after each destroy; a destroyed instance counts until a listing drops it', async () => {
    const syncInterval = await started({ cloudVMs: { MaxInstances: 1, TimeoutIdle: 3_600_000 } });
    const id = await h.createIdle();
    const listed = lists();
    assert.equal(h.pool.atQuota(), true, 'at MaxInstances');
    h.pool.killInstance(id, 'test');
    await h.tick(0);
    assert.equal(h.cloud.callCounts().destroy, 1);
    assert.equal(lists(), listed, 'no listing for the destroy');
    assert.equal(h.pool.detail(id)?.workerState, 'shutdown', 'still known until a listing shows it gone');
    assert.equal(h.pool.atQuota(), true, 'a VM being destroyed still counts against MaxInstances');
    await h.tick(syncInterval);
    assert.equal(h.pool.detail(id), undefined, 'gone at the next listing');
    assert.equal(h.pool.atQuota(), false, 'room for another once the listing shows it gone');
  });

  it('waits SyncInterval after a slow listing ends before the next', async () => {
    h = await Harness.start({ controller: false });
    const syncInterval = h.cluster.Containers.CloudVMs.SyncInterval;
    const list = h.lame.instances.bind(h.lame);
    const started: number[] = [];
    h.lame.instances = async (filter: InstanceTags) => {
      started.push(h.clock.now());
      await h.clock.sleep(syncInterval * 1.5);
      return list(filter);
    };
    const t0 = h.clock.now();
    h.pool.start();
    for (let t = 0; t < 5 * syncInterval; t += 10_000) await h.tick(10_000);
    assert.deepEqual(
      started.map((t) => t - t0),
      [0, 2.5 * syncInterval, 5 * syncInterval],
    );
  });

  it('a listing that cannot be applied is logged, and the loop lists again SyncInterval later', async () => {
    h = await Harness.start({ controller: false });
    const vm = await h.cloud.createVM(SMALL, 'img', { ArvadosInstanceSetID: h.instanceSetId, ArvadosInstanceType: 'small' }, '', '');
    const core = (h.pool as unknown as { core: PoolCore }).core;
    const add = core.addOrUpdateWorker.bind(core);
    let failures = 1;
    core.addOrUpdateWorker = (inst: Instance) => {
      if (failures-- > 0) throw new Error('a bug in applying the listing');
      return add(inst);
    };
    h.pool.start();
    await h.tick(0);
    assert.equal(h.logs.records().filter((r) => r.msg === 'applying the cloud listing failed').length, 1);
    await h.tick(h.cluster.Containers.CloudVMs.SyncInterval);
    assert.ok(h.pool.detail(vm.id), 'adopted at the next listing');
  });

  it('a listing asked for while one is in flight runs once that one ends, before the promise resolves', async () => {
    h = await Harness.start({ controller: false });
    const list = h.lame.instances.bind(h.lame);
    const releases: (() => void)[] = [];
    h.lame.instances = async (filter: InstanceTags) => {
      const snapshot = await list(filter);
      await new Promise<void>((resolve) => releases.push(resolve));
      return snapshot;
    };
    const first = h.pool.syncNow();
    await h.tick(0);
    assert.equal(releases.length, 1, 'one listing in flight');
    // A VM appears in the cloud after that listing was taken; the caller wants a listing that shows it.
    const vm = await h.cloud.createVM(SMALL, 'img', { ArvadosInstanceSetID: h.instanceSetId, ArvadosInstanceType: 'small' }, '', '');
    let secondDone = false;
    const second = h.pool.syncNow().then(() => (secondDone = true));
    releases[0]();
    await h.tick(0);
    assert.equal(releases.length, 2, 'a second listing follows the first');
    assert.equal(secondDone, false, 'the second caller waits for it');
    releases[1]();
    await Promise.all([first, second]);
    assert.ok(h.pool.detail(vm.id), 'and sees the VM that listing showed');
  });

  it('tells subscribers when an instance leaves the cloud list', async () => {
    await started({ cloudVMs: { TimeoutIdle: 3_600_000 } });
    const id = await h.createIdle();
    h.pool.killInstance(id, 'test');
    await h.tick(0);
    let calls = 0;
    h.pool.subscribe(() => calls++);
    await h.pool.syncNow();
    await h.tick(0);
    assert.equal(h.pool.detail(id), undefined, 'gone from the listing, gone from the pool');
    assert.ok(calls > 0, 'and subscribers hear of it');
  });

  it('a listing that comes back after stop() is not applied: nothing adopted, nothing destroyed again', async () => {
    h = await Harness.start({ controller: false, params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutShutdown: 10_000, TimeoutIdle: 3_600_000 } });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    h.pool.killInstance(id, 'test');
    await h.tick(0);
    assert.equal(h.cloud.callCounts().destroy, 1);
    const list = h.lame.instances.bind(h.lame);
    let release: (() => void) | undefined;
    h.lame.instances = async (filter: InstanceTags) => {
      const snapshot = await list(filter);
      await new Promise<void>((resolve) => (release = resolve));
      return snapshot;
    };
    const other = await h.cloud.createVM(SMALL, 'img', { ArvadosInstanceSetID: h.instanceSetId, ArvadosInstanceType: 'small' }, '', '');
    await h.tick(60_000);
    assert.ok(release, 'a listing, well past TimeoutShutdown, is in flight');
    h.pool.stop();
    release!();
    await h.tick(0);
    assert.equal(h.cloud.callCounts().destroy, 1, 'a stopped pool destroys nothing');
    assert.equal(h.pool.detail(other.id), undefined, 'nor adopts anything');
  });

  it('a listing asked for between two regular ones moves the next regular one to SyncInterval after it', async () => {
    const syncInterval = await started();
    await h.tick(syncInterval / 2);
    await h.pool.syncNow();
    assert.equal(lists(), 2, 'the listing asked for');
    await h.tick(syncInterval / 2);
    assert.equal(lists(), 2, 'no listing at the old schedule');
    await h.tick(syncInterval / 2 - 1);
    assert.equal(lists(), 2);
    await h.tick(1);
    assert.equal(lists(), 3, 'SyncInterval after the one asked for');
    await h.tick(syncInterval);
    assert.equal(lists(), 4, 'and one each SyncInterval from then on');
  });

  it('tells subscribers when a listing shows a new instance', async () => {
    await started();
    let calls = 0;
    h.pool.subscribe(() => calls++);
    const vm = await h.cloud.createVM(SMALL, 'img', { ArvadosInstanceSetID: h.instanceSetId, ArvadosInstanceType: 'small' }, '', '');
    await h.pool.syncNow();
    await h.tick(0);
    assert.ok(h.pool.detail(vm.id), 'adopted');
    assert.ok(calls > 0, 'and subscribers hear of it');
  });
});
