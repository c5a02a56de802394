/**
 * Locality in a pass, on the real slot index with object-literal views:
 * learning from what the pool runs, preferring a ready warm VM, holding for
 * a busy one (one waiter per VM), and what the timeline is told.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import type { InstanceType } from '../../src/config/types.js';
import { RateLimitedLog, silentLogger } from '../../src/log.js';
import { LocalityPlanner, type WarmWaitDetail } from '../../src/placement/locality-planner.js';
import type { InstanceResources, InstanceView, QueueEntry, WorkerState } from '../../src/scheduler/interfaces.js';
import { containerCharge } from '../../src/scheduler/resources.js';
import { SlotIndex } from '../../src/scheduler/slots.js';
import { GiB, testCluster } from '../scheduler/fakes.js';

const cluster = testCluster({ types: [1, 2] });
const [t1] = Object.values(cluster.InstanceTypes).sort((a, b) => a.Price - b.Price);
const typeOf = (name: string): InstanceType | undefined => cluster.InstanceTypes[name];
const need: InstanceResources = { vcpus: 1, ram: GiB / 2, scratch: 0, gpus: 0, gpuVRAM: 0 };

function view(id: string, state: WorkerState, running: string[] = []): InstanceView {
  return {
    instance: id,
    address: '10.0.0.1',
    price: t1.Price,
    arvadosInstanceType: t1.Name,
    providerInstanceType: t1.ProviderType,
    lastContainerUUID: '',
    lastBusy: 0,
    runningContainerUUIDs: running,
    workerState: state,
    idleBehavior: 'run',
  };
}

function entry(uuid: string, image: string, inputs?: string[]): QueueEntry {
  const e: QueueEntry = {
    container: { uuid, state: 'Locked', priority: 1, created_at: '2026-01-01T00:00:00Z', container_image: image } as QueueEntry['container'],
    instanceTypes: [t1],
    instanceResources: need,
    firstSeenAt: 0,
  };
  if (inputs) e.inputs = inputs;
  return e;
}

/** A pass: the slot index over `views`, and the planner told of it. */
function pass(p: LocalityPlanner, now: number, views: InstanceView[], entries: QueueEntry[]): SlotIndex {
  const byUuid = new Map(entries.map((e) => [e.container.uuid, e]));
  const idx = SlotIndex.build(views, typeOf, (u) => (byUuid.has(u) ? containerCharge(need) : undefined), 0, new RateLimitedLog(silentLogger(), new ManualClock()));
  const running = new Map<string, number>();
  for (const v of views) for (const u of v.runningContainerUUIDs) running.set(u, 0);
  p.beginPass(now, views, byUuid, running);
  return idx;
}

/** A planner whose runs all end exactly `leftMs` from now (never, for Infinity). */
const planner = (leftMs = 30_000) => new LocalityPlanner({ timeouts: { cacheTimeoutMs: 120_000, depsTimeoutMs: 60_000 }, endOdds: () => (t) => (t >= leftMs ? 1 : 0) });

/** What the planner tells the timeline, in order. */
function timelineLog(): { said: Array<[string, WarmWaitDetail]>; tell: (u: string, d: WarmWaitDetail) => void } {
  const said: Array<[string, WarmWaitDetail]> = [];
  return { said, tell: (u, d) => void said.push([u, d]) };
}

/** The pass at 1 s in which c1 (image img-a) waits, while r1 runs img-a on i-warm and i-cold is idle. */
function busyWarmIdleCold(p: LocalityPlanner): { r1: QueueEntry; c1: QueueEntry; idx: SlotIndex } {
  const r1 = entry('r1', 'img-a');
  const c1 = entry('c1', 'img-a');
  return { r1, c1, idx: pass(p, 1_000, [view('i-warm', 'running', ['r1']), view('i-cold', 'idle')], [r1, c1]) };
}

describe('locality planner', () => {
  it('holds for the busy VM that ran the image rather than start on a cold idle one, then takes it once it is free', () => {
    const p = planner();
    const { said, tell } = timelineLog();
    const start = busyWarmIdleCold(p);
    const { c1 } = start;
    let idx = start.idx;
    const dflt = idx.find(0, c1.instanceTypes, containerCharge(need), 'c1');
    assert.equal(dflt?.view.instance, 'i-cold', 'the ordinary choice');
    const held = p.place(c1, dflt, idx, tell);
    assert.equal(held.slot, undefined);
    assert.deepEqual(held.hold, { instance: 'i-warm', level: 1, freeInMs: 30_000, until: 121_000, timeoutMs: 120_000 });
    assert.deepEqual(said, [['c1', { waiting_for: 'i-warm', has: 'image', frees_in_ms: 30_000, wait_until: new Date(121_000).toISOString() }]]);
    assert.equal(p.counts.holds, 1);

    // r1 is done: the VM that has the image is idle now.
    idx = pass(p, 31_000, [view('i-warm', 'idle'), view('i-cold', 'idle')], [c1]);
    const took = p.place(c1, idx.find(1, c1.instanceTypes, containerCharge(need), 'c1'), idx, tell);
    assert.equal(took.slot?.view.instance, 'i-warm');
    assert.equal(took.level, 1);
    assert.deepEqual(said[1], ['c1', { ended: 'took a VM with its image', instance: 'i-warm' }]);
  });

  it('a held container with no ready VM left to start on stops waiting and gets a new VM, and the timeline says the hold ended on a new instance', () => {
    const p = planner();
    const { said, tell } = timelineLog();
    const start = busyWarmIdleCold(p);
    const { r1, c1 } = start;
    let idx = start.idx;
    assert.equal(p.place(c1, idx.find(0, c1.instanceTypes, containerCharge(need), 'c1'), idx, tell).hold?.instance, 'i-warm');
    // The cold VM is gone; the warm one is still busy: nothing ready could take c1 now.
    idx = pass(p, 2_000, [view('i-warm', 'running', ['r1'])], [r1, c1]);
    const took = p.place(c1, undefined, idx, tell);
    assert.equal(took.hold, undefined);
    assert.equal(took.slot, undefined);
    assert.deepEqual(said.at(-1), ['c1', { ended: 'waited long enough', instance: 'a new instance', gave_up_on: 'i-warm' }]);
  });

  it('prefers a ready VM that ran the image, or one that read an input, over the first fit', () => {
    const p = planner();
    pass(p, 0, [view('i-a', 'running', ['ra']), view('i-b', 'running', ['rb'])], [entry('ra', 'img-a'), entry('rb', 'img-b', ['pdh-1'])]);
    const views = [view('i-0', 'idle'), view('i-a', 'idle'), view('i-b', 'idle')];
    const c = entry('c', 'img-a', ['pdh-1']);
    const idx = pass(p, 1_000, views, [c]);
    const dflt = idx.find(0, c.instanceTypes, containerCharge(need), 'c');
    assert.equal(dflt?.view.instance, 'i-0');
    assert.equal(p.place(c, dflt, idx).slot?.view.instance, 'i-a');
    const d = entry('d', 'img-z', ['pdh-1']);
    const r = p.place(d, dflt, idx);
    assert.equal(r.slot?.view.instance, 'i-b');
    assert.equal(r.level, 2);
  });

  it('holds only one container per busy VM in a pass: the next gets the ordinary choice', () => {
    const p = planner();
    const entries = [entry('r1', 'img-a'), entry('c1', 'img-a'), entry('c2', 'img-a')];
    const idx = pass(p, 0, [view('i-warm', 'running', ['r1']), view('i-cold', 'idle')], entries);
    const dflt = idx.slotOf('i-cold');
    assert.ok(p.place(entries[1], dflt, idx).hold);
    const second = p.place(entries[2], dflt, idx);
    assert.equal(second.hold, undefined);
    assert.equal(second.slot, dflt);
  });

  it('creates a VM rather than hold, and does not wait for a run past its estimates', () => {
    const p = planner();
    const entries = [entry('r1', 'img-a'), entry('c1', 'img-a')];
    const idx = pass(p, 0, [view('i-warm', 'running', ['r1'])], entries);
    assert.deepEqual(p.place(entries[1], undefined, idx), { slot: undefined, level: 0 });
    const overrun = planner(Infinity);
    const idx2 = pass(overrun, 0, [view('i-warm', 'running', ['r1']), view('i-cold', 'idle')], entries);
    assert.equal(overrun.place(entries[1], idx2.slotOf('i-cold'), idx2).slot?.view.instance, 'i-cold');
  });

  it('gives a cold container a ready VM whose image no waiting container needs, leaving the warm one to the container that has its image', () => {
    const p = planner();
    pass(p, 0, [view('i-a', 'running', ['ra']), view('i-z', 'running', ['rz'])], [entry('ra', 'img-a'), entry('rz', 'img-z')]);
    const x = entry('x', 'img-x');
    const a = entry('a', 'img-a');
    const idx = pass(p, 1_000, [view('i-a', 'idle'), view('i-z', 'idle')], [x, a]);
    const dflt = idx.find(0, x.instanceTypes, containerCharge(need), 'x');
    assert.equal(dflt?.view.instance, 'i-a', 'the ordinary choice is the VM that has img-a');
    const px = p.place(x, dflt, idx, undefined, 0);
    assert.deepEqual([px.slot?.view.instance, px.level, px.hold], ['i-z', 0, undefined], 'x starts now, on the VM nobody waits for');
    idx.allocate(px.slot!, 'x', containerCharge(need));
    const pa = p.place(a, idx.find(0, a.instanceTypes, containerCharge(need), 'a'), idx, undefined, 0);
    assert.deepEqual([pa.slot?.view.instance, pa.level], ['i-a', 1]);
  });

  it('keeps the first fit when every ready VM is wanted, or when no waiting container wants it', () => {
    const p = planner();
    pass(p, 0, [view('i-a', 'running', ['ra']), view('i-b', 'running', ['rb'])], [entry('ra', 'img-a'), entry('rb', 'img-b')]);
    const x = entry('x', 'img-x');
    const views = [view('i-a', 'idle'), view('i-b', 'idle')];
    let idx = pass(p, 1_000, views, [x, entry('a', 'img-a'), entry('b', 'img-b')]);
    assert.equal(p.place(x, idx.find(0, x.instanceTypes, containerCharge(need), 'x'), idx, undefined, 0).slot?.view.instance, 'i-a', 'both wanted: no one waits, x takes the first fit');
    idx = pass(p, 2_000, [view('i-a', 'idle'), view('i-b', 'idle')], [x, entry('b', 'img-b')]);
    assert.equal(p.place(x, idx.find(0, x.instanceTypes, containerCharge(need), 'x'), idx, undefined, 0).slot?.view.instance, 'i-a', 'img-a is wanted by nobody');
  });

  it('names the ready VM a hold passes over, so that it is not shut down for quota in that pass', () => {
    const p = planner();
    const entries = [entry('r1', 'img-a'), entry('c1', 'img-a')];
    const idx = pass(p, 0, [view('i-warm', 'running', ['r1']), view('i-cold', 'idle')], entries);
    assert.ok(p.place(entries[1], idx.slotOf('i-cold'), idx).hold);
    assert.deepEqual([...p.passedOver], ['i-cold']);
    pass(p, 1_000, [view('i-warm', 'running', ['r1']), view('i-cold', 'idle')], entries);
    assert.equal(p.passedOver.size, 0, 'cleared each pass');
  });

  it('pools the busy VMs with the image: two that each free in time at 0.7 hold one container (0.91), not a second (0.49)', () => {
    const p = new LocalityPlanner({ timeouts: { cacheTimeoutMs: 120_000, depsTimeoutMs: 60_000 }, endOdds: () => (t) => (t >= 30_000 ? 0.7 : 0) });
    const entries = [entry('r1', 'img-a'), entry('r2', 'img-a'), entry('c1', 'img-a'), entry('c2', 'img-a')];
    const idx = pass(p, 0, [view('i-w1', 'running', ['r1']), view('i-w2', 'running', ['r2']), view('i-cold', 'idle')], entries);
    const first = p.place(entries[2], idx.slotOf('i-cold'), idx);
    assert.equal(first.hold?.freeInMs, 30_000);
    assert.equal(p.place(entries[3], idx.slotOf('i-cold'), idx).slot?.view.instance, 'i-cold', 'the first VM to free is the first container\u2019s');
  });

  it('learns the pull time from starts, and holds a container that could start cold for a warm VM that frees sooner, never instead of a create', () => {
    const p = planner();
    const GiB = 2 ** 30;
    // An 8 GiB image's PDH (manifest size 80 + 42 per 64 MiB block), as the scheduler estimates image sizes.
    const img = `${'a'.repeat(32)}+${80 + 42 * 128}`;
    const entries = [entry('r1', img), entry('c1', img)];
    let idx = pass(p, 0, [view('i-warm', 'running', ['r1'])], entries);
    assert.equal(p.place(entries[1], undefined, idx).hold, undefined, 'pull time not known yet: the VM is created');
    for (let i = 0; i < 3; i++) {
      p.pulls.started(`w${i}`, 8 * GiB, true, 0);
      p.pulls.seen(`w${i}`, 'Running', 5_000);
    }
    // A start placed by the planner on a VM without the image, seen Running in a later pass.
    const cold = [entry('s1', img), entry('s2', img), entry('s3', img)];
    pass(p, 10_000, [view('i-warm', 'running', ['r1'])], [...entries, ...cold]);
    for (const c of cold) p.started(0, c);
    for (const c of cold) c.container.state = 'Running';
    idx = pass(p, 75_000, [view('i-warm', 'running', ['r1']), view('i-cold', 'idle')], [...entries, ...cold]);
    assert.equal(p.pulls.pullMs(8 * GiB), 60_000);
    assert.equal(p.place(entries[1], undefined, idx).hold, undefined, 'a VM to create bounds the wait: it is created, and the container may still move');
    idx = pass(p, 76_000, [view('i-warm', 'running', ['r1']), view('i-cold', 'idle')], [...entries, ...cold]);
    assert.equal(p.place(entries[1], idx.slotOf('i-cold'), idx).hold?.instance, 'i-warm', 'frees in 30 s, sooner than a 60 s pull');
  });

  it('a container sent to a VM that boots counts ahead of the next one only until that VM is expected ready', () => {
    const make = (bootMs?: () => number) =>
      new LocalityPlanner({ timeouts: { cacheTimeoutMs: 120_000, depsTimeoutMs: 0 }, endOdds: () => (t) => (t >= 30_000 ? 1 : 0), ...(bootMs ? { bootMs } : {}) });
    const entries = [entry('r1', 'img-a'), entry('c1', 'img-a'), entry('c2', 'img-a')];
    // Created at 1 s, expected ready at 21 s; the warm VM frees at 31 s.
    const views = () => [view('i-warm', 'running', ['r1']), { ...view('i-boot', 'booting'), lastBusy: 1_000 }, view('i-cold', 'idle')];
    const p = make(() => 20_000);
    let idx = pass(p, 1_000, views(), entries);
    assert.equal(p.place(entries[1], idx.slotOf('i-boot'), idx).slot?.view.instance, 'i-boot');
    assert.equal(p.place(entries[2], idx.slotOf('i-cold'), idx).hold?.instance, 'i-warm', 'c1 will have its own VM before the warm one frees');
    const unknownBoot = make();
    idx = pass(unknownBoot, 1_000, views(), entries);
    unknownBoot.place(entries[1], idx.slotOf('i-boot'), idx);
    assert.equal(unknownBoot.place(entries[2], idx.slotOf('i-cold'), idx).hold, undefined, 'boot time unknown: c1 may take the warm VM, so c2 does not wait for it');
  });

  it('forgets a VM that left the pool: after a restart nothing is assumed', () => {
    const p = planner();
    pass(p, 0, [view('i-warm', 'running', ['r1'])], [entry('r1', 'img-a')]);
    pass(p, 1_000, [], []);
    assert.equal(p.memory.size, 0);
  });

  it('in the cache phase, holds for a busy VM with the image rather than start on a ready one that has only its inputs', () => {
    const p = planner();
    const r1 = entry('r1', 'img-a');
    pass(p, 0, [view('i-warm', 'running', ['r1']), view('i-in', 'running', ['rb'])], [r1, entry('rb', 'img-b', ['pdh-1'])]);
    const c1 = entry('c1', 'img-a', ['pdh-1']);
    const idx = pass(p, 1_000, [view('i-warm', 'running', ['r1']), view('i-in', 'idle')], [r1, c1]);
    const d = p.place(c1, idx.slotOf('i-in'), idx);
    assert.equal(d.slot, undefined);
    assert.deepEqual([d.hold?.instance, d.hold?.level], ['i-warm', 1], 'the image VM frees in 30 s, within CacheTimeout');
  });

  it('tells the timeline again when a hold moves to another warm VM, and counts it as one hold', () => {
    const p = planner();
    const { said, tell } = timelineLog();
    const c1 = entry('c1', 'img-a');
    let idx = pass(p, 0, [view('i-w1', 'running', ['r1']), view('i-cold', 'idle')], [entry('r1', 'img-a'), c1]);
    assert.equal(p.place(c1, idx.slotOf('i-cold'), idx, tell).hold?.instance, 'i-w1');
    // i-w1 has gone; i-w2 runs the image now.
    idx = pass(p, 1_000, [view('i-w2', 'running', ['r2']), view('i-cold', 'idle')], [entry('r2', 'img-a'), c1]);
    assert.equal(p.place(c1, idx.slotOf('i-cold'), idx, tell).hold?.instance, 'i-w2');
    idx = pass(p, 2_000, [view('i-w2', 'running', ['r2']), view('i-cold', 'idle')], [entry('r2', 'img-a'), c1]);
    assert.equal(p.place(c1, idx.slotOf('i-cold'), idx, tell).hold?.instance, 'i-w2');
    assert.deepEqual(
      said.map(([u, d]) => [u, d.waiting_for]),
      [
        ['c1', 'i-w1'],
        ['c1', 'i-w2'],
      ],
      'said when it began and when it moved, not on every pass',
    );
    assert.equal(p.counts.holds, 1);
  });

  it('a VM that boots is expected ready a boot after it was created, not a boot from now', () => {
    const p = new LocalityPlanner({ timeouts: { cacheTimeoutMs: 120_000, depsTimeoutMs: 0 }, endOdds: () => (t) => (t >= 10_000 ? 1 : 0), bootMs: () => 20_000 });
    const entries = [entry('r1', 'img-a'), entry('c1', 'img-a'), entry('c2', 'img-a')];
    // Created at 1 s, expected ready at 21 s; at 15 s the warm VM frees at 25 s, after c1 has its own VM.
    const idx = pass(p, 15_000, [view('i-warm', 'running', ['r1']), { ...view('i-boot', 'booting'), lastBusy: 1_000 }, view('i-cold', 'idle')], entries);
    assert.equal(p.place(entries[1], idx.slotOf('i-boot'), idx).slot?.view.instance, 'i-boot');
    const h = p.place(entries[2], idx.slotOf('i-cold'), idx).hold;
    assert.equal(h?.instance, 'i-warm');
    // Frees in 10 s (to the second the estimate works to): c1 no longer waits for it then, so it is c2's.
    assert.ok(h!.freeInMs <= 11_000, `frees in ${h!.freeInMs} ms`);
  });

  it('two containers held in one pass for two busy warm VMs name one each', () => {
    const p = planner();
    const entries = [entry('r1', 'img-a'), entry('r2', 'img-a'), entry('c1', 'img-a'), entry('c2', 'img-a')];
    const idx = pass(p, 0, [view('i-w1', 'running', ['r1']), view('i-w2', 'running', ['r2']), view('i-cold', 'idle')], entries);
    const h1 = p.place(entries[2], idx.slotOf('i-cold'), idx).hold;
    const h2 = p.place(entries[3], idx.slotOf('i-cold'), idx).hold;
    assert.ok(h1 && h2, 'both held: each has a warm VM freeing in 30 s');
    assert.deepEqual([h1.instance, h2.instance].sort(), ['i-w1', 'i-w2']);
  });

  it('does not hold for a busy warm VM that also runs a container of unknown size: nothing says when it has room', () => {
    const p = planner();
    const entries = [entry('r1', 'img-a'), entry('c1', 'img-a')];
    const idx = pass(p, 0, [view('i-warm', 'running', ['r1', 'ghost']), view('i-cold', 'idle')], entries);
    const d = p.place(entries[1], idx.slotOf('i-cold'), idx);
    assert.equal(d.hold, undefined);
    assert.equal(d.slot?.view.instance, 'i-cold');
  });

  it('counts how long a run has lasted: one started 50 s ago that takes 60 s frees in 10 s', () => {
    const p = new LocalityPlanner({
      timeouts: { cacheTimeoutMs: 120_000, depsTimeoutMs: 60_000 },
      endOdds: (_e, startedAt, now) => (t) => (now + t >= startedAt + 60_000 ? 1 : 0),
    });
    const entries = [entry('r1', 'img-a'), entry('c1', 'img-a')];
    const idx = pass(p, 50_000, [view('i-warm', 'running', ['r1']), view('i-cold', 'idle')], entries);
    const h = p.place(entries[1], idx.slotOf('i-cold'), idx).hold;
    assert.equal(h?.instance, 'i-warm');
    assert.ok(h!.freeInMs <= 11_000, `frees in ${h!.freeInMs} ms`);
  });

  it('forgets an image on the VMs when a start on a VM taken to have it pulled after all', () => {
    const p = planner();
    const GiB = 2 ** 30;
    // An 8 GiB image's PDH, as the scheduler estimates image sizes.
    const img = `${'a'.repeat(32)}+${80 + 42 * 128}`;
    pass(p, 0, [view('i-warm', 'running', ['r0'])], [entry('r0', img)]);
    for (let i = 0; i < 3; i++) {
      p.pulls.started(`w${i}`, 8 * GiB, true, 0);
      p.pulls.seen(`w${i}`, 'Running', 5_000);
      p.pulls.started(`c${i}`, 8 * GiB, false, 0);
      p.pulls.seen(`c${i}`, 'Running', 65_000);
    }
    assert.equal(p.pulls.pullMs(8 * GiB), 60_000);
    const x = entry('x', img);
    pass(p, 100_000, [view('i-warm', 'idle')], [x]);
    assert.ok(p.memory.withImage(img)?.has('i-warm'));
    p.started(1, x, 'i-warm');
    // Running 100 s later: as slow as a pull, so the VM had dropped the image.
    x.container.state = 'Running';
    pass(p, 200_000, [view('i-warm', 'running', ['x'])], [x]);
    assert.equal(p.memory.withImage(img), undefined);
    assert.ok(p.memory.bytesKept < 8 * GiB);
  });

  it('stops watching the start of a container that leaves the queue before it is seen running', () => {
    const p = planner();
    const x = entry('x', 'img-a');
    const y = entry('y', 'img-a');
    pass(p, 0, [view('i-a', 'idle'), view('i-b', 'idle')], [x, y]);
    p.started(0, x, 'i-a');
    p.started(0, y, 'i-b');
    assert.deepEqual([...p.pulls.watching()].sort(), ['x', 'y']);
    // x was cancelled while it started; y still starts.
    pass(p, 10_000, [view('i-a', 'idle'), view('i-b', 'running', ['y'])], [y]);
    assert.deepEqual([...p.pulls.watching()], ['y']);
  });

  it('among ready VMs that have the image, takes the first in placement order, as the ordinary placement would', () => {
    const p = planner();
    pass(p, 0, [view('i-a', 'running', ['ra']), view('i-b', 'running', ['rb'])], [entry('ra', 'img-a'), entry('rb', 'img-a')]);
    const c1 = entry('c1', 'img-a');
    const idx = pass(p, 1_000, [view('i-a', 'idle'), view('i-b', 'idle')], [c1]);
    const dflt = idx.find(0, c1.instanceTypes, containerCharge(need), 'c1');
    assert.equal(dflt?.view.instance, 'i-a', 'the ordinary choice');
    const d = p.place(c1, dflt, idx);
    assert.deepEqual([d.slot?.view.instance, d.level], ['i-a', 1]);
  });

  it('does not hold for a warm VM that frees in time with odds below two in three: the hold would not pay', () => {
    const odds = (p: number) => new LocalityPlanner({ timeouts: { cacheTimeoutMs: 120_000, depsTimeoutMs: 60_000 }, endOdds: () => (t) => (t >= 30_000 ? p : 0) });
    const entries = [entry('r1', 'img-a'), entry('c1', 'img-a')];
    const views = () => [view('i-warm', 'running', ['r1']), view('i-cold', 'idle')];
    let p = odds(0.6);
    let idx = pass(p, 0, views(), entries);
    assert.equal(p.place(entries[1], idx.slotOf('i-cold'), idx).slot?.view.instance, 'i-cold');
    p = odds(0.7);
    idx = pass(p, 0, views(), entries);
    assert.equal(p.place(entries[1], idx.slotOf('i-cold'), idx).hold?.instance, 'i-warm');
  });
});
