/**
 * Pre-warming's learner: what it records of a runner's children, how it
 * cuts stages, and which VMs it asks for, when, with what confidence.
 */
import assert from 'node:assert/strict';
import type { ContainerState } from '../../src/arvados/types.js';
import type { InstanceType } from '../../src/config/types.js';
import { firstWave, MAX_IMAGES, MAX_RUNS, MIN_RUNS, PreWarmHistory, PreWarmLearner, type PreWarmEnv } from '../../src/placement/prewarm.js';
import type { Parents } from '../../src/placement/parents.js';
import type { QueueEntry } from '../../src/scheduler/interfaces.js';

const GiB = 2 ** 30;
const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

function type(name: string, vcpus: number): InstanceType {
  return { Name: name, ProviderType: name, VCPUs: vcpus, RAM: vcpus * 2 * GiB, Scratch: 0, IncludedScratch: 0, AddedScratch: 0, Price: vcpus * 0.05, Preemptible: false, GPU: { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 } };
}
const SMALL = type('small', 2);
const BIG = type('big', 8);

function entry(uuid: string, o: { state?: ContainerState; supervisor?: boolean; parent?: string; image?: string; createdAt?: number; type?: InstanceType; vcpus?: number }): QueueEntry {
  const t = o.type ?? SMALL;
  const vcpus = o.vcpus ?? t.VCPUs;
  if (o.parent) PARENTS.set(uuid, o.parent);
  return {
    container: {
      uuid,
      state: o.state ?? 'Queued',
      priority: 1,
      runtime_constraints: { vcpus, ram: vcpus * 2 * GiB },
      scheduling_parameters: o.supervisor ? { supervisor: true } : {},
      container_image: o.image ?? 'img-a',
      created_at: new Date(o.createdAt ?? T0).toISOString(),
    },
    instanceTypes: [t],
    instanceResources: { vcpus, ram: vcpus * 2 * GiB, scratch: 0, gpus: 0, gpuVRAM: 0 },
    firstSeenAt: o.createdAt ?? T0,
  };
}

/** Which runner made each child's request, as the controller's container requests would say. */
const PARENTS = new Map<string, string>();
const parents: Parents = { parentOf: (uuid) => PARENTS.get(uuid) ?? null, version: 0 };

function see(l: PreWarmLearner, snap: Map<string, QueueEntry>, now: number): void {
  l.observe(snap, now, parents);
}

function snapshot(...entries: QueueEntry[]): Map<string, QueueEntry> {
  return new Map(entries.map((e) => [e.container.uuid, e]));
}

const ENV: PreWarmEnv = { bootMs: () => 90_000, lead: 30_000, minConfidence: 0.5 };

/** Plays one runner of `image` that starts at `start`, submits `n` SMALL children `offset` later, which all finish, then ends. */
function playRun(l: PreWarmLearner, id: string, image: string, start: number, n: number, offset = 30_000): void {
  const runner = (state: ContainerState): QueueEntry => entry(id, { supervisor: true, image, state, type: SMALL });
  see(l, snapshot(runner('Queued')), start - 100_000);
  see(l, snapshot(runner('Running')), start);
  const kids = Array.from({ length: n }, (_, i) => entry(`${id}-c${i}`, { parent: id, createdAt: start + offset }));
  see(l, snapshot(runner('Running'), ...kids), start + offset + 5_000);
  see(l, snapshot(runner('Running'), ...kids.map((k) => ({ ...k, container: { ...k.container, state: 'Complete' as const } }))), start + offset + 600_000);
  see(l, snapshot(runner('Complete')), start + offset + 700_000);
}

describe('pre-warming: the learner', () => {
  it('predicts nothing before MIN_RUNS runs of the image, then the median VM count at the first arrival', () => {
    const l = new PreWarmLearner();
    playRun(l, 'r1', 'img-a', T0, 4);
    assert.deepEqual(l.history.predict('img-a', 0, 0.5), [], `${MIN_RUNS} runs needed`);
    playRun(l, 'r2', 'img-a', T0 + 3_600_000, 6);
    playRun(l, 'r3', 'img-a', T0 + 7_200_000, 10);
    assert.deepEqual(l.history.predict('img-a', 0, 0.5), [{ type: 'small', vms: 6, offsetMs: 30_000, confidence: 1 }]);
    assert.deepEqual(l.history.predict('img-b', 0, 0.5), [], 'per image');
    assert.deepEqual(l.history.predict('img-a', 1, 0.5), [], 'nothing came after the stage ended');
  });

  it('children that share a VM type count as its share of the type, rounded up', () => {
    const h = new PreWarmHistory();
    const half = { offsetMs: 1000, type: 'small', share: 0.5 };
    h.add('i', [[half, half, half]]);
    h.add('i', [[half, half, half]]);
    assert.equal(h.predict('i', 0, 1)[0].vms, 2);
  });

  it('a type only some earlier runs had is predicted when enough of them had it (MinConfidence)', () => {
    const h = new PreWarmHistory();
    const small = { offsetMs: 0, type: 'small', share: 1 };
    const big = { offsetMs: 0, type: 'big', share: 1 };
    h.add('i', [[small, big]]);
    h.add('i', [[small]]);
    h.add('i', [[small]]);
    h.add('i', [[small]]);
    assert.deepEqual(
      h.predict('i', 0, 0.5).map((p) => [p.type, p.confidence]),
      [['small', 1]],
    );
    assert.deepEqual(
      h.predict('i', 0, 0.25).map((p) => [p.type, p.confidence]),
      [['big', 0.25], ['small', 1]],
    );
  });

  it('only the first burst of a stage is predicted: a later one has no visible trigger', () => {
    const c = (offsetMs: number): { offsetMs: number; type: string; share: number } => ({ offsetMs, type: 'small', share: 1 });
    assert.deepEqual(firstWave([c(30_000), c(90_000), c(31_000), c(3_000_000)]).map((x) => x.offsetMs), [30_000, 31_000, 90_000]);
    assert.deepEqual(firstWave([]), []);
  });

  it('a stage ends when the last active child finishes: later children are learnt from that moment', () => {
    const l = new PreWarmLearner();
    for (const [i, start] of [T0, T0 + 3_600_000].entries()) {
      const id = `r${i}`;
      const runner = entry(id, { supervisor: true, state: 'Running' });
      see(l, snapshot(runner), start);
      const a = entry(`${id}-a`, { parent: id, createdAt: start + 30_000 });
      see(l, snapshot(runner, a), start + 31_000);
      const aDone = { ...a, container: { ...a.container, state: 'Complete' as const } };
      see(l, snapshot(runner, aDone), start + 600_000);
      const b = entry(`${id}-b`, { parent: id, createdAt: start + 620_000, type: BIG });
      see(l, snapshot(runner, b), start + 621_000);
      see(l, snapshot(), start + 1_800_000);
    }
    assert.deepEqual(l.history.predict('img-a', 1, 0.5), [{ type: 'big', vms: 1, offsetMs: 20_000, confidence: 1 }]);
  });

  it("a child seen before its runner is seen running opens stage 0 at that sighting, and the run is learnt", () => {
    const l = new PreWarmLearner();
    for (const [i, start] of [T0, T0 + 3_600_000].entries()) {
      const id = `r${i}`;
      const runner = (state: ContainerState): QueueEntry => entry(id, { supervisor: true, state });
      see(l, snapshot(runner('Locked')), start);
      // The child's update came before the runner's: it was created 10 s before this sighting.
      const kid = entry(`${id}-c0`, { parent: id, createdAt: start + 20_000 });
      see(l, snapshot(runner('Locked'), kid), start + 30_000);
      see(l, snapshot(runner('Running'), kid), start + 40_000);
      see(l, snapshot(runner('Running'), { ...kid, container: { ...kid.container, state: 'Complete' as const } }), start + 600_000);
      see(l, snapshot(runner('Complete')), start + 700_000);
    }
    assert.deepEqual(l.history.predict('img-a', 0, 0.5), [{ type: 'small', vms: 1, offsetMs: 0, confidence: 1 }]);
    assert.deepEqual(l.history.predict('img-a', 1, 0.5), [], 'seen running later: no second stage');
  });

  it('asks for VMs from boot time + Lead before the expected arrival until the first child comes, or a boot time after', () => {
    const l = new PreWarmLearner();
    playRun(l, 'r1', 'img-a', T0, 3);
    playRun(l, 'r2', 'img-a', T0 + 3_600_000, 3);
    const start = T0 + 7_200_000;
    const runner = (state: ContainerState): QueueEntry => entry('r3', { supervisor: true, state });
    // Seen queued: expected to start one boot (90 s) later, children 30 s after that.
    see(l, snapshot(runner('Queued')), start);
    assert.deepEqual(l.needs(start, ENV), [{ runner: 'r3', type: 'small', vms: 3, arriveAt: start + 120_000, confidence: 1 }]);
    see(l, snapshot(runner('Running')), start + 200_000);
    // Children expected at +230 s: wanted from +110 s (230 - 90 - 30) to +320 s.
    assert.deepEqual(l.needs(start + 200_000, ENV).map((n) => n.arriveAt), [start + 230_000]);
    assert.deepEqual(l.needs(start + 321_000, ENV), [], 'the prediction was wrong: stop wanting them');
    const kid = entry('r3-c0', { parent: 'r3', createdAt: start + 231_000 });
    see(l, snapshot(runner('Running'), kid), start + 232_000);
    assert.deepEqual(l.needs(start + 232_000, ENV), [], 'the children came: they take the VMs');
  });

  it('a runner still queued a boot + Lead after it was seen gets nothing until it starts', () => {
    const l = new PreWarmLearner();
    playRun(l, 'r1', 'img-a', T0, 3);
    playRun(l, 'r2', 'img-a', T0 + 3_600_000, 3);
    const seen = T0 + 7_200_000;
    see(l, snapshot(entry('r3', { supervisor: true, state: 'Queued' })), seen);
    assert.equal(l.needs(seen + 120_000, ENV).length, 1, 'within boot (90 s) + Lead (30 s)');
    assert.deepEqual(l.needs(seen + 121_000, ENV), [], 'it waits for something else');
    see(l, snapshot(entry('r3', { supervisor: true, state: 'Running' })), seen + 3_600_000);
    assert.equal(l.needs(seen + 3_600_000, ENV).length, 1, 'started: its children are expected again');
  });

  it('a runner started long after it was seen is not wanted early', () => {
    const l = new PreWarmLearner();
    playRun(l, 'r1', 'img-a', T0, 3, 600_000);
    playRun(l, 'r2', 'img-a', T0 + 3_600_000, 3, 600_000);
    const start = T0 + 7_200_000;
    see(l, snapshot(entry('r3', { supervisor: true, state: 'Running' })), start);
    assert.deepEqual(l.needs(start, ENV), [], 'children 10 min after the start: too early to boot for them');
    assert.equal(l.needs(start + 600_000 - 120_000, ENV).length, 1);
  });
});

describe('pre-warming: the history\'s bounds', () => {
  it('keeps the last MAX_RUNS runs of an image, and forgets the image run longest ago past MAX_IMAGES', () => {
    const h = new PreWarmHistory();
    const run = (n: number): Array<Array<{ offsetMs: number; type: string; share: number }>> => [Array.from({ length: n }, () => ({ offsetMs: 0, type: 't', share: 1 }))];
    for (let i = 0; i < MAX_RUNS; i++) h.add('i', run(1));
    h.add('i', run(5));
    h.add('i', run(5));
    // 18 runs of 1 and 2 of 5 remain (the two oldest of 1 dropped): the lower median is still 1.
    assert.equal(h.predict('i', 0, 1)[0].vms, 1);
    for (let i = 0; i < MAX_RUNS; i++) h.add('i', run(5));
    assert.equal(h.predict('i', 0, 1)[0].vms, 5, 'only the last MAX_RUNS count');
    h.add('old', run(1));
    h.add('old', run(1));
    for (let i = 0; i < MAX_IMAGES; i++) h.add(`img-${i}`, run(1));
    assert.deepEqual(h.predict('old', 0, 1), []);
    assert.equal(h.predict('img-1', 0, 0.5).length, 0, 'one run: not enough');
  });
});
