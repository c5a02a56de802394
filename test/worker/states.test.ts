/**
 * The worker state machine as a table: a worker in some state, one probe
 * with scripted outcomes (boot probe, `crunch-run --list`) after some time,
 * and the state, idle behaviour and processes that must follow. The table
 * mirrors `src/worker/states.md`.
 */
import assert from 'node:assert/strict';
import type { IdleBehavior, WorkerState } from '../../src/scheduler/interfaces.js';
import { parseListOutput } from '../../src/worker/worker-probe.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { SshConnectError } from '../../src/ssh/errors.js';
import { type Answer, fail, FakeCloud, lockedContainer, ok } from './fake-cloud.js';

const U1 = 'zzzzz-dz642-000000000000001';
const OTHER_CLUSTER = 'yyyyy-dz642-000000000000009';
const MIN = 60_000;

interface Row {
  from: 'unknown' | 'booting' | 'idle' | 'running';
  behavior?: IdleBehavior;
  boot?: Answer;
  list?: Answer;
  /** ms between the last successful probe (or appearance) and this probe. */
  after?: number;
  state: WorkerState;
  expectBehavior?: IdleBehavior;
  running?: string[];
}

// TimeoutBooting and TimeoutProbe are 10m, TimeoutIdle is raised out of the way.
const TABLE: Row[] = [
  { from: 'unknown', boot: ok(), list: ok(), state: 'idle' },
  { from: 'unknown', boot: ok(), list: ok(`${U1}\n`), state: 'running', running: [U1] },
  { from: 'unknown', boot: fail(), list: ok(`${U1}\n`), state: 'unknown', running: [U1] },
  { from: 'unknown', boot: fail(), list: ok(), state: 'unknown' },
  { from: 'unknown', boot: fail(), list: fail(), after: 9 * MIN, state: 'unknown' },
  { from: 'unknown', boot: 'error', list: 'error', after: 10 * MIN, state: 'shutdown' },
  { from: 'unknown', behavior: 'hold', boot: 'error', list: 'error', after: 10 * MIN, state: 'unknown', expectBehavior: 'hold' },
  { from: 'unknown', behavior: 'drain', boot: ok(), list: ok(), state: 'shutdown', expectBehavior: 'drain' },
  { from: 'unknown', behavior: 'drain', boot: ok(), list: ok(`${U1}\n`), state: 'running', expectBehavior: 'drain', running: [U1] },
  { from: 'unknown', boot: ok(), list: ok(`${OTHER_CLUSTER}\n`), state: 'idle' },
  { from: 'booting', boot: fail(), state: 'booting' },
  { from: 'booting', boot: ok(), list: ok(), state: 'idle' },
  { from: 'booting', boot: ok(), list: fail(), state: 'booting' },
  { from: 'booting', boot: ok(), list: ok('broken\n'), state: 'shutdown', expectBehavior: 'drain' },
  { from: 'booting', boot: 'error', after: 9 * MIN, state: 'booting' },
  { from: 'booting', boot: 'error', after: 10 * MIN, state: 'shutdown' },
  { from: 'idle', list: ok(), state: 'idle' },
  { from: 'idle', list: ok(`${U1}\n`), state: 'running', running: [U1] },
  { from: 'idle', list: fail(), after: 9 * MIN, state: 'idle' },
  { from: 'idle', list: 'error', after: 10 * MIN, state: 'shutdown' },
  { from: 'idle', behavior: 'hold', list: 'error', after: 10 * MIN, state: 'idle', expectBehavior: 'hold' },
  { from: 'idle', list: ok('broken\n'), state: 'shutdown', expectBehavior: 'drain' },
  { from: 'idle', behavior: 'hold', list: ok('broken\n'), state: 'idle', expectBehavior: 'hold' },
  { from: 'running', list: ok(`${U1}\n`), state: 'running', running: [U1] },
  { from: 'running', list: ok(), state: 'idle' },
  { from: 'running', list: ok(`${U1}\nbroken\n`), state: 'running', expectBehavior: 'drain', running: [U1] },
  { from: 'running', behavior: 'drain', list: ok(), state: 'shutdown', expectBehavior: 'drain' },
  { from: 'running', list: fail(), after: 10 * MIN, state: 'shutdown', running: [U1] },
];

function describeRow(r: Row): string {
  const show = (a: Answer | undefined): string =>
    a === undefined ? '-' : a === 'error' ? 'conn error' : typeof a === 'function' ? 'fn' : a.exit === 0 ? `ok ${JSON.stringify(a.stdout ?? '')}` : `exit ${a.exit}`;
  return `${r.from}${r.behavior ? `/${r.behavior}` : ''}: boot ${show(r.boot)}, list ${show(r.list)}${r.after ? ` after ${r.after / MIN}m` : ''} -> ${r.state}`;
}

/** A worker in `row.from` with `row.behavior`, its last good probe just now. */
async function workerIn(f: FakeCloud, row: Row): Promise<string> {
  const behavior = row.behavior ?? 'run';
  if (row.from === 'booting') {
    const id = await f.createBooting();
    f.script(id, { boot: fail() });
    if (behavior !== 'run') await f.pool.setIdleBehavior(id, behavior);
    return id;
  }
  const id = f.seed({ ArvadosIdleBehavior: behavior });
  await f.pool.syncNow();
  if (row.from === 'unknown') return id;
  f.script(id, { boot: ok(), list: ok(row.from === 'running' ? `${U1}\n` : '') });
  await f.probe();
  assert.equal(f.pool.detail(id)?.workerState, row.from, 'setup');
  return id;
}

describe('worker state machine: probe outcomes -> transitions', () => {
  for (const row of TABLE) {
    it(describeRow(row), async () => {
      const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
      const id = await workerIn(f, row);
      f.script(id, { ...(row.boot ? { boot: row.boot } : {}), ...(row.list ? { list: row.list } : {}) });
      if (row.after) await f.tick(row.after);
      await f.probe();
      const d = f.pool.detail(id);
      assert.equal(d?.workerState, row.state, 'state');
      assert.equal(d?.idleBehavior, row.expectBehavior ?? row.behavior ?? 'run', 'idle behaviour');
      assert.deepEqual(d?.runningContainerUUIDs, row.running ?? [], 'processes');
      assert.equal(f.vms.get(id)!.destroyed > 0, row.state === 'shutdown', 'destroy called');
      f.pool.stop();
    });
  }
});

describe('worker state machine: other rules', () => {
  it('an unknown worker whose boot probe fails but whose --list answers stays unknown, and stops hiding what it runs', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const id = f.seed();
    await f.pool.syncNow();
    assert.equal(f.pool.unlistedWorkers(), 1, 'found in the cloud, not probed yet');
    f.script(id, { boot: fail(), list: fail() });
    await f.probe();
    assert.equal(f.pool.unlistedWorkers(), 1, 'no --list yet');
    assert.equal(f.pool.listedAt(), 0);
    await f.tick(1000);
    f.script(id, { boot: fail(), list: ok(`${U1}\n`) });
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'unknown');
    assert.equal(f.pool.countWorkers().unknown, 1);
    assert.equal(f.pool.unlistedWorkers(), 0, 'what runs there is known');
    assert.deepEqual([...f.pool.running().keys()], [U1]);
    const listed = f.pool.listedAt();
    assert.ok(listed > 0 && listed <= f.clock.now(), 'when its processes became known');
    // Later listings of it do not move it.
    await f.tick(1000);
    await f.probe();
    assert.equal(f.pool.listedAt(), listed);
  });

  it('a stale run lock for longer than TimeoutStaleRunLock counts as broken', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN, TimeoutStaleRunLock: 5000 });
    const id = f.seed();
    await f.pool.syncNow();
    f.script(id, { list: ok(`${U1} stale\n`) });
    await f.probe();
    assert.equal(f.pool.detail(id)?.idleBehavior, 'run', 'first sighting');
    await f.tick(5000);
    await f.probe();
    assert.equal(f.pool.detail(id)?.idleBehavior, 'run', 'not longer than TimeoutStaleRunLock yet');
    await f.tick(1);
    await f.probe();
    assert.equal(f.pool.detail(id)?.idleBehavior, 'drain');
    assert.equal(f.pool.detail(id)?.workerState, 'shutdown');
  });

  it('a stale lock that clears resets the clock', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN, TimeoutStaleRunLock: 5000 });
    const id = f.seed();
    await f.pool.syncNow();
    f.script(id, { list: ok(`${U1} stale\n`) });
    await f.probe();
    f.script(id, { list: ok() });
    await f.tick(4000);
    await f.probe();
    f.script(id, { list: ok(`${U1} stale\n`) });
    await f.tick(4000);
    await f.probe();
    await f.tick(4000);
    await f.probe();
    assert.equal(f.pool.detail(id)?.idleBehavior, 'run');
  });

  it('idle with behaviour run shuts down at the first probe round after TimeoutIdle; booting never does', async () => {
    const f = new FakeCloud({ TimeoutIdle: MIN });
    const idle = await f.idleWorker();
    const booting = await f.createBooting();
    f.script(booting, { boot: fail() });
    await f.tick(MIN - 1);
    await f.probe();
    assert.equal(f.pool.detail(idle)?.workerState, 'idle');
    await f.tick(1);
    await f.probe();
    assert.equal(f.pool.detail(idle)?.workerState, 'shutdown');
    assert.equal(f.pool.detail(booting)?.workerState, 'booting');
  });

  it('an unknown worker silent since it appeared is shut down by the first probe round TimeoutBooting later, before probing it, as an aborted boot; one running our processes is kept', async () => {
    const lines = new LineCollector();
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN, TimeoutBooting: 10 * MIN }, { logger: createLogger({ stream: lines }) });
    const silent = f.seed();
    const busy = f.seed();
    await f.pool.syncNow();
    f.script(silent, { boot: fail(), list: fail() });
    f.script(busy, { boot: fail(), list: ok(`${U1}\n`) });
    await f.probe();
    // Each round here takes a pacing interval (100 ms) of the clock.
    await f.tick(10 * MIN - 1_000);
    await f.probe();
    assert.equal(f.pool.detail(silent)?.workerState, 'unknown', 'not yet TimeoutBooting since it appeared');
    await f.tick(1_000);
    const probesBefore = f.commands.filter((c) => c.instance === silent).length;
    await f.probe();
    assert.equal(f.pool.detail(silent)?.workerState, 'shutdown');
    assert.equal(f.commands.filter((c) => c.instance === silent).length, probesBefore, 'not probed again first');
    assert.equal(f.pool.stats().bootOutcomes.aborted, 1);
    assert.equal(f.pool.stats().bootOutcomes.failure, 0);
    const line = lines.records().find((r) => r.msg === 'shutdown worker');
    assert.equal(line?.State, 'unknown');
    assert.equal(lines.records().filter((r) => String(r.msg).includes('unresponsive')).length, 0, 'not logged as unresponsive');
    assert.equal(f.pool.detail(busy)?.workerState, 'unknown', 'its processes keep it');
    assert.deepEqual(f.pool.detail(busy)?.runningContainerUUIDs, [U1]);
  });

  it('starts at most MaxProbesPerSecond probes a second across the pool', async () => {
    const f = new FakeCloud({ MaxProbesPerSecond: 2 });
    for (let i = 0; i < 5; i++) f.seed();
    await f.pool.syncNow();
    const probes = () => f.commands.filter((c) => c.command.includes('is-system-running')).length;
    void f.pool.probeNow();
    await f.tick(0);
    assert.equal(probes(), 1);
    await f.tick(499);
    assert.equal(probes(), 1);
    await f.tick(1);
    assert.equal(probes(), 2);
    await f.tick(1500);
    assert.equal(probes(), 5);
  });

  it('drops a probe round asked for while the last one is still pacing its probes, as a ticker drops a missed tick', async () => {
    const f = new FakeCloud({ MaxProbesPerSecond: 2 });
    for (let i = 0; i < 5; i++) f.seed();
    await f.pool.syncNow();
    const probes = () => f.commands.filter((c) => c.command.includes('is-system-running')).length;
    const first = f.pool.probeNow();
    await f.tick(250);
    assert.equal(probes(), 1, 'the first round is pacing');
    let dropped = false;
    void f.pool.probeNow().then(() => (dropped = true));
    await f.tick(0);
    assert.equal(dropped, true, 'the second round ends at once');
    assert.equal(probes(), 1, 'and probes nothing');
    await f.tick(1750);
    await first;
    assert.equal(probes(), 5, 'one probe per worker, at MaxProbesPerSecond');
  });

  it('a ProbeInterval tick that comes while a round is still pacing its probes starts the next round right after it, as a ticker keeps one missed tick', async () => {
    const f = new FakeCloud({ MaxProbesPerSecond: 2, ProbeInterval: 1_900, SyncInterval: 3_600_000 });
    for (let i = 0; i < 5; i++) f.seed();
    const lists = () => f.commands.filter((c) => c.command.includes('--list')).length;
    // The first listing, then a round at once: five probes 500 ms apart, the
    // last at 2000 ms, past the tick at 1900 ms.
    f.pool.start();
    await f.tick(0);
    await f.tick(2000);
    assert.equal(lists(), 5, 'the first round probed every worker');
    await f.tick(499);
    assert.equal(lists(), 5, 'the next round keeps MaxProbesPerSecond pacing after the last probe');
    await f.tick(1);
    assert.equal(lists(), 6, 'the missed tick starts the next round without waiting for the tick at 3800 ms');
    f.pool.stop();
  });

  it('probes of one worker never overlap', async () => {
    const f = new FakeCloud();
    const id = f.seed();
    await f.pool.syncNow();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    f.script(id, {
      boot: async () => {
        await gate;
        return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
      },
    });
    await f.probe();
    await f.probe();
    await f.probe();
    assert.equal(f.commands.filter((c) => c.command.includes('is-system-running')).length, 1);
    assert.equal(f.pool.detail(id)?.probing, true);
    release();
    await f.tick(0);
    assert.equal(f.pool.detail(id)?.workerState, 'idle');
  });

  it('the scheduler may shut down a booting or idle worker with nothing to run, but not one on hold or running', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const idle = f.seed();
    const held = f.seed({ ArvadosIdleBehavior: 'hold' });
    const busy = f.seed();
    f.script(busy, { list: ok(`${U1}\n`) });
    await f.pool.syncNow();
    await f.probe();
    assert.equal(f.pool.shutdown(busy), false);
    assert.equal(f.pool.shutdown(held), false);
    assert.equal(f.pool.shutdown('nope'), false);
    assert.equal(f.pool.shutdown(idle), true);
    assert.equal(f.pool.detail(idle)?.workerState, 'shutdown');
    assert.equal(
      f.pool.instances().some((v) => v.instance === idle),
      false,
      'instances() leaves shut-down workers out',
    );
    assert.equal(f.pool.countWorkers().shutdown, 1);
  });

  it('an idle or running worker gets only --list: a boot probe that would fail now is never run against it', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN, TimeoutProbe: 10 * MIN });
    const idle = f.seed();
    const busy = f.seed();
    f.script(busy, { list: ok(`${U1}\n`) });
    await f.pool.syncNow();
    await f.probe();
    assert.equal(f.pool.detail(idle)?.workerState, 'idle');
    assert.equal(f.pool.detail(busy)?.workerState, 'running');
    f.script(idle, { boot: fail('degraded') });
    f.script(busy, { boot: fail('degraded') });
    const before = f.commands.length;
    for (let i = 0; i < 4; i++) {
      await f.tick(4 * MIN);
      await f.probe();
    }
    assert.deepEqual(
      f.commands.slice(before).filter((c) => !c.command.includes('--list')),
      [],
      'nothing but --list once booted',
    );
    assert.equal(f.pool.detail(idle)?.workerState, 'idle', 'its --list answers: in service');
    assert.equal(f.pool.detail(busy)?.workerState, 'running');
    assert.deepEqual(f.pool.detail(busy)?.runningContainerUUIDs, [U1], 'its container left alone');
    assert.equal(f.vms.get(busy)!.destroyed, 0);
  });

  it('an unknown worker whose boot probe fails still reports the exit of a process its --list no longer shows', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const id = f.seed();
    await f.pool.syncNow();
    f.script(id, { boot: fail('degraded'), list: ok(`${U1}\n`) });
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'unknown');
    assert.deepEqual([...f.pool.running().keys()], [U1]);
    await f.tick(1000);
    f.script(id, { list: ok() });
    await f.probe();
    assert.equal(f.pool.running().has(U1), false, 'no longer running');
    assert.equal(f.pool.exited().get(U1), f.clock.now(), 'its exit is reported to the scheduler');
    assert.equal(f.pool.detail(id)?.lastProbeAt, f.clock.now(), 'the --list counts as a successful probe');
  });

  it('TimeoutProbe counts from the last successful probe, not from when the worker appeared', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN, TimeoutProbe: 10 * MIN });
    const id = f.seed();
    await f.pool.syncNow();
    await f.probe();
    await f.tick(20 * MIN);
    await f.probe();
    const lastGood = f.clock.now();
    assert.equal(f.pool.detail(id)?.lastProbeAt, lastGood);
    f.script(id, { list: 'error' });
    await f.tick(9 * MIN);
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'idle', '9 minutes of failures: kept');
    assert.equal(f.pool.detail(id)?.lastProbeAt, lastGood);
    await f.tick(MIN);
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'shutdown', 'TimeoutProbe since the last success: shut down');
  });

  it('a --list that began before a start returned does not end that container', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const id = f.seed();
    await f.pool.syncNow();
    await f.probe();
    let finishDetach!: () => void;
    const detached = new Promise<void>((r) => (finishDetach = r));
    let finishList!: () => void;
    const listed = new Promise<void>((r) => (finishList = r));
    f.script(id, {
      detach: async () => {
        await detached;
        return { exitCode: 0, stdout: Buffer.from('{}'), stderr: Buffer.alloc(0) };
      },
      // The listing was taken before crunch-run started: it shows nothing.
      list: async () => {
        await listed;
        return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
      },
    });
    assert.equal(f.pool.startContainer(id, lockedContainer(1)), true);
    await f.tick(0);
    void f.pool.probeNow();
    await f.tick(0);
    finishDetach();
    await f.tick(0);
    assert.deepEqual(f.pool.detail(id)?.runningContainerUUIDs, [U1], 'started');
    finishList();
    await f.tick(0);
    assert.deepEqual(f.pool.detail(id)?.runningContainerUUIDs, [U1], 'the older --list does not end it');
    assert.equal(f.pool.exited().has(U1), false, 'no exit is reported');
    assert.equal(f.pool.detail(id)?.workerState, 'running');
  });

  it('a worker whose --list shows a process counts as busy at every probe', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const id = f.seed();
    f.script(id, { list: ok(`${U1}\n`) });
    await f.pool.syncNow();
    await f.probe();
    await f.tick(30 * MIN);
    await f.probe();
    assert.equal(f.pool.detail(id)?.lastBusy, f.clock.now(), 'last busy at the latest probe');
  });

  it('tells subscribers when a probe puts a new worker in service', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const id = await f.createBooting();
    assert.equal(f.pool.detail(id)?.workerState, 'booting');
    let calls = 0;
    f.pool.subscribe(() => calls++);
    await f.tick(1000);
    assert.equal(calls, 0, 'nothing new yet');
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'idle');
    assert.ok(calls > 0, 'subscribers hear that it can take containers');
  });

  it('a booting VM whose first --list says broken counts as a failed boot, not an aborted one', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const id = await f.createBooting();
    f.script(id, { list: ok('broken\n') });
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'shutdown');
    assert.deepEqual(f.pool.stats().bootOutcomes, { success: 0, failure: 1, aborted: 0, disappeared: 0 });
  });

  it('a probe that fails after the worker was shut down meanwhile neither destroys it again nor logs it unresponsive', async () => {
    const lines = new LineCollector();
    const logger = createLogger({ stream: lines, level: 'debug' });
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN, TimeoutBooting: 10 * MIN }, { logger });
    // Booting: a silent `unknown` one would be shut down by the round itself, before any probe.
    const id = await f.createBooting();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    f.script(id, {
      boot: async () => {
        await gate;
        throw new SshConnectError(id, 'refused', 'scripted');
      },
      list: 'error',
    });
    await f.tick(10 * MIN);
    void f.pool.probeNow();
    await f.tick(0);
    assert.equal(f.pool.detail(id)?.probing, true, 'a probe past TimeoutBooting is in flight');
    f.pool.killInstance(id, 'operator');
    await f.tick(0);
    assert.equal(f.vms.get(id)!.destroyed, 1);
    release();
    await f.tick(0);
    assert.equal(f.pool.detail(id)?.probing, false, 'the probe has ended');
    assert.equal(f.vms.get(id)!.destroyed, 1, 'destroyed once');
    assert.equal(lines.records().filter((r) => String(r.msg).includes('unresponsive')).length, 0, 'no "unresponsive" line for a worker already shut down');
  });

  it('the scheduler may shut down a worker still booting', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const id = await f.createBooting();
    assert.equal(f.pool.detail(id)?.workerState, 'booting');
    assert.equal(f.pool.shutdown(id), true);
    await f.tick(0);
    assert.equal(f.pool.detail(id)?.workerState, 'shutdown');
    assert.equal(f.vms.get(id)!.destroyed, 1);
    assert.equal(f.pool.stats().bootOutcomes.aborted, 1, 'an aborted boot');
  });

  it('parses crunch-run --list output', () => {
    assert.deepEqual(parseListOutput(`${U1}\nzzzzz-dz642-000000000000002 stale\nbroken\n${OTHER_CLUSTER}\n\n`, 'zzzzz'), {
      running: [U1],
      stale: ['zzzzz-dz642-000000000000002'],
      broken: true,
      garbled: [],
    });
    assert.deepEqual(parseListOutput('', 'zzzzz'), { running: [], stale: [], broken: false, garbled: [] });
    // Garbage that starts with the cluster id is not a process to adopt.
    const junk = parseListOutput(`zzzzz-dz642-short\nzzzzz-dz642-00000000000000X\n${U1} stale extra\n${U1} running\nzzzzz\x00\xff\n${U1}\n`, 'zzzzz');
    assert.deepEqual(junk.running, [U1]);
    assert.deepEqual(junk.stale, []);
    assert.equal(junk.garbled.length, 5);
  });
});
