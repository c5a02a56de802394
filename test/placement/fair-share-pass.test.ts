/**
 * Fair share in a real scheduling pass over the scheduler's fakes: a light
 * owner's containers take the free instances ahead of a heavy owner's
 * earlier ones, the heavy owner's say why, and with fair share off the
 * controller's order stands.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { FairSharePass } from '../../src/placement/fair-share-pass.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { describeBlocker } from '../../src/scheduler/why-text.js';
import { loadConfigText } from '../../src/config/index.js';
import { DispatcherMetrics } from '../../src/http/metrics.js';
import { noSources, parseProm, promValue } from '../http/helpers.js';
import { FakeClient, FakePool, FakeQueue, testCluster, uuid } from '../scheduler/fakes.js';

const HEAVY = [1, 2, 3, 4].map(uuid);
const LIGHT = [5, 6].map(uuid);
const RUNNING = [7, 8].map(uuid);

/** The containers the pass asked to lock, in the order asked. */
function locked(queue: FakeQueue): string[] {
  return queue.calls.filter((c) => c.startsWith('lock ')).map((c) => c.slice('lock '.length));
}

function setup(fair: Partial<Settings['FairShare']> | undefined) {
  const clock = new ManualClock();
  const cluster = testCluster();
  const queue = new FakeQueue(clock, cluster);
  const pool = new FakePool(clock);
  const owners = { ownerOf: (u: string) => (LIGHT.includes(u) ? 'light' : 'heavy') };
  const pass = fair && new FairSharePass({ ...defaultSettings().FairShare, Enable: true, ...fair }, owners, clock);
  const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger: createLogger({ stream: new LineCollector(), clock }), fairShare: pass });
  // The heavy owner runs two containers and has four more queued before the light owner's two; two instances are free, and no more may be created.
  for (const u of RUNNING) {
    queue.add({ uuid: u, state: 'Running' });
    pool.runOn(pool.addWorker(cluster.InstanceTypes.type1, 'running'), u);
  }
  pool.addWorker(cluster.InstanceTypes.type1);
  pool.addWorker(cluster.InstanceTypes.type1);
  pool.quota = 4;
  queue.add(...HEAVY.map((u) => ({ uuid: u })), ...LIGHT.map((u) => ({ uuid: u })));
  return { clock, queue, pool, sch, pass };
}

/** A scheduler with fair share on (defaults) between the light owner and the heavy one, on empty fakes. */
function withFairShare(cluster: ReturnType<typeof testCluster>) {
  const clock = new ManualClock();
  const queue = new FakeQueue(clock, cluster);
  const pool = new FakePool(clock);
  const owners = { ownerOf: (u: string) => (LIGHT.includes(u) ? 'light' : 'heavy') };
  const pass = new FairSharePass({ ...defaultSettings().FairShare, Enable: true }, owners, clock);
  const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger: createLogger({ stream: new LineCollector(), clock }), fairShare: pass });
  return { cluster, queue, pool, sch };
}

describe('fair share in the scheduling pass', () => {
  it('off: the controller order takes the free instances', () => {
    const { queue, sch } = setup(undefined);
    sch.runQueue();
    assert.deepEqual(locked(queue), HEAVY.slice(0, 2));
  });

  it("on: the light owner's containers take them, and the heavy owner's say they were passed over and why", () => {
    const { queue, sch, pass } = setup({});
    sch.runQueue();
    assert.deepEqual(locked(queue), LIGHT);
    const b = sch.why()!.blockerOf(HEAVY[0])!;
    assert.equal(b.reason, 'fair_share');
    assert.deepEqual({ ...b, ahead: undefined }, { reason: 'fair_share', position: 3, owner: 'heavy', used_share: 1, target_share: 0.5, moved_back: 2, window_ms: 3_600_000, ahead: undefined });
    assert.equal(describeBlocker(b), "fair share: owner heavy has used 100% of the last 60 min's VCPU-seconds against a share of 50%; 2 containers of owners further below their share go first");
    assert.deepEqual(pass!.counts, { reordered: 1, unchanged: 0 });
  });

  it('a priority band above the light owner keeps the heavy owner first', () => {
    const { queue, sch } = setup({ PriorityBands: [5] });
    for (const u of HEAVY.slice(0, 2)) queue.set(u, { priority: 5 });
    sch.runQueue();
    assert.deepEqual(locked(queue), HEAVY.slice(0, 2));
  });

  it("a weight divides the use: the heavy owner's weight of 10 lets it go after one light container", () => {
    const { queue, sch } = setup({ Weights: { heavy: 10 } });
    sch.runQueue();
    // heavy: 2 VCPUs running x 60 s / 10 = 12, light 0; after light's first (charged 60), heavy's come (6 each) until they pass 60.
    assert.deepEqual(locked(queue), [LIGHT[0], HEAVY[0]]);
  });

  it('counts the passes it reordered and those it left alone in /metrics', async () => {
    const m = new DispatcherMetrics(loadConfigText('Clusters: {zzzzz: {}}').cluster);
    const counts = { reordered: 3, unchanged: 5 };
    m.attach({ ...noSources(), fairShare: () => counts });
    const s = parseProm(await m.text());
    assert.equal(promValue(s, 'arvados_dispatchcloud_fair_share_passes_total', { outcome: 'reordered' }), 3);
    assert.equal(promValue(s, 'arvados_dispatchcloud_fair_share_passes_total', { outcome: 'unchanged' }), 5);
  });

  it("does not charge an owner for a crunch-run that has exited, though its container is still Locked", () => {
    const { clock, queue, pool, sch, pass } = setup({});
    queue.add({ uuid: uuid(9), state: 'Locked' });
    pool.exitedMap.set(uuid(9), clock.now());
    sch.runQueue();
    assert.equal(pass!.usage.running('heavy'), 2, 'the two running, not the one that exited');
  });

  it('never moves a container whose crunch-run has started: it stays ahead of the waiting ones, as the supervisor count needs', () => {
    const { queue, sch } = setup({});
    // Handed to crunch-run, not yet Running; the light owner's are Locked and waiting.
    for (const u of [...RUNNING, ...LIGHT]) queue.set(u, { state: 'Locked' });
    sch.runQueue();
    assert.deepEqual(
      sch.queueView().slice(0, 2).map((e) => e.entry.container.uuid),
      RUNNING,
    );
  });

  it("never moves a Queued container ahead of a Locked one: the heavy owner's locked containers keep the free instances", () => {
    const { queue, pool, sch } = setup({});
    for (const u of HEAVY) queue.set(u, { state: 'Locked' });
    sch.runQueue();
    assert.deepEqual(locked(queue), [], 'nothing locked for the light owner: that would unlock and reshuffle what is held');
    assert.deepEqual(pool.starts, HEAVY.slice(0, 2));
  });

  it('works out the shares among the owners with containers waiting, not those whose containers have all started', () => {
    const clock = new ManualClock();
    const cluster = testCluster();
    const queue = new FakeQueue(clock, cluster);
    const pool = new FakePool(clock);
    // RUNNING[1] is the only container of a third owner, handed to crunch-run and not Running yet.
    const owners = { ownerOf: (u: string) => (LIGHT.includes(u) ? 'light' : u === RUNNING[1] ? 'started' : 'heavy') };
    const pass = new FairSharePass({ ...defaultSettings().FairShare, Enable: true }, owners, clock);
    const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger: createLogger({ stream: new LineCollector(), clock }), fairShare: pass });
    for (const u of RUNNING) {
      queue.add({ uuid: u, state: 'Locked' });
      pool.runOn(pool.addWorker(cluster.InstanceTypes.type1, 'running'), u);
    }
    pool.addWorker(cluster.InstanceTypes.type1);
    pool.addWorker(cluster.InstanceTypes.type1);
    pool.quota = 4;
    queue.add(...HEAVY.map((u) => ({ uuid: u })), ...LIGHT.map((u) => ({ uuid: u })));
    sch.runQueue();
    const b = HEAVY.map((u) => sch.why()!.blockerOf(u)!).find((x) => x.reason === 'fair_share');
    assert.ok(b?.reason === 'fair_share', 'a heavy container was moved back');
    assert.deepEqual([b.used_share, b.target_share], [1, 0.5], 'heavy and light wait; the third owner does not');
  });

  it("a container moved ahead is judged as itself: a workflow runner it passed still counts against the supervisor limit, not it", () => {
    // MaxInstances 10 x 0.1: one supervisor at a time.
    const { cluster, queue, pool, sch } = withFairShare(testCluster({ cloudVMs: { SupervisorFraction: 0.1 } }));
    // The heavy owner runs a workflow runner and has a second one waiting, ahead of the light owner's container.
    queue.add({ uuid: RUNNING[0], state: 'Running', supervisor: true });
    pool.runOn(pool.addWorker(cluster.InstanceTypes.type1, 'running'), RUNNING[0]);
    queue.add({ uuid: HEAVY[0], state: 'Locked', supervisor: true }, { uuid: LIGHT[0], state: 'Locked' });
    sch.runQueue();
    const status = (u: string): string => sch.queueView().find((e) => e.entry.container.uuid === u)!.schedulingStatus;
    assert.deepEqual(
      sch.queueView().map((e) => e.entry.container.uuid),
      [RUNNING[0], LIGHT[0], HEAVY[0]],
      'fair share moved the light container ahead',
    );
    assert.match(status(HEAVY[0]), /cannot start any new workflows/, 'the second runner waits for the first');
    assert.doesNotMatch(status(LIGHT[0]), /workflow/, 'the light container is no runner');
    assert.deepEqual(pool.creates, ['type1'], 'one instance, for the light container');
  });

  it("a container moved ahead gets an instance of its own size, not that of the one whose place it took", () => {
    const { cluster, queue, pool, sch } = withFairShare(testCluster());
    // The heavy owner runs one container and has four small ones waiting before the light owner's two larger ones; no instance is free.
    queue.add({ uuid: RUNNING[0], state: 'Running' });
    pool.runOn(pool.addWorker(cluster.InstanceTypes.type1, 'running'), RUNNING[0]);
    queue.add(...HEAVY.map((u) => ({ uuid: u, state: 'Locked' as const })));
    queue.add({ uuid: LIGHT[0], state: 'Locked', vcpus: 4, ram: 4 }, { uuid: LIGHT[1], state: 'Locked', vcpus: 3, ram: 3 });
    sch.runQueue();
    assert.equal(pool.creates[0], 'type4', "the light owner's first container went first, with its own type");
    assert.deepEqual([...pool.creates].sort(), ['type1', 'type1', 'type1', 'type1', 'type3', 'type4'], 'each container got an instance of its own size');
  });
});
