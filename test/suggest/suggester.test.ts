import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { ManualClock, settle } from '../../src/clock/index.js';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import type { InstanceType } from '../../src/config/types.js';
import { BootTimes } from '../../src/estimate/boot.js';
import { RuntimeHistory } from '../../src/estimate/history.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { instanceResourcesNeeded } from '../../src/queue/instance-types.js';
import type { Blocker } from '../../src/scheduler/blocker.js';
import type { WhyBuilder } from '../../src/scheduler/why.js';
import type { SimOptions } from '../../src/sim/engine.js';
import type { SimResult } from '../../src/sim/result.js';
import { TARGET_ID } from '../../src/suggest/live-workload.js';
import { CACHE_MS, ROUND_MS, Suggester } from '../../src/suggest/suggester.js';
import { simConfig } from '../sim/helpers.js';

const MIN = 60_000;
const cluster = simConfig();

function container(): Container {
  return {
    uuid: 'zzzzz-dz642-000000000000001',
    state: 'Queued',
    priority: 1,
    runtime_constraints: { vcpus: 2, ram: 1 << 30 },
    scheduling_parameters: {},
    container_image: 'img',
    created_at: '2026-01-01T00:00:00Z',
  };
}

/** A suggester over one waiting container with `blocker`, its simulator a fake that takes `wallMs` of (fake) wall time per run. */
function setup(opts: {
  blocker: Blocker;
  settings?: Partial<Settings['Suggestions']>;
  starts: Array<number | undefined>;
  wallMs: number;
  fail?: boolean;
  hold?: Promise<void>;
  /** The waiting containers in scheduling order and how long each has waited; default the one of `container()`, 10 minutes. */
  waiting?: Array<{ container: Container; waitedMs: number }>;
  /** The blocker of the container at a list index; default `blocker` for each. */
  blockerAt?: (listIndex: number) => Blocker | undefined;
  atCapacity?: (t: InstanceType) => boolean;
}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const c = container();
  const entries = (opts.waiting ?? [{ container: c, waitedMs: 10 * MIN }]).map((w) => ({
    container: w.container,
    instanceTypes: [cluster.InstanceTypes.small],
    instanceResources: instanceResourcesNeeded(cluster, w.container),
    firstSeenAt: clock.now() - w.waitedMs,
  }));
  let wall = 0;
  const logs = new LineCollector();
  const runs: SimOptions[] = [];
  const simulate = async (o: SimOptions): Promise<SimResult> => {
    const start = opts.starts[runs.length];
    runs.push(o);
    wall += opts.wallMs;
    await opts.hold;
    if (opts.fail) throw new Error('simulator broke');
    return { startedAt: 1000, containers: [{ id: TARGET_ID, idealMs: 0, ...(start === undefined ? {} : { runningAt: 1000 + start }) }] } as unknown as SimResult;
  };
  const blocker = opts.blocker;
  const suggester = new Suggester({
    clock,
    logger: createLogger({ stream: logs, level: 'debug', clock }),
    settings: { ...defaultSettings().Suggestions, ...opts.settings },
    cluster,
    scheduler: {
      queueView: () => entries.map((entry, listIndex) => ({ entry, schedulingStatus: '', listIndex })),
      why: () => ({ blockerAt: (i: number) => (opts.blockerAt ? opts.blockerAt(i) : blocker) }) as unknown as WhyBuilder,
    },
    pool: { running: () => new Map(), atCapacity: opts.atCapacity ?? (() => false) },
    queue: { get: () => undefined },
    estimator: { runtimes: new RuntimeHistory(), boots: new BootTimes() },
    simulate,
    wallNow: () => wall,
  });
  return { clock, suggester, runs, uuid: c.uuid, logs };
}

const atMaxInstances: Blocker = { reason: 'quota', position: 0, bucket: 'MaxInstances', in_use: 50, limit: 50, ahead: { containers: 0, vcpus: 0, ram_bytes: 0 } };

/** Runs one round to its end (with MaxCPUFraction 1 nothing rests). */
async function wholeRound(clock: ManualClock, suggester: Suggester): Promise<void> {
  const round = suggester.round();
  for (let i = 0; i < 10; i++) await clock.runTo(clock.now()), await settle(10);
  await round;
}

describe('Suggester', () => {
  it('after a simulator run of wall time w, waits w x (1/MaxCPUFraction - 1) before the next', async () => {
    const { clock, suggester, runs } = setup({ blocker: atMaxInstances, settings: { MaxCPUFraction: 0.25 }, starts: [undefined, 3 * MIN], wallMs: 2000 });
    const round = suggester.round();
    await settle(10);
    assert.equal(runs.length, 1);
    // 2 s of work at a quarter of a CPU: 6 s of rest.
    await clock.runTo(clock.now() + 5999);
    await settle(10);
    assert.equal(runs.length, 1);
    await clock.runTo(clock.now() + 1);
    await settle(10);
    assert.equal(runs.length, 2);
    await clock.runTo(clock.now() + 6000);
    await round;
  });

  it('keeps a change that starts it sooner, with the figures of the runs, and runs each for the horizon', async () => {
    const { clock, suggester, runs, uuid } = setup({ blocker: atMaxInstances, settings: { MaxCPUFraction: 1, Horizon: 30 * MIN }, starts: [undefined, 3 * MIN], wallMs: 5 });
    const round = suggester.round();
    for (let i = 0; i < 5; i++) await clock.runTo(clock.now()), await settle(10);
    await round;
    assert.deepEqual(
      runs.map((r) => [r.limitMs, r.cluster.Containers.CloudVMs.MaxInstances]),
      [
        [30 * MIN, 50],
        [30 * MIN, 51],
      ],
    );
    assert.deepEqual(suggester.suggestions(uuid), [{ change: 'MaxInstances 51 (+1)', effect: 'would start it in ~3 min instead of not within the 30 min horizon' }]);
    // Cached while the blocker stays the same: a second round runs nothing.
    await suggester.round();
    assert.equal(runs.length, 2);
  });

  it('drops a change that does not start it at least a minute sooner', async () => {
    const { clock, suggester, runs, uuid } = setup({ blocker: atMaxInstances, settings: { MaxCPUFraction: 1 }, starts: [10 * MIN, 9.5 * MIN], wallMs: 5 });
    const round = suggester.round();
    for (let i = 0; i < 5; i++) await clock.runTo(clock.now()), await settle(10);
    await round;
    assert.equal(runs.length, 2);
    assert.equal(suggester.suggestions(uuid), undefined);
  });

  it('runs nothing when Suggestions.Enable is false, and nothing for a blocker no config change helps', async () => {
    const off = setup({ blocker: atMaxInstances, settings: { Enable: false }, starts: [], wallMs: 5 });
    off.suggester.start();
    await off.suggester.round();
    await off.clock.runTo(off.clock.now() + 10 * MIN);
    assert.equal(off.runs.length, 0);
    assert.equal(off.clock.pendingTimers(), 0);
    const limit = setup({ blocker: { reason: 'concurrency_limit', position: 0, limit: 4, running: 4, controller: 'normal' }, starts: [], wallMs: 5 });
    await limit.suggester.round();
    assert.equal(limit.runs.length, 0);
  });

  it('a failing run: logged, rested after like any run, and not retried while the blocker stays the same', async () => {
    const { clock, suggester, runs, logs } = setup({ blocker: atMaxInstances, settings: { MaxCPUFraction: 0.5 }, starts: [], wallMs: 3000, fail: true });
    let done = false;
    const round = suggester.round().finally(() => (done = true));
    await settle(10);
    await clock.runTo(clock.now() + 2999);
    await settle(10);
    assert.equal(done, false);
    await clock.runTo(clock.now() + 1);
    await round;
    assert.equal(runs.length, 1);
    assert.deepEqual(
      logs.records().filter((r) => r.msg === 'suggestions failed').map((r) => r.error),
      ['simulator broke'],
    );
    await suggester.round();
    assert.equal(runs.length, 1);
  });

  it('stop() tells the run in progress to end (through stopWhen) and waits for it', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const { clock, suggester, runs } = setup({ blocker: atMaxInstances, starts: [], wallMs: 5, hold });
    suggester.start();
    await clock.runTo(clock.now() + ROUND_MS);
    await settle(10);
    assert.equal(runs.length, 1);
    assert.equal(runs[0].stopWhen!(), false);
    let stopped = false;
    const stopping = suggester.stop().then(() => (stopped = true));
    await settle(10);
    assert.equal(stopped, false);
    assert.equal(runs[0].stopWhen!(), true);
    release();
    await stopping;
    assert.equal(runs.length, 1);
    assert.equal(clock.pendingTimers(), 0);
  });

  it('works a container out again when its blocker changes, though its result is still fresh', async () => {
    const blocker = { ...atMaxInstances };
    const { clock, suggester, runs } = setup({ blocker, settings: { MaxCPUFraction: 1 }, starts: [undefined, 3 * MIN, undefined, 3 * MIN], wallMs: 5 });
    await wholeRound(clock, suggester);
    assert.equal(runs.length, 2);
    // MaxInstances was raised meanwhile and is met again: another blocker.
    Object.assign(blocker, { in_use: 60, limit: 60 });
    await wholeRound(clock, suggester);
    assert.equal(runs.length, 4);
  });

  it('works a container out again once its result is CACHE_MS old, the blocker unchanged', async () => {
    const { clock, suggester, runs } = setup({ blocker: atMaxInstances, settings: { MaxCPUFraction: 1 }, starts: [undefined, 3 * MIN, undefined, 3 * MIN], wallMs: 5 });
    await wholeRound(clock, suggester);
    await clock.runTo(clock.now() + CACHE_MS - 1);
    await wholeRound(clock, suggester);
    assert.equal(runs.length, 2);
    await clock.runTo(clock.now() + 1);
    await wholeRound(clock, suggester);
    assert.equal(runs.length, 4);
  });

  it('looks first at the containers that have waited longest, whatever their place in the queue', async () => {
    const waiting = [11, 30, 20].map((m, i) => ({ container: { ...container(), uuid: `zzzzz-dz642-00000000000000${i + 1}` }, waitedMs: m * MIN }));
    const { clock, suggester } = setup({ blocker: atMaxInstances, settings: { MaxCPUFraction: 1 }, starts: [undefined, 3 * MIN, undefined, 3 * MIN], wallMs: 5, waiting });
    await wholeRound(clock, suggester);
    // Two a round: the one of 30 minutes and the one of 20.
    assert.deepEqual(
      waiting.map((w) => suggester.suggestions(w.container.uuid) !== undefined),
      [false, true, true],
    );
  });

  it('leaves a container of priority 0 ahead of it out of the simulation', async () => {
    const waiting = [
      { container: { ...container(), uuid: 'zzzzz-dz642-000000000000002', priority: 0 }, waitedMs: 10 * MIN },
      { container: container(), waitedMs: 10 * MIN },
    ];
    const { clock, suggester, runs } = setup({ blocker: atMaxInstances, settings: { MaxCPUFraction: 1 }, starts: [undefined, 3 * MIN], wallMs: 5, waiting, blockerAt: (i) => (i === 1 ? atMaxInstances : undefined) });
    await wholeRound(clock, suggester);
    assert.equal(runs.length, 2);
    assert.deepEqual(
      runs[0].workload.containers.map((c) => c.id),
      [TARGET_ID],
    );
  });

  it('tells the simulated cloud which provider types are at capacity, for a preemptible variant too', async () => {
    const { clock, suggester, runs } = setup({ blocker: atMaxInstances, settings: { MaxCPUFraction: 1 }, starts: [undefined, 3 * MIN], wallMs: 5, atCapacity: (t) => t.Name === 'small.preemptible' });
    await wholeRound(clock, suggester);
    assert.deepEqual((runs[0].cluster.Containers.CloudVMs.DriverParameters as Record<string, unknown>).CapacityErrorTypes, ['small']);
  });

  it('keeps the two changes that start it soonest, soonest first', async () => {
    // 10 containers ahead needing 12 VCPUs of small VMs (2 VCPUs): MaxInstances +7 and +4; the
    // price cap gives a third. Baseline, then the three in that order.
    const blocker: Blocker = {
      ...atMaxInstances,
      position: 10,
      ahead: { containers: 10, vcpus: 12, ram_bytes: 0 },
      price_cap: { maximum_price_factor: 1, types: [{ name: 'medium', price: 0.2, now: 'can be created' }] },
    };
    const { clock, suggester, runs, uuid } = setup({ blocker, settings: { MaxCPUFraction: 1 }, starts: [undefined, 5 * MIN, 3 * MIN, 4 * MIN], wallMs: 5 });
    await wholeRound(clock, suggester);
    assert.equal(runs.length, 4);
    assert.deepEqual(
      suggester.suggestions(uuid)?.map((s) => s.change),
      ['MaxInstances 54 (+4)', 'MaximumPriceFactor 2'],
    );
  });
});
