/**
 * Spot fallback (settings `SpotFallback`): the rules, one by one, on the
 * planner with object-literal entries, then through real scheduling passes
 * over the scheduler's fakes.
 */
import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { ManualClock } from '../../src/clock/index.js';
import type { Cluster, InstanceType } from '../../src/config/types.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { SHORTAGE_MEMORY_MS, SpotFallback } from '../../src/placement/spot-fallback.js';
import { chooseInstanceTypes, instanceResourcesNeeded } from '../../src/queue/instance-types.js';
import type { QueueEntry } from '../../src/scheduler/interfaces.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { describeBlocker } from '../../src/scheduler/why-text.js';
import { FakeClient, FakePool, FakeQueue, GiB, testCluster, uuid } from '../scheduler/harness.js';

const MIN = 60_000;
const AFTER = 5 * MIN;

/** type2..type5, preemptible variants at 40%; eligible types within 1.5x the cheapest. */
const cluster = (): Cluster => testCluster({ containers: { MaximumPriceFactor: 1.5, PreemptiblePriceFactor: 0.4 }, types: [2, 3, 4, 5] });

function entryFor(c: Cluster, vcpus: number, id = 1): QueueEntry {
  const container = {
    uuid: uuid(id),
    state: 'Locked',
    priority: 1,
    runtime_constraints: { vcpus, ram: GiB },
    scheduling_parameters: { preemptible: true },
    container_image: 'd41d8cd98f00b204e9800998ecf8427e+0',
    mounts: {},
  } as unknown as Container;
  return { container, instanceTypes: chooseInstanceTypes(c, container), instanceResources: instanceResourcesNeeded(c, container), firstSeenAt: 0 };
}

describe('spot fallback: the planner', () => {
  let clock: ManualClock;
  beforeEach(() => {
    clock = new ManualClock(1_000_000);
  });
  /** Lets `ms` pass with a pass every 10 s (PollInterval) that finds spot still out. */
  const outFor = async (p: SpotFallback, e: QueueEntry, ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 10_000) {
      await clock.advance(Math.min(10_000, ms - t));
      p.decide(e, () => false);
    }
  };
  const planner = (c: Cluster, capacitySince?: (t: InstanceType) => number | undefined): SpotFallback =>
    new SpotFallback({ settings: { Enable: true, After: AFTER }, cluster: c, clock, capacitySince });

  it('goes on as usual while a spot type has room', () => {
    const c = cluster();
    assert.equal(planner(c).decide(entryFor(c, 2), () => true), undefined);
  });

  it('waits until every eligible spot type has been out for After, then gives the on-demand types', async () => {
    const c = cluster();
    const p = planner(c);
    const e = entryFor(c, 2);
    assert.deepEqual(e.instanceTypes.map((t) => t.Name), ['type2.preemptible', 'type3.preemptible']);
    const first = p.decide(e, () => false);
    assert.equal(first?.onDemand, undefined);
    assert.equal(first?.wait?.since, 1_000_000);
    assert.equal(first?.wait?.fallbackAt, 1_000_000 + AFTER);
    await outFor(p, e, AFTER - 1000);
    assert.equal(p.decide(e, () => false)?.onDemand, undefined, 'not before After');
    await clock.advance(1000);
    assert.deepEqual(p.decide(e, () => false)?.onDemand?.map((t) => t.Name), ['type2', 'type3'], 'on-demand, within MaximumPriceFactor of the cheapest on-demand type');
  });

  it('counts from when the LAST spot type ran out (every one must be out), using the pool\'s since when it has one', () => {
    const c = cluster();
    const since: Record<string, number> = { 'type2.preemptible': 1_000_000 - 10 * MIN, 'type3.preemptible': 1_000_000 - 2 * MIN };
    const w = planner(c, (t) => since[t.Name]).decide(entryFor(c, 2), () => false)!.wait!;
    assert.equal(w.since, 1_000_000 - 2 * MIN);
    assert.equal(w.fallbackAt, 1_000_000 - 2 * MIN + AFTER);
  });

  it('a shortage lasts until a VM of the type is created, or it has not been seen for SHORTAGE_MEMORY_MS', async () => {
    const c = cluster();
    const p = planner(c);
    const e = entryFor(c, 2);
    p.decide(e, () => false);
    // Everyone fell back; nothing asked for spot for a while (the pool's capacity memory lapsed), then spot is out again.
    await clock.advance(20 * MIN);
    assert.equal(p.decide(e, () => false)!.wait!.since, 1_000_000, 'the same outage: no new After to wait');
    p.instanceCreated('type3.preemptible');
    await clock.advance(MIN);
    assert.equal(p.decide(e, () => false)!.wait!.since, 1_000_000 + 21 * MIN, 'type3.preemptible had capacity again: a new shortage');
    await clock.advance(SHORTAGE_MEMORY_MS + 1);
    assert.equal(p.decide(e, () => false)!.wait!.since, 1_000_000 + 21 * MIN + SHORTAGE_MEMORY_MS + 1, 'forgotten after an hour unseen');
  });

  it('MaximumPriceFactor bounds the on-demand types; none fitting means no fallback', async () => {
    const c = cluster();
    const p = planner(c);
    const big = entryFor(c, 4);
    p.decide(big, () => false);
    await outFor(p, big, AFTER);
    assert.deepEqual(p.decide(big, () => false)?.onDemand?.map((t) => t.Name), ['type4', 'type5']);
    const onlySpot = testCluster({ containers: { MaximumPriceFactor: 1 }, types: [2] });
    onlySpot.InstanceTypes = { 'type2.spot': { ...onlySpot.InstanceTypes.type2!, Name: 'type2.spot', Preemptible: true } };
    const p2 = planner(onlySpot);
    const e = entryFor(onlySpot, 2);
    assert.equal(p2.decide(e, () => false)!.wait!.fallbackAt, Infinity);
    await outFor(p2, e, 2 * AFTER);
    assert.equal(p2.decide(e, () => false)!.onDemand, undefined);
  });

  it('a container that fell back stays on demand, even once spot has room; counted once', async () => {
    const c = cluster();
    const p = planner(c);
    const e = entryFor(c, 2);
    p.decide(e, () => false);
    await outFor(p, e, AFTER);
    const d = p.decide(e, () => false)!;
    const r = p.fellBack(e, d.onDemand![0], d.wait);
    assert.deepEqual(r && { spot: r.spotType, od: r.onDemandType }, { spot: 'type2.preemptible', od: 'type2' });
    assert.equal(p.fellBack(e, d.onDemand![0], d.wait), undefined);
    assert.deepEqual(p.decide(e, () => true)?.onDemand?.map((t) => t.Name), ['type2', 'type3']);
    assert.deepEqual(p.stats(), { containers: 1, byType: { type2: 1 } });
    p.prune(() => false);
    assert.equal(p.decide(e, () => true), undefined, 'forgotten once it left the queue');
  });
});

/** Runs a pass now and then every 10 s (PollInterval) for `ms`. */
async function passes(s: { clock: ManualClock; sch: Scheduler }, ms: number): Promise<void> {
  s.sch.runQueue();
  for (let t = 0; t < ms; t += 10_000) {
    await s.clock.advance(Math.min(10_000, ms - t));
    s.sch.runQueue();
  }
}

describe('spot fallback: scheduling passes', () => {
  function setup(fallback: boolean): { clock: ManualClock; queue: FakeQueue; pool: FakePool; sch: Scheduler; timeline: string[]; spot?: SpotFallback } {
    const c = cluster();
    const clock = new ManualClock(1_000_000);
    const queue = new FakeQueue(clock, c);
    const pool = new FakePool(clock);
    // Spot capacity is out for every type; on-demand has room.
    Object.assign(pool, { atCapacity: (t: InstanceType) => t.Preemptible });
    const timeline: string[] = [];
    const spot = fallback ? new SpotFallback({ settings: { Enable: true, After: AFTER }, cluster: c, clock }) : undefined;
    const sch = new Scheduler({
      queue,
      pool,
      client: new FakeClient(),
      cluster: c,
      clock,
      logger: createLogger({ stream: new LineCollector(), level: 'debug', clock }),
      timeline: {
        vmRequested: (u, t) => timeline.push(`vm_requested ${u} ${t}`),
        unlocking: () => undefined,
        cancelling: () => undefined,
        spotFallback: (u, d) => timeline.push(`spot_fallback ${u} ${d.instance_type} from ${d.spot_instance_type} out since ${d.spot_out_since}`),
      },
      ...(spot ? { spotFallback: spot } : {}),
    });
    return { clock, queue, pool, sch, timeline, spot };
  }

  it('off: a preemptible container waits for spot however long, as today', async () => {
    const s = setup(false);
    s.queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 2, preemptible: true });
    await passes(s, 60 * MIN);
    assert.deepEqual(s.pool.creates, []);
    assert.equal(s.sch.why()!.blockerOf(uuid(1))?.reason, 'types_at_capacity');
  });

  it('on: says why it waits and when it falls back, then creates the on-demand type and says so once', async () => {
    const s = setup(true);
    s.queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 2, preemptible: true });
    s.sch.runQueue();
    const b = s.sch.why()!.blockerOf(uuid(1))!;
    assert.equal(b.reason, 'spot_capacity_out');
    assert.equal(describeBlocker(b), 'spot capacity out for type2.preemptible(+1 more) since 00:16:40; falling back to on-demand at 00:21:40');
    await passes(s, AFTER - 1000);
    assert.deepEqual(s.pool.creates, []);
    await passes(s, 1000);
    assert.deepEqual(s.pool.creates, ['type2']);
    s.sch.runQueue();
    assert.deepEqual(s.pool.creates, ['type2'], 'placed on the VM created for it, not another');
    assert.deepEqual(s.timeline, [
      `spot_fallback ${uuid(1)} type2 from type2.preemptible out since ${new Date(1_000_000).toISOString()}`,
      `vm_requested ${uuid(1)} type2`,
    ]);
    assert.deepEqual(s.spot!.stats(), { containers: 1, byType: { type2: 1 } });
  });

  it('on: an idle spot VM with room is used rather than falling back', async () => {
    const s = setup(true);
    const c = cluster();
    s.pool.addWorker(c.InstanceTypes['type2.preemptible']!);
    s.queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 2, preemptible: true });
    await passes(s, AFTER);
    assert.deepEqual(s.pool.creates, []);
    assert.deepEqual(s.pool.starts, [uuid(1)]);
    assert.equal(s.spot!.stats().containers, 0);
  });

  it('on: a container that did not ask for preemptible is untouched', async () => {
    const s = setup(true);
    s.queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 2, preemptible: false });
    s.sch.runQueue();
    assert.deepEqual(s.pool.creates, ['type2']);
    assert.deepEqual(s.timeline, [`vm_requested ${uuid(1)} type2`]);
  });

  it('on, with no on-demand type that fits: says spot is out, with no time to fall back at', () => {
    const c = testCluster({ containers: { MaximumPriceFactor: 1 }, types: [2] });
    c.InstanceTypes = { 'type2.spot': { ...c.InstanceTypes.type2!, Name: 'type2.spot', Preemptible: true } };
    const clock = new ManualClock(1_000_000);
    const queue = new FakeQueue(clock, c);
    const pool = new FakePool(clock);
    Object.assign(pool, { atCapacity: (t: InstanceType) => t.Preemptible });
    const spot = new SpotFallback({ settings: { Enable: true, After: AFTER }, cluster: c, clock });
    const logger = createLogger({ stream: new LineCollector(), level: 'debug', clock });
    const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster: c, clock, logger, spotFallback: spot });
    queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 2, preemptible: true });
    sch.runQueue();
    const b = sch.why()!.blockerOf(uuid(1))!;
    assert.equal(b.reason, 'spot_capacity_out');
    if (b.reason !== 'spot_capacity_out') return;
    assert.deepEqual(b.types, ['type2.spot']);
    assert.equal(b.since, new Date(1_000_000).toISOString());
    assert.equal('fallback_at' in b, false);
    assert.doesNotMatch(describeBlocker(b), /falling back/);
  });
});
