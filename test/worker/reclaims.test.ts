/**
 * The pool notices reclaims: a preemptible VM that leaves the cloud list
 * without a destroy call, and a VM the provider says it is taking back
 * (`Instance.reclaimed`, or crunch-run's notice), each told once as an
 * `instanceReclaimed` event; a VM with a notice shows it in its view.
 */
import assert from 'node:assert/strict';
import type { Instance, InstanceTags } from '../../src/cloud/types.js';
import type { InstanceType } from '../../src/config/types.js';
import type { PoolEvent } from '../../src/worker/pool.js';
import type { Container } from '../../src/arvados/types.js';
import { FakeCloud } from './fake-cloud.js';
import { Harness, SMALL } from './helpers.js';

type Reclaimed = Extract<PoolEvent, { type: 'instanceReclaimed' }>;

describe('worker pool: reclaims', function () {
  this.timeout(20_000);
  let h: Harness;
  let events: Reclaimed[];
  const SPOT: InstanceType = { ...SMALL, Name: 'small.spot', Preemptible: true };

  beforeEach(async () => {
    events = [];
    h = await Harness.start({
      controller: false,
      params: { DestroyDelay: 0, Zones: ['a', 'b'] },
      cloudVMs: { TimeoutIdle: 3_600_000 },
      onEvent: (e) => {
        if (e.type === 'instanceReclaimed') events.push(e);
      },
    });
    h.cluster.InstanceTypes[SPOT.Name] = SPOT;
    h.pool.start();
    await h.tick(0);
  });

  afterEach(async () => {
    await h?.stop();
  });

  /** The next listings leave out `hidden` and mark `noticed` reclaimed. */
  function rewriteListings(hidden: Set<string>, noticed: Set<string>): void {
    const list = h.lame.instances.bind(h.lame);
    h.lame.instances = async (filter: InstanceTags) =>
      (await list(filter)).filter((i) => !hidden.has(i.id)).map((i): Instance => (noticed.has(i.id) ? Object.assign(Object.create(i) as Instance, { reclaimed: true }) : i));
  }

  const sync = async (): Promise<void> => {
    await h.tick(h.cluster.Containers.CloudVMs.SyncInterval);
  };

  it('a preemptible VM that leaves the list unasked is reclaimed, with its type and zone; an on-demand one and a destroyed one are not', async () => {
    const spot = await h.createIdle(SPOT);
    const onDemand = await h.createIdle(SMALL);
    const destroyed = await h.createIdle(SPOT);
    h.pool.killInstance(destroyed, 'test');
    await h.tick(0);
    const zone = h.cloud.vm(spot)?.zone;
    assert.ok(zone === 'a' || zone === 'b', `zone ${zone}`);
    rewriteListings(new Set([spot, onDemand]), new Set());
    await sync();
    assert.equal(h.pool.detail(spot), undefined);
    assert.equal(h.pool.detail(onDemand), undefined);
    assert.equal(h.pool.detail(destroyed), undefined, 'gone from the cloud after its destroy');
    assert.deepEqual(events, [
      { type: 'instanceReclaimed', phase: 'gone', instanceId: spot, instanceType: SPOT.Name, zone, preemptible: true, containers: [], reason: 'left the cloud list' },
    ]);
  });

  it("the provider's word (Instance.reclaimed) is a notice, told once; the VM shows it and then its going", async () => {
    const id = await h.createIdle(SPOT);
    const noticed = new Set([id]);
    const hidden = new Set<string>();
    rewriteListings(hidden, noticed);
    await sync();
    await sync();
    assert.equal(events.length, 1);
    assert.equal(events[0].phase, 'notice');
    assert.equal(h.pool.instances().find((v) => v.instance === id)?.reclaimNotice, 'the provider says it is reclaiming the instance');
    hidden.add(id);
    await sync();
    assert.deepEqual(
      events.map((e) => [e.phase, e.reason]),
      [
        ['notice', 'the provider says it is reclaiming the instance'],
        ['gone', 'the provider says it is reclaiming the instance'],
      ],
    );
  });

  it('a VM we are shutting down is no reclaim: a listing that says the provider takes it back (it is going: we asked) tells no notice', async () => {
    const id = await h.createIdle(SPOT);
    const listed = (await h.lame.instances({})).find((i) => i.id === id)!;
    h.pool.killInstance(id, 'test');
    await h.tick(0);
    // The destroy was asked; the provider still lists the VM, terminating, as reclaimed.
    const list = h.lame.instances.bind(h.lame);
    h.lame.instances = async (filter: InstanceTags) => [...(await list(filter)).filter((i) => i.id !== id), Object.assign(Object.create(listed) as Instance, { reclaimed: true })];
    await sync();
    assert.ok(h.pool.detail(id), 'still listed, so still in the pool');
    assert.deepEqual(events, [], 'no reclaim counted for a VM we shut down');
    assert.equal(h.pool.instances().find((v) => v.instance === id)?.reclaimNotice, undefined);
  });

  it('an on-demand VM the provider said it takes back is told gone as a reclaim when it leaves the list', async () => {
    const id = await h.createIdle(SMALL);
    const noticed = new Set([id]);
    const hidden = new Set<string>();
    rewriteListings(hidden, noticed);
    await sync();
    hidden.add(id);
    await sync();
    assert.equal(h.pool.detail(id), undefined);
    assert.deepEqual(
      events.map((e) => [e.phase, e.preemptible, e.reason]),
      [
        ['notice', false, 'the provider says it is reclaiming the instance'],
        ['gone', false, 'the provider says it is reclaiming the instance'],
      ],
    );
  });

  it("crunch-run's notice (noticeReclaim by container) needs a VM running that container", () => {
    assert.equal(h.pool.noticeReclaim('zzzzz-dz642-000000000000000', 'preemption notice'), false);
    assert.deepEqual(events, []);
  });
});

describe("worker pool: crunch-run's interruption notice", () => {
  it('marks the VM running that container, keeps the first notice, and leaves other VMs alone', async () => {
    const f = new FakeCloud();
    const [a, b] = [f.seed(), f.seed()];
    await f.pool.syncNow();
    await f.probe();
    const ctr = { uuid: 'zzzzz-dz642-000000000000001', state: 'Locked', priority: 1, runtime_constraints: { ram: 1 << 30, vcpus: 1 }, scheduling_parameters: {}, container_image: 'img', created_at: '2026-01-01T00:00:00Z' } as Container;
    assert.equal(f.pool.startContainer(a, ctr), true);
    await f.tick(0);
    assert.equal(f.pool.noticeReclaim(ctr.uuid, 'crunch-run: terminate at 12:00'), true);
    assert.equal(f.pool.noticeReclaim(ctr.uuid, 'crunch-run: terminate at 12:05'), true);
    const notices = Object.fromEntries(f.pool.instances().map((v) => [v.instance, v.reclaimNotice]));
    assert.deepEqual(notices, { [a]: 'crunch-run: terminate at 12:00', [b]: undefined });
  });

  it('tells subscribers of the notice, so the scheduler stops counting on that VM at once', async () => {
    const f = new FakeCloud();
    const a = f.seed();
    await f.pool.syncNow();
    await f.probe();
    const ctr = { uuid: 'zzzzz-dz642-000000000000001', state: 'Locked', priority: 1, runtime_constraints: { ram: 1 << 30, vcpus: 1 }, scheduling_parameters: {}, container_image: 'img', created_at: '2026-01-01T00:00:00Z' } as Container;
    assert.equal(f.pool.startContainer(a, ctr), true);
    await f.tick(0);
    let calls = 0;
    f.pool.subscribe(() => calls++);
    assert.equal(f.pool.noticeReclaim(ctr.uuid, 'crunch-run: terminate at 12:00'), true);
    await f.tick(0);
    assert.ok(calls > 0, 'subscribers hear of the notice');
  });
});
