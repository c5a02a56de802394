/**
 * The pass's instance index: its placement order, and that its per-key
 * cursors give exactly what a plain scan of every instance would.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import type { InstanceType } from '../../src/config/types.js';
import { createLogger, LineCollector, RateLimitedLog, silentLogger } from '../../src/log.js';
import type { InstanceResources, InstanceView, QueueEntry, WorkerState } from '../../src/scheduler/interfaces.js';
import { containerCharge, fits, resourcesOfType } from '../../src/scheduler/resources.js';
import { READY, SlotIndex, type Slot } from '../../src/scheduler/slots.js';
import { GiB, testCluster } from './fakes.js';

const cluster = testCluster({ types: [1, 2, 4, 8] });
const types = Object.values(cluster.InstanceTypes).sort((a, b) => a.Price - b.Price);
const typeOf = (name: string): InstanceType | undefined => cluster.InstanceTypes[name];
const warnings = (): RateLimitedLog => new RateLimitedLog(silentLogger(), new ManualClock());

let ids = 0;
function view(type: InstanceType, state: WorkerState, running: string[] = []): InstanceView {
  return {
    instance: `i-${String(ids++).padStart(4, '0')}`,
    address: '10.0.0.1',
    price: type.Price,
    arvadosInstanceType: type.Name,
    providerInstanceType: type.ProviderType,
    lastContainerUUID: '',
    lastBusy: 0,
    runningContainerUUIDs: running,
    workerState: state,
    idleBehavior: 'run',
  };
}

function entry(uuid: string, need: InstanceResources, eligible: InstanceType[]): QueueEntry {
  return {
    container: { uuid, state: 'Locked', priority: 1, created_at: '2026-01-01T00:00:00Z', container_image: 'x' } as QueueEntry['container'],
    instanceTypes: eligible,
    instanceResources: need,
    firstSeenAt: 0,
  };
}

const small = (vcpus: number): InstanceResources => ({ vcpus, ram: vcpus * GiB, scratch: 0, gpus: 0, gpuVRAM: 0 });

/** Shape ids as PassView gives them: one per (type list, size) pair of objects. */
const shapeIds = new Map<InstanceType[], Map<InstanceResources, number>>();
let shapes = 0;
function find(idx: SlotIndex, e: QueueEntry, charge = containerCharge(e.instanceResources)): Slot | undefined {
  let bySize = shapeIds.get(e.instanceTypes);
  if (!bySize) shapeIds.set(e.instanceTypes, (bySize = new Map()));
  let id = bySize.get(e.instanceResources);
  if (id === undefined) bySize.set(e.instanceResources, (id = shapes++));
  return idx.find(id, e.instanceTypes, charge, e.container.uuid);
}

describe('scheduler slot index', () => {
  it('prefers a ready instance, then a busier one, then the cheaper one; created instances come last', () => {
    const [t1, t2] = [types[0], types[1]]; // 1 and 2 VCPUs
    const views = [view(t1, 'booting'), view(t2, 'idle'), view(t2, 'running', ['r1']), view(t1, 'idle')];
    const sizes = new Map([['r1', small(1)]]);
    const idx = SlotIndex.build(views, typeOf, (u) => sizes.get(u), 0, warnings());
    const e = entry('c1', small(1), [t1, t2]);
    assert.equal(find(idx, e)?.view.instance, views[2].instance, 'busy ready instance first');
    idx.allocate(find(idx, e)!, 'c1', small(1));
    // views[2] is now full: next is the cheaper idle one, not the booting one.
    assert.equal(find(idx, e)?.view.instance, views[3].instance);
  });

  it('puts instances drain to save marks after the other busy ready ones, but before empty ones and booting ones', () => {
    const t = types[3]; // 8 VCPUs
    const views = [view(t, 'booting'), view(t, 'running', ['r1', 'r2']), view(t, 'running', ['r3']), view(t, 'idle')];
    const sizes = new Map([['r1', small(1)], ['r2', small(1)], ['r3', small(6)]]);
    let seen: readonly Slot[] = [];
    const idx = SlotIndex.build(views, typeOf, (u) => sizes.get(u), 0, warnings(), (all) => {
      seen = all;
      return new Set([views[1].instance]);
    });
    assert.equal(seen.length, 4, 'the drain choice sees every instance');
    const e = entry('c1', small(2), [t]);
    // views[1] is the busier, but draining: views[2] (2 VCPUs free) first.
    assert.equal(find(idx, e)?.view.instance, views[2].instance);
    idx.allocate(find(idx, e)!, 'c1', small(2));
    // Nothing else busy has room: the draining one (up anyway) rather than the empty one (which could shut down) or the booting one.
    const d = find(idx, entry('c2', e.instanceResources, e.instanceTypes));
    assert.equal(d?.view.instance, views[1].instance);
    assert.equal(d?.draining, true);
    idx.allocate(d!, 'c2', small(6));
    assert.equal(find(idx, entry('c3', e.instanceResources, e.instanceTypes))?.view.instance, views[3].instance);
  });

  it('finds nothing for a container too big for every instance, then finds an instance created in the pass', () => {
    const t = types[0];
    const idx = SlotIndex.build([view(t, 'idle', ['r1'])], typeOf, () => small(t.VCPUs), 0, warnings());
    const e = entry('c1', small(1), [t]);
    assert.equal(find(idx, e), undefined);
    assert.equal(find(idx, e), undefined, 'asked again: still nothing');
    const created: Slot = { view: view(t, 'booting'), type: t, free: resourcesOfType(t), rank: 0 };
    idx.addCreated(created);
    assert.equal(find(idx, e), created);
  });

  it('warns, as the reference logs, when an empty idle instance of an eligible type is too small for the container: a type chosen as big enough is not', () => {
    const t = types[0];
    const lines = new LineCollector();
    const log = new RateLimitedLog(createLogger({ stream: lines, level: 'debug', clock: new ManualClock() }), new ManualClock());
    // Full, but not a sign of a bug: idle yet given a container earlier in the pass, running one, booting.
    const filled = view(t, 'idle');
    const full = SlotIndex.build([filled, view(t, 'running', ['r1']), view(t, 'booting')], typeOf, () => small(t.VCPUs), 0, log);
    const first = find(full, entry('c0', small(1), [t]))!;
    assert.equal(first.view.instance, filled.instance);
    full.allocate(first, 'c0', small(1));
    assert.equal(find(full, entry('c1', small(2), [t])), undefined);
    assert.deepEqual(lines.records(), [], 'an instance that runs something or is booting may just be full');
    const empty = view(t, 'idle');
    const idx = SlotIndex.build([empty], typeOf, () => small(t.VCPUs), 0, log);
    assert.equal(find(idx, entry('c2', small(2), [t])), undefined);
    assert.deepEqual(
      lines.records().map((r) => [r.level, r.msg, r.ContainerUUID, r.Instance, r.InstanceType]),
      [['warning', 'BUG? insufficient resources on idle instance', 'c2', empty.instance, t.Name]],
    );
  });

  it('respects MaxRunningContainersPerInstance', () => {
    const t = types[3];
    const idx = SlotIndex.build([view(t, 'idle')], typeOf, () => undefined, 1, warnings());
    const e = entry('c1', small(1), [t]);
    const s = find(idx, e)!;
    idx.allocate(s, 'c1', small(1));
    assert.equal(find(idx, entry('c2', e.instanceResources, e.instanceTypes)), undefined);
  });

  it('places like a scan of every instance in placement order, over random passes', () => {
    let seed = 7;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pickOf = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
    for (let pass = 0; pass < 40; pass++) {
      const maxPer = pickOf([0, 0, 1, 2, 3]);
      const sizes = new Map<string, InstanceResources>();
      const views: InstanceView[] = [];
      for (let i = 0; i < 30; i++) {
        const t = pickOf(types);
        const state = pickOf<WorkerState>(['idle', 'running', 'booting', 'unknown', 'shutdown']);
        const running: string[] = [];
        if (state === 'running' || (state === 'booting' && rnd() < 0.5)) {
          const u = `r${pass}-${i}`;
          sizes.set(u, small(Math.max(1, Math.floor((rnd() * t.VCPUs) / 2))));
          running.push(u);
        }
        const v = view(t, state, running);
        if (rnd() < 0.1) v.idleBehavior = 'hold';
        views.push(v);
      }
      const idx = SlotIndex.build(views, typeOf, (u) => sizes.get(u), maxPer, warnings());
      // The reference: every slot of the index, scanned in rank order.
      const naive = (e: QueueEntry, charge: InstanceResources): Slot | undefined =>
        [...idx.all]
          .sort((a, b) => a.rank - b.rank)
          .find(
            (s) =>
              ['unknown', 'booting', 'idle', 'running'].includes(s.view.workerState) &&
              s.view.idleBehavior === 'run' &&
              e.instanceTypes.some((t) => t.Name === s.view.arvadosInstanceType) &&
              (maxPer === 0 || s.view.runningContainerUUIDs.length < maxPer) &&
              fits(s.free, charge),
          );
      // A few shapes, shared by many containers as the queue shares them.
      const menu = Array.from({ length: 5 }, () => {
        const need = small(pickOf([0, 1, 1, 2, 4]));
        const lo = types.findIndex((t) => t.VCPUs >= need.vcpus);
        return { need, eligible: types.slice(lo, lo + 1 + Math.floor(rnd() * 2)) };
      });
      let placed = 0;
      for (let c = 0; c < 120; c++) {
        const { need, eligible } = pickOf(menu);
        const e = entry(`c${pass}-${c}`, need, eligible);
        const charge = containerCharge(need);
        const want = naive(e, charge);
        const got = find(idx, e, charge);
        assert.equal(got, want, `pass ${pass} container ${c}`);
        if (got) {
          idx.allocate(got, e.container.uuid, charge);
          placed++;
        } else if (rnd() < 0.3) {
          const t = e.instanceTypes[0];
          idx.addCreated({ view: view(t, 'booting'), type: t, free: resourcesOfType(t), rank: 0 });
        }
      }
      assert.ok(placed > 0);
    }
  });

  it('among ready instances that run something, takes the one running more containers, even over a cheaper one', () => {
    // Packing: with several containers per VM, work goes to the fullest VM
    // that fits, so others can empty and idle out. The emptier one comes
    // first by id and is cheaper, so only the container count can pick the other.
    const t = types[3]; // 8 VCPUs
    const views = [view(t, 'running', ['a']), view(t, 'running', ['b', 'c'])];
    views[0].price = t.Price - 0.01;
    const idx = SlotIndex.build(views, typeOf, () => small(1), 4, warnings());
    const e = entry('c1', small(1), [t]);
    const first = find(idx, e);
    assert.equal(first?.view.instance, views[1].instance, 'the one with 2 containers, not the one with 1');
    idx.allocate(first!, 'c1', small(1));
    // It keeps filling the same VM until it is at MaxRunningContainersPerInstance.
    assert.equal(find(idx, entry('c2', e.instanceResources, e.instanceTypes))?.view.instance, views[1].instance);
    const byRank = [...idx.all].sort((a, b) => a.rank - b.rank);
    assert.deepEqual(byRank.map((s) => s.view.instance), [views[1].instance, views[0].instance]);
  });

  it('orders ready instances before others and busier before emptier in its ranks', () => {
    const t = types[2];
    const views = [view(t, 'booting', ['a']), view(t, 'idle'), view(t, 'running', ['b'])];
    const idx = SlotIndex.build(views, typeOf, () => small(1), 0, warnings());
    const byRank = [...idx.all].sort((a, b) => a.rank - b.rank);
    assert.deepEqual(
      byRank.map((s) => [READY.has(s.view.workerState), s.view.runningContainerUUIDs.length]),
      [
        [true, 1],
        [true, 0],
        [false, 1],
      ],
    );
  });
});

describe('scheduler slot index: reclaim notices', () => {
  it("a VM with the provider's reclaim notice takes no new container, however ready and busy it is", () => {
    const t1 = types[0];
    const noticed = { ...view(t1, 'running', ['r1']), reclaimNotice: 'preemption notice' };
    const other = view(t1, 'idle');
    const idx = SlotIndex.build([noticed, other], typeOf, () => small(0), 0, warnings());
    const e = entry('c1', small(0), [t1]);
    assert.equal(find(idx, e)?.view.instance, other.instance, 'the busier VM would come first without its notice');
    assert.equal(idx.eligible(idx.slotOf(noticed.instance)!, [t1]), false);
    const alone = SlotIndex.build([{ ...noticed }], typeOf, () => small(0), 0, warnings());
    assert.equal(find(alone, entry('c2', small(0), [t1])), undefined);
  });
});
