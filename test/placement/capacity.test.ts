/**
 * The end-of-pass capacity step with an object-literal pool: what it keeps
 * from the idle timeout, what it creates and with which note, and the caps
 * (quota, declined creates, the speculative spend), and how it counts
 * pre-warmed VMs that went unused.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/manual.js';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import type { InstanceType } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { CapacityPlanner, capacityPlanner, PREWARM_NOTE } from '../../src/placement/capacity.js';
import type { InstanceView, QueueEntry } from '../../src/scheduler/interfaces.js';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

function type(name: string, price: number): InstanceType {
  return { Name: name, ProviderType: name, VCPUs: 2, RAM: 2 ** 32, Scratch: 0, IncludedScratch: 0, AddedScratch: 0, Price: price, Preemptible: false, GPU: { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 } };
}
const TYPES = { a: type('a', 1), b: type('b', 2) };

function vm(id: string, t: string, o: Partial<InstanceView> = {}): InstanceView {
  return { instance: id, address: '', price: 1, arvadosInstanceType: t, providerInstanceType: t, lastContainerUUID: '', lastBusy: 0, runningContainerUUIDs: [], workerState: 'idle', idleBehavior: 'run', ...o };
}

/** A pool that records creates (declining after `budget`) and the keep set. */
function fakePool(budget = Infinity): { create(t: InstanceType, note?: string): InstanceView | undefined; keepWarm(ids: ReadonlySet<string>): void; created: Array<[string, string | undefined]>; kept: string[] } {
  const pool = {
    created: [] as Array<[string, string | undefined]>,
    kept: [] as string[],
    create(t: InstanceType, note?: string): InstanceView | undefined {
      if (pool.created.length >= budget) return undefined;
      pool.created.push([t.Name, note]);
      return vm(`pending-${pool.created.length}`, t.Name, { workerState: 'booting', ...(note === undefined ? {} : { note }) });
    },
    keepWarm(ids: ReadonlySet<string>): void {
      pool.kept = [...ids].sort();
    },
  };
  return pool;
}

function planner(s: Partial<Settings>, pool: ReturnType<typeof fakePool>, clock = new ManualClock(T0)): CapacityPlanner {
  const settings = { ...defaultSettings(), ...s };
  const p = capacityPlanner({ settings, cluster: { InstanceTypes: TYPES }, pool, clock, logger: createLogger({ level: 'error' }), bootMs: () => 60_000, parents: NO_PARENTS });
  assert.ok(p);
  return p;
}

const NO_ENTRIES = new Map<string, QueueEntry>();
const NO_PARENTS = { parentOf: (): null => null, version: 0 };

describe('capacity step: warm pools', () => {
  it('is not built when warm pools and pre-warming are both off', () => {
    const settings = defaultSettings();
    assert.equal(capacityPlanner({ settings, cluster: { InstanceTypes: TYPES }, pool: fakePool(), clock: new ManualClock(T0), logger: createLogger({ level: 'error' }), bootMs: () => 0, parents: NO_PARENTS }), undefined);
  });

  it('refuses to be built for a warm pool of an instance type the cluster does not have, naming the pool', () => {
    const settings = { ...defaultSettings(), WarmPools: { Pools: [{ InstanceType: 'a', Min: 1 }, { InstanceType: 'zz', Min: 1 }], BusyFraction: 0 } };
    assert.throws(
      () => capacityPlanner({ settings, cluster: { InstanceTypes: TYPES }, pool: fakePool(), clock: new ManualClock(T0), logger: createLogger({ level: 'error' }), bootMs: () => 0, parents: NO_PARENTS }),
      { message: 'settings: WarmPools.Pools.1.InstanceType: no instance type "zz" in the cluster config' },
    );
  });

  it('keeps Min idle VMs from the idle timeout (booting ones count) and creates the missing ones with a note', () => {
    const pool = fakePool();
    const p = planner({ WarmPools: { Pools: [{ InstanceType: 'a', Min: 4 }], BusyFraction: 0 } }, pool);
    p.afterPlacement(
      [vm('i1', 'a'), vm('i2', 'a', { workerState: 'booting' }), vm('i3', 'a', { runningContainerUUIDs: ['c'] }), vm('i4', 'a', { idleBehavior: 'hold' }), vm('i5', 'b')],
      NO_ENTRIES,
      false,
    );
    assert.deepEqual(pool.kept, ['i1', 'i2']);
    assert.deepEqual(pool.created, [['a', 'warm pool 0 (a)'], ['a', 'warm pool 0 (a)']]);
    assert.deepEqual(p.stats.created, { warm_pool: 2, prewarm: 0 });
  });

  it('keeps no more than the target, and none once the schedule has closed', async () => {
    const pool = fakePool();
    const clock = new ManualClock(T0);
    const schedule = { Days: ['Mon' as const], From: '08:00', Until: '13:00', TimeZone: 'UTC' };
    const p = planner({ WarmPools: { Pools: [{ InstanceType: 'a', Min: 1, Schedule: schedule }], BusyFraction: 0 } }, pool, clock);
    p.afterPlacement([vm('i1', 'a'), vm('i2', 'a')], NO_ENTRIES, false);
    assert.deepEqual(pool.kept, ['i1']);
    await clock.advance(3_600_000);
    p.afterPlacement([vm('i1', 'a'), vm('i2', 'a')], NO_ENTRIES, false);
    assert.deepEqual(pool.kept, [], 'after 13:00 they idle out as usual');
    assert.deepEqual(pool.created, []);
  });

  it('creates nothing at quota (but still keeps), and stops a type at the first declined create', () => {
    const pool = fakePool(1);
    const p = planner({ WarmPools: { Pools: [{ InstanceType: 'a', Min: 2 }, { InstanceType: 'b', Min: 1 }], BusyFraction: 0 } }, pool);
    p.afterPlacement([vm('i1', 'a')], NO_ENTRIES, true);
    assert.deepEqual(pool.kept, ['i1']);
    assert.deepEqual(pool.created, []);
    p.afterPlacement([], NO_ENTRIES, false);
    assert.deepEqual(pool.created, [['a', 'warm pool 0 (a)']], 'one accepted, then declined: b is asked once too');
  });
});

describe('capacity step: pre-warming', () => {
  /** A planner whose learner predicts `vms` VMs of type `t` for runner r now. */
  function withNeed(pool: ReturnType<typeof fakePool>, t: string, vms: number, spend: number, clock = new ManualClock(T0)): CapacityPlanner {
    const p = planner({ PreWarm: { Enable: true, MaxSpeculativeSpend: spend, Lead: 0, MinConfidence: 0.5 } }, pool, clock);
    p.learner.needs = () => [{ runner: 'r', type: t, vms, arriveAt: clock.now() + 60_000, confidence: 1 }];
    return p;
  }

  it('creates the predicted VMs less the idle ones beyond the warm target, with a note naming the runner', () => {
    const pool = fakePool();
    const p = withNeed(pool, 'a', 3, 100);
    p.afterPlacement([vm('i1', 'a')], NO_ENTRIES, false);
    assert.deepEqual(pool.kept, ['i1']);
    assert.deepEqual(pool.created, [
      ['a', `${PREWARM_NOTE}r's children (#1)`],
      ['a', `${PREWARM_NOTE}r's children (#2)`],
    ]);
    assert.deepEqual(p.stats.created, { warm_pool: 0, prewarm: 2 });
  });

  it('never lets unused pre-warmed VMs cost more than MaxSpeculativeSpend per hour', () => {
    const pool = fakePool();
    const p = withNeed(pool, 'b', 5, 5);
    p.afterPlacement([], NO_ENTRIES, false);
    assert.equal(pool.created.length, 2, '$2/h each: two fit under $5/h');
    // Still unused at the next pass: nothing more.
    p.afterPlacement(pool.created.map(([t, note], i) => vm(`v${i}`, t, { note, workerState: 'booting' })), NO_ENTRIES, false);
    assert.equal(pool.created.length, 2);
  });

  it('counts a pre-warmed VM that went away unused as wasted, with its cost; a used one is not', async () => {
    const pool = fakePool();
    const clock = new ManualClock(T0);
    const p = withNeed(pool, 'a', 2, 100, clock);
    p.afterPlacement([], NO_ENTRIES, false);
    const [n1, n2] = pool.created.map(([, note]) => note!);
    p.learner.needs = () => [];
    await clock.advance(30 * 60_000);
    p.afterPlacement([vm('v1', 'a', { note: n1, lastContainerUUID: 'c1' }), vm('v2', 'a', { note: n2 })], NO_ENTRIES, false);
    await clock.advance(30 * 60_000);
    p.afterPlacement([vm('v1', 'a', { note: n1, lastContainerUUID: 'c1' })], NO_ENTRIES, false);
    assert.equal(p.stats.prewarmUsed, 1);
    assert.equal(p.stats.prewarmWasted, 1);
    assert.equal(p.stats.prewarmWastedCost, 0.5, '$1/h for the 30 minutes it was seen');
  });

  it('does not count the idle VMs a warm pool keeps as covering a predicted need', () => {
    const pool = fakePool();
    const clock = new ManualClock(T0);
    const p = planner({ WarmPools: { Pools: [{ InstanceType: 'a', Min: 2 }], BusyFraction: 0 }, PreWarm: { Enable: true, MaxSpeculativeSpend: 100, Lead: 0, MinConfidence: 0.5 } }, pool, clock);
    p.learner.needs = () => [{ runner: 'r', type: 'a', vms: 2, arriveAt: clock.now() + 60_000, confidence: 1 }];
    p.afterPlacement([vm('i1', 'a'), vm('i2', 'a')], NO_ENTRIES, false);
    assert.deepEqual(pool.created, [
      ['a', `${PREWARM_NOTE}r's children (#1)`],
      ['a', `${PREWARM_NOTE}r's children (#2)`],
    ]);
    assert.deepEqual(p.stats.created, { warm_pool: 0, prewarm: 2 });
  });

  it('does not count a pre-warmed VM that ran a container as wasted when it goes away', async () => {
    const pool = fakePool();
    const clock = new ManualClock(T0);
    const p = withNeed(pool, 'a', 1, 100, clock);
    p.afterPlacement([], NO_ENTRIES, false);
    const [[, note]] = pool.created;
    p.learner.needs = () => [];
    await clock.advance(30 * 60_000);
    p.afterPlacement([vm('v1', 'a', { note, runningContainerUUIDs: ['c1'] })], NO_ENTRIES, false);
    await clock.advance(30 * 60_000);
    p.afterPlacement([], NO_ENTRIES, false);
    assert.deepEqual([p.stats.prewarmUsed, p.stats.prewarmWasted, p.stats.prewarmWastedCost], [1, 0, 0]);
  });

  it('under the spend cap, pre-warms for the children expected soonest first', () => {
    const pool = fakePool();
    const clock = new ManualClock(T0);
    const p = planner({ PreWarm: { Enable: true, MaxSpeculativeSpend: 2, Lead: 0, MinConfidence: 0.5 } }, pool, clock);
    p.learner.needs = () => [
      { runner: 'later', type: 'b', vms: 1, arriveAt: clock.now() + 120_000, confidence: 1 },
      { runner: 'sooner', type: 'b', vms: 1, arriveAt: clock.now() + 30_000, confidence: 1 },
    ];
    p.afterPlacement([], NO_ENTRIES, false);
    assert.deepEqual(pool.created, [['b', `${PREWARM_NOTE}sooner's children (#1)`]], '$2/h each: room for one under $2/h');
  });

  it('counts only unused pre-warmed VMs against MaxSpeculativeSpend: one that runs a container is no longer speculation', () => {
    const pool = fakePool();
    const p = withNeed(pool, 'b', 1, 2);
    p.afterPlacement([], NO_ENTRIES, false);
    assert.equal(pool.created.length, 1);
    const [[, note]] = pool.created;
    // It runs a container now; the learner still predicts a child of type b.
    p.afterPlacement([vm('v1', 'b', { note, runningContainerUUIDs: ['c1'], workerState: 'running' })], NO_ENTRIES, false);
    assert.equal(pool.created.length, 2, '$2/h of unused speculation at most: the used VM does not count');
  });
});
