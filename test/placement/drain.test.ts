/**
 * Drain to save's choice (`chooseDrain`) and its memory across passes
 * (`DrainPlanner`), on object-literal VMs: which VMs drain, the hysteresis,
 * that a VM drains only when its containers would fit on the VMs kept, and
 * the blame for a later wait.
 */
import assert from 'node:assert/strict';
import type { InstanceType } from '../../src/config/types.js';
import { BLAME_WINDOW_MS, chooseDrain, DrainPlanner, type DrainVM, usedShare } from '../../src/placement/drain.js';
import type { InstanceResources, WorkerState } from '../../src/scheduler/interfaces.js';
import type { Slot } from '../../src/scheduler/slots.js';

const GiB = 2 ** 30;

function res(vcpus: number, ramGiB = vcpus * 4): InstanceResources {
  return { vcpus, ram: ramGiB * GiB, scratch: 0, gpus: 0, gpuVRAM: 0 };
}

/** A VM of `size` VCPUs (4 GiB each, $0.05 per VCPU-hour unless `price`) using `used` VCPUs in `containers` containers. */
function vm(id: string, size: number, used: number, containers = used > 0 ? 1 : 0, price = size * 0.05): DrainVM {
  return { id, price, capacity: res(size), used: res(used), containers };
}

const ids = (m: Map<string, unknown>): string[] => [...m.keys()].sort();

describe('drain to save: choice', () => {
  it('the share is that of the most used resource', () => {
    assert.equal(usedShare({ capacity: res(8, 32), used: res(1, 24) }), 0.75);
    assert.equal(usedShare({ capacity: res(8, 32), used: res(4, 2) }), 0.5);
  });

  it('GPUs, scratch and GPU memory count too: a VM whose every GPU is taken is full, however few VCPUs it uses, and is not drained', () => {
    const gpuVM = (id: string, gpus: number, gpusUsed: number, vcpusUsed: number): DrainVM => ({
      id,
      price: 3,
      capacity: { ...res(16), gpus },
      used: { ...res(vcpusUsed), gpus: gpusUsed },
      containers: 1,
    });
    assert.equal(usedShare(gpuVM('a', 2, 2, 1)), 1);
    assert.equal(usedShare({ capacity: { ...res(16), scratch: 100 * GiB }, used: { ...res(1), scratch: 75 * GiB } }), 0.75);
    assert.equal(usedShare({ capacity: { ...res(16), gpuVRAM: 32 * GiB }, used: { ...res(1), gpuVRAM: 24 * GiB } }), 0.75);
    // 'full' uses 1 of 16 VCPUs but both its GPUs; 'spare' has GPUs free. 'full' stays.
    assert.deepEqual(ids(chooseDrain([gpuVM('full', 2, 2, 1), gpuVM('spare', 4, 2, 12)], new Set(), 0.5)), []);
  });

  it('drains a partly used VM whose containers fit on another, and keeps the one that takes them', () => {
    const got = chooseDrain([vm('a', 8, 1), vm('b', 8, 6)], new Set(), 0.5);
    assert.deepEqual(ids(got), ['a']);
    assert.equal(got.get('a')!.usedShare, 0.125);
    assert.equal(got.get('a')!.reason, 'running 1 of 8 VCPUs and 4 of 32 GiB RAM; its 1 container would fit on other instances');
  });

  it('drains nothing when the containers would not fit on fewer VMs', () => {
    assert.deepEqual(ids(chooseDrain([vm('a', 8, 3), vm('b', 8, 6)], new Set(), 0.5)), []);
    // One VM alone has nowhere to go.
    assert.deepEqual(ids(chooseDrain([vm('a', 8, 1)], new Set(), 0.5)), []);
  });

  it('never drains a VM used above MaxUsedShare, though it would fit', () => {
    // a (5 of 8) is too busy to drain; b (2 of 32) fits on a, but not below a threshold of 0.05.
    assert.deepEqual(ids(chooseDrain([vm('a', 8, 5), vm('b', 32, 2)], new Set(), 0.5)), ['b']);
    assert.deepEqual(ids(chooseDrain([vm('a', 8, 5), vm('b', 32, 2)], new Set(), 0.05)), []);
  });

  it('drains the worst value first: the highest price per used share', () => {
    // Both run 2 VCPUs and either fits on the other, but not both can go: the dearer one drains.
    const got = chooseDrain([vm('cheap', 8, 2, 1, 0.3), vm('dear', 8, 2, 1, 0.5)], new Set(), 0.5);
    assert.deepEqual(ids(got), ['dear']);
  });

  it('between two VMs of equal value, the one with the lower id drains, whatever order the VMs are listed in', () => {
    // Either could empty onto the other; only one may.
    assert.deepEqual(ids(chooseDrain([vm('x', 8, 1), vm('y', 8, 1)], new Set(), 0.5)), ['x']);
    assert.deepEqual(ids(chooseDrain([vm('y', 8, 1), vm('x', 8, 1)], new Set(), 0.5)), ['x']);
  });

  it('counts what a drained VM moves: two VMs cannot both empty onto the same room', () => {
    // c has room for 4 VCPUs: a (2) and b (2) both fit, a third of 2 would not.
    const got = chooseDrain([vm('a', 8, 2), vm('b', 8, 2), vm('d', 8, 2), vm('c', 8, 4)], new Set(), 0.5);
    // Three of four VMs run 2 VCPUs: after a and b move to c (full), d has nowhere left but... d itself is a home.
    // The loads are 2,2,2,4 = 10 VCPUs on 8-VCPU VMs: two VMs must stay.
    assert.equal(got.size, 2);
    const kept = ['a', 'b', 'c', 'd'].filter((id) => !got.has(id));
    assert.equal(kept.length, 2);
  });

  it('a VM already draining keeps draining while it fits, even above MaxUsedShare (no flapping)', () => {
    // a is at 5/8 > 0.5 (a fallback placement, say), b has room for it.
    assert.deepEqual(ids(chooseDrain([vm('a', 8, 5), vm('b', 16, 3)], new Set(['a']), 0.5)), ['a']);
    // Without the memory, only b (the worse value) would qualify.
    assert.deepEqual(ids(chooseDrain([vm('a', 8, 5), vm('b', 16, 3)], new Set(), 0.5)), ['b']);
  });

  it('a VM already draining is placed before new candidates, so a better-scoring newcomer cannot take its room', () => {
    // Room on c (8 VCPUs, 5 used) for one of a, b (2 VCPUs each); b is the worse value but a drains already.
    const got = chooseDrain([vm('a', 8, 2, 1, 0.3), vm('b', 8, 2, 1, 0.5), vm('c', 8, 5, 1, 0.3)], new Set(['a']), 0.5);
    assert.ok(got.has('a'));
  });

  it('checks every resource, not only VCPUs', () => {
    const ramHeavy: DrainVM = { id: 'a', price: 0.4, capacity: res(8, 32), used: res(1, 16), containers: 1 };
    const lowRam: DrainVM = { id: 'b', price: 0.4, capacity: res(8, 16), used: res(1, 8), containers: 1 };
    // a's 16 GiB cannot go to b (8 free); b's 8 GiB can go to a (16 free).
    assert.deepEqual(ids(chooseDrain([ramHeavy, lowRam], new Set(), 0.5)), ['b']);
  });

  it('ignores VMs without containers, as candidates and as homes', () => {
    assert.deepEqual(ids(chooseDrain([vm('a', 8, 1), vm('empty', 64, 0)], new Set(), 0.5)), []);
  });
});

/** A pass's slot for the planner: a ready instance of `size` VCPUs running `containers`, each of 1 VCPU. */
function slot(id: string, size: number, containers: string[], state: WorkerState = containers.length > 0 ? 'running' : 'idle'): Slot {
  const type = { Name: `t${size}`, VCPUs: size, RAM: size * 4 * GiB, Scratch: 0, Price: size * 0.05, GPU: { DeviceCount: 0, VRAM: 0 } } as InstanceType;
  return {
    view: {
      instance: id,
      address: '',
      price: type.Price,
      arvadosInstanceType: type.Name,
      providerInstanceType: type.Name,
      lastContainerUUID: '',
      lastBusy: 0,
      runningContainerUUIDs: containers,
      workerState: state,
      idleBehavior: 'run',
    },
    type,
    free: res(size - containers.length, (size - containers.length) * 4),
    rank: 0,
  };
}

const typeNamed = (name: string): InstanceType => ({ Name: name }) as InstanceType;

describe('drain to save: across passes', () => {
  it('marks only ready VMs with run behaviour, and says why and since when', () => {
    const p = new DrainPlanner({ MaxUsedShare: 0.5, QuietPeriod: 0 });
    const booting = slot('boot', 8, ['x'], 'booting');
    const held = slot('held', 8, ['y']);
    held.view.idleBehavior = 'hold';
    const drained = p.plan([slot('a', 8, ['c1']), slot('b', 8, ['c2', 'c3', 'c4', 'c5', 'c6']), booting, held], 1000);
    assert.deepEqual([...drained], ['a']);
    assert.deepEqual(p.mark('a'), {
      usedShare: 0.125,
      reason: 'running 1 of 8 VCPUs and 4 of 32 GiB RAM; its 1 container would fit on other instances',
      since: 1000,
    });
    assert.equal(p.mark('b'), undefined);
    assert.deepEqual(p.stats(), { draining: 1, savingPerHour: 0.4, tookDraining: 0, waited: 0, emptied: 0 });
    // Still draining a pass later: the time it started is kept.
    p.plan([slot('a', 8, ['c1']), slot('b', 8, ['c2', 'c3', 'c4', 'c5', 'c6'])], 2000);
    assert.equal(p.mark('a')!.since, 1000);
  });

  it('blames a new VM on drain only once the emptied VM is gone, for an eligible type, once, within the window', () => {
    const p = new DrainPlanner({ MaxUsedShare: 0.5, QuietPeriod: 0 });
    const b = (): Slot => slot('b', 8, ['c2', 'c3', 'c4', 'c5', 'c6']);
    p.plan([slot('a', 8, ['c1']), b()], 0);
    // a empties: not draining any more, idle, still there: a new VM now is not drain's doing.
    p.plan([slot('a', 8, []), b()], 10_000);
    assert.equal(p.stats().emptied, 1);
    assert.equal(p.vmCreated('t8', [typeNamed('t8')], 10_000), undefined);
    // a has shut down: a container that needs a t8 waits because of drain; a t16-only one does not.
    p.plan([b()], 70_000);
    assert.equal(p.vmCreated('t16', [typeNamed('t16')], 70_000), undefined);
    assert.equal(p.vmCreated('t2', [typeNamed('t2'), typeNamed('t8')], 70_000), 'a');
    assert.equal(p.vmCreated('t8', [typeNamed('t8')], 70_000), undefined, 'each emptied VM is blamed once');
    assert.equal(p.stats().waited, 1);
  });

  it('no blame past the window, nor for a VM that got work again before it shut down', () => {
    const p = new DrainPlanner({ MaxUsedShare: 0.5, QuietPeriod: 0 });
    const b = (): Slot => slot('b', 8, ['c2', 'c3', 'c4', 'c5', 'c6']);
    // e runs 10 of 16 VCPUs: too busy to drain, room for a's and d's one each.
    const e = (): Slot => slot('e', 16, ['c8', 'c9', 'c10', 'c11', 'c12', 'c13', 'c14', 'c15', 'c16', 'c17']);
    assert.deepEqual([...p.plan([slot('a', 8, ['c1']), b(), slot('d', 8, ['c7']), e()], 0)].sort(), ['a', 'd']);
    // Both empty; a then runs something new, d shuts down.
    p.plan([slot('a', 8, []), b(), slot('d', 8, []), e()], 1000);
    p.plan([slot('a', 8, ['new']), b(), e()], 2000);
    p.plan([b(), e()], 3000);
    // Past the window, d is not blamed either.
    assert.equal(p.vmCreated('t8', [typeNamed('t8')], 1000 + BLAME_WINDOW_MS + 1), undefined);
    assert.equal(p.stats().waited, 0);
    // Within it, d is, and a (which ran new work after it emptied) still is not.
    assert.equal(p.vmCreated('t8', [typeNamed('t8')], 3000), 'd');
    assert.equal(p.vmCreated('t8', [typeNamed('t8')], 3000), undefined);
  });

  it('drains no VM of a type created, or whose draining VM started a container, within QuietPeriod; it still takes others\' load', () => {
    const p = new DrainPlanner({ MaxUsedShare: 0.5, QuietPeriod: 60_000 });
    const vms = (): Slot[] => [slot('a', 8, ['c1']), slot('b', 16, ['c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10'])];
    assert.deepEqual([...p.plan(vms(), 0)], ['a'], 'quiet since ever');
    // A t16 VM created: no t16 drains, but a (t8) still drains onto b.
    p.vmCreated('t16', [typeNamed('t16')], 500);
    assert.deepEqual([...p.plan(vms(), 1000)], ['a']);
    // A t8 VM created: a stops draining.
    p.vmCreated('t8', [typeNamed('t8')], 1000);
    assert.deepEqual([...p.plan(vms(), 2000)], [], 'short of t8 lately: a stops draining too');
    assert.equal(p.mark('a'), undefined);
    assert.deepEqual([...p.plan(vms(), 60_999)], []);
    assert.deepEqual([...p.plan(vms(), 61_000)], ['a']);
    p.tookDraining('t8', 70_000);
    assert.deepEqual([...p.plan(vms(), 71_000)], []);
    assert.deepEqual([...p.plan(vms(), 130_000)], ['a']);
  });

  it('counts containers started on a draining VM', () => {
    const p = new DrainPlanner({ MaxUsedShare: 0.5, QuietPeriod: 0 });
    p.tookDraining('t8', 0);
    assert.equal(p.stats().tookDraining, 1);
  });
});
