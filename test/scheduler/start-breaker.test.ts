/**
 * The start breaker (settings `StartBreaker`): while containers keep going
 * back to the queue without running, Queued containers are not locked but
 * for one trial every TryInterval, round the queue, never on a container's
 * last attempt; Locked containers go on; it closes when the rule clears.
 */
import assert from 'node:assert/strict';
import { ManualClock, settle } from '../../src/clock/index.js';
import type { Container } from '../../src/arvados/types.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { StartBreaker } from '../../src/scheduler/start-breaker.js';
import { describeBlocker } from '../../src/scheduler/why-text.js';
import { Timeline } from '../../src/timeline/timeline.js';
import { WastedAttemptWatch } from '../../src/timeline/wasted-attempts.js';
import { FakeClient, FakePool, FakeQueue, testCluster, uuid } from './fakes.js';

const MINUTE = 60_000;

/**
 * A breaker on object-literal fakes: `state.failing` is the rule, `lockCounts` what the controller answers
 * (0 when not given; null: no lock_count in the answer), `listed` the lock_counts the queue's lists gave
 * (none when not given); with `lastAttemptWait`, last attempts are held after the start until `state.ran`.
 */
function breaker(opts: { maxDispatchAttempts?: number; lockCounts?: Record<string, number | null>; listed?: Record<string, number>; lastAttemptWait?: number } = {}) {
  const clock = new ManualClock();
  const logs = new LineCollector();
  const state = { failing: false, ran: false };
  const said: Array<[string, Record<string, string | number>]> = [];
  const lockCounts: Record<string, number | null> = opts.lockCounts ?? {};
  const reads: string[] = [];
  let refuse = false;
  const client = {
    getContainer: async (u: string, select?: string[]): Promise<Container> => {
      reads.push(u);
      assert.deepEqual(select, ['uuid', 'state', 'lock_count'], 'only what a trial needs is read');
      if (refuse) throw new Error('503 Service Unavailable');
      const count = lockCounts[u] === undefined ? 0 : lockCounts[u];
      return { uuid: u, state: 'Queued', ...(count === null ? {} : { lock_count: count }) } as Container;
    },
  };
  const b = new StartBreaker({
    failing: () => state.failing,
    client,
    clock,
    logger: createLogger({ stream: logs, level: 'debug', clock }),
    maxDispatchAttempts: opts.maxDispatchAttempts ?? 10,
    tryInterval: MINUTE,
    timeline: { startsHeld: (u, d) => said.push([u, d]) },
    ...(opts.lastAttemptWait === undefined ? {} : { lastAttempts: { wait: opts.lastAttemptWait, startsWorked: () => state.ran } }),
  });
  const why = new Map<string, string>();
  /** One pass over `queued` (in scheduling order): the ones it holds, then `locking` for the rest, as the scheduler does. */
  const pass = (queued: string[]): string[] => {
    b.beginPass();
    const held: string[] = [];
    for (const u of queued) {
      const h = b.holding && b.holds(u, opts.listed?.[u]);
      if (h) {
        held.push(u);
        why.set(u, h);
      } else b.locking(u);
    }
    b.endPass();
    return held;
  };
  return { b, clock, logs, state, reads, pass, said, why, refuse: (on: boolean) => (refuse = on), messages: () => logs.records().map((r) => `${String(r.level)} ${String(r.msg)}`) };
}

describe('start breaker', () => {
  const Q = [uuid(1), uuid(2), uuid(3)];

  it('holds nothing and reads nothing while containers run', async () => {
    const t = breaker();
    assert.deepEqual(t.pass(Q), []);
    await settle();
    assert.deepEqual(t.reads, []);
    assert.deepEqual(t.b.snapshot(), { open: false, held: 0, trials: 0, opened: 0 });
  });

  it('opens when the rule says so, holding every Queued container, with one error line', async () => {
    const t = breaker();
    t.state.failing = true;
    assert.deepEqual(t.pass(Q), Q);
    assert.deepEqual(t.pass(Q), Q);
    assert.deepEqual(t.messages(), ['error holding new locks: containers keep going back to the queue without running']);
    const line = t.logs.records()[0];
    assert.equal(line.TryInterval, '1m0s');
    assert.equal(line.MaxDispatchAttempts, 10);
    assert.deepEqual(t.b.snapshot(), { open: true, held: 3, trials: 0, opened: 1 });
    await settle();
    assert.deepEqual(t.reads, [], 'no trial before TryInterval');
  });

  it('tries one container every TryInterval, round the queue: the least tried first, in scheduling order', async () => {
    const t = breaker();
    t.state.failing = true;
    t.pass(Q);
    const trials: string[] = [];
    for (let minute = 1; minute <= 4; minute++) {
      await t.clock.advance(MINUTE);
      t.pass(Q);
      await settle();
      // The lock_count read answered: the next pass lets that container through, and only it.
      const held = t.pass(Q);
      assert.equal(held.length, 2, `minute ${minute}: one container let through`);
      trials.push(Q.find((u) => !held.includes(u))!);
      // Within the interval, nothing more.
      await t.clock.advance(MINUTE / 2);
      await settle();
      assert.deepEqual(t.pass(Q), Q, `minute ${minute}: held again until the next interval`);
    }
    assert.deepEqual(trials, [Q[0], Q[1], Q[2], Q[0]]);
    assert.equal(t.b.snapshot().trials, 4);
    assert.equal(t.messages().filter((m) => m === 'info trying one container while new locks are held').length, 4);
  });

  it('never tries a container on its last attempt, and asks about the next one at once', async () => {
    // MaxDispatchAttempts 10: a container locked 9 times would be cancelled if its 10th lock ended in an unlock.
    const t = breaker({ lockCounts: { [Q[0]]: 9, [Q[1]]: 8 } });
    t.state.failing = true;
    t.pass(Q);
    await t.clock.advance(MINUTE);
    t.pass(Q);
    await settle();
    assert.deepEqual(t.pass(Q), Q, 'the first is on its last attempt: not let through');
    await settle();
    assert.deepEqual(t.reads, [Q[0], Q[1]]);
    assert.deepEqual(t.pass(Q), [Q[0], Q[2]], 'the second, with two attempts left, is tried');
    // And the first is never asked about again while the breaker is open.
    for (let i = 0; i < 5; i++) {
      await t.clock.advance(MINUTE);
      t.pass(Q);
      await settle();
      t.pass(Q);
    }
    assert.ok(!t.reads.slice(2).includes(Q[0]), `never read again: ${t.reads.join(' ')}`);
  });

  it('does not lock an approved trial whose listed lock_count has since reached its last attempt', async () => {
    // The read says 8 (two attempts left); before the pass that would lock it, a poll lists 9
    // (another dispatcher locked and unlocked it meanwhile): its lock now would be its last attempt.
    const listed: Record<string, number> = { [Q[0]]: 8 };
    const t = breaker({ lockCounts: { [Q[0]]: 8 }, listed });
    t.state.failing = true;
    t.pass(Q);
    await t.clock.advance(MINUTE);
    t.pass(Q);
    await settle();
    listed[Q[0]] = 9;
    assert.deepEqual(t.pass(Q), Q, 'not let through on the older read');
    assert.equal(t.b.snapshot().trials, 0);
    await settle();
    assert.deepEqual(t.pass(Q), [Q[0], Q[2]], 'the next container is tried instead');
  });

  it('says once when every held container is on its last attempt, so that none can be tried', async () => {
    const t = breaker({ lockCounts: { [Q[0]]: 9, [Q[1]]: 9 } });
    t.state.failing = true;
    t.pass([Q[0], Q[1]]);
    for (let minute = 1; minute <= 3; minute++) {
      await t.clock.advance(MINUTE);
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(t.pass([Q[0], Q[1]]), [Q[0], Q[1]]);
        await settle();
      }
    }
    const line = 'warning new locks held and every held container is on its last attempt: none is tried until a new container comes, or the daemon restarts and LastAttemptWait passes';
    assert.deepEqual(
      t.messages().filter((m) => m.startsWith('warning')),
      [line],
    );
    assert.equal(t.logs.records().find((r) => String(r.msg).startsWith('new locks held'))?.Held, 2);
    // A new container comes: it is tried.
    assert.deepEqual(t.pass([Q[0], Q[1], Q[2]]), [Q[0], Q[1], Q[2]]);
    await settle();
    assert.deepEqual(t.pass([Q[0], Q[1], Q[2]]), [Q[0], Q[1]]);
  });

  it("wakes its subscribers when a lock_count answer comes, so that a pass locks the trial (or asks about the next) without waiting for the next poll", async () => {
    const t = breaker({ lockCounts: { [Q[0]]: 9 } });
    let woken = 0;
    const unsubscribe = t.b.subscribe(() => woken++);
    t.state.failing = true;
    t.pass(Q);
    await t.clock.advance(MINUTE);
    t.pass(Q);
    assert.equal(woken, 0, 'not before the answer');
    await settle();
    assert.equal(woken, 1, 'the first is on its last attempt: a pass should ask about the next');
    t.pass(Q);
    await settle();
    assert.equal(woken, 2, 'the second may be tried: a pass should lock it');
    unsubscribe();
    assert.deepEqual(t.pass(Q), [Q[0], Q[2]], 'the trial is let through');
    await t.clock.advance(MINUTE);
    t.pass(Q);
    await settle();
    assert.equal(t.reads.length, 3, 'a third answer came');
    assert.equal(woken, 2, 'unsubscribed: not woken by it');
  });

  it('tries containers on their last attempt when MaxDispatchAttempts leaves none more than one', async () => {
    const t = breaker({ maxDispatchAttempts: 1, lockCounts: { [Q[0]]: 0 } });
    t.state.failing = true;
    t.pass(Q);
    await t.clock.advance(MINUTE);
    t.pass(Q);
    await settle();
    assert.deepEqual(t.pass(Q), [Q[1], Q[2]]);
  });

  for (const given of [null, -1]) {
    it(`a container whose lock_count the controller does not give (${given}) is not tried, with a warning`, async () => {
      const t = breaker({ lockCounts: { [Q[0]]: given } });
      t.state.failing = true;
      t.pass([Q[0], Q[1]]);
      await t.clock.advance(MINUTE);
      t.pass([Q[0], Q[1]]);
      await settle();
      t.pass([Q[0], Q[1]]);
      await settle();
      assert.deepEqual(t.pass([Q[0], Q[1]]), [Q[0]]);
      assert.ok(t.messages().includes("warning no lock_count in the controller's answer: container not tried while new locks are held"), t.messages().join('\n'));
    });
  }

  it('a failed read waits for the next interval, with a warning', async () => {
    const t = breaker();
    t.state.failing = true;
    t.refuse(true);
    t.pass(Q);
    await t.clock.advance(MINUTE);
    t.pass(Q);
    await settle();
    assert.ok(t.messages().includes("warning cannot read a container's lock_count before trying it"));
    t.refuse(false);
    await t.clock.advance(MINUTE - 1);
    t.pass(Q);
    await settle();
    assert.equal(t.reads.length, 1, 'not asked again within the interval');
    await t.clock.advance(1);
    t.pass(Q);
    await settle();
    assert.equal(t.reads.length, 2);
    assert.equal(t.pass(Q).length, 2);
  });

  it('a trial that leaves the queue before it is locked gives its turn to another', async () => {
    const t = breaker();
    t.state.failing = true;
    t.pass(Q);
    await t.clock.advance(MINUTE);
    t.pass(Q);
    await settle();
    // Q[0] was approved, then cancelled by its user: it is not in the next pass.
    assert.deepEqual(t.pass([Q[1], Q[2]]), [Q[1], Q[2]]);
    t.pass([Q[1], Q[2]]);
    await settle();
    assert.deepEqual(t.pass([Q[1], Q[2]]), [Q[2]]);
  });

  it('closes when a container runs: locks resume, and a read answered after that is ignored', async () => {
    const t = breaker();
    t.state.failing = true;
    t.pass(Q);
    await t.clock.advance(MINUTE);
    t.pass(Q);
    // The read is in flight when a container goes Running.
    t.state.failing = false;
    assert.deepEqual(t.pass(Q), []);
    await settle();
    assert.deepEqual(t.pass(Q), []);
    assert.deepEqual(t.messages(), ['error holding new locks: containers keep going back to the queue without running', 'info no longer holding new locks: a container runs']);
    assert.deepEqual(t.b.snapshot(), { open: false, held: 0, trials: 0, opened: 1 });
    // Opening again starts a new episode: the first trial a TryInterval later.
    t.state.failing = true;
    t.pass(Q);
    await settle();
    assert.equal(t.reads.length, 1);
    assert.equal(t.b.snapshot().opened, 2);
  });
});

describe('start breaker: last attempts after the start', () => {
  const Q = [uuid(1), uuid(2), uuid(3)];
  const WAIT = 10 * MINUTE;
  const HELD_LINE = 'info holding containers on their last attempt until a container runs: the daemon has just started';

  it('holds a Queued container whose lock would be its last attempt, and only it, until a container runs', async () => {
    // MaxDispatchAttempts 10: Q[0] was locked 9 times, Q[1] 8 times, Q[2]'s count is not known.
    const t = breaker({ lastAttemptWait: WAIT, listed: { [Q[0]]: 9, [Q[1]]: 8, [Q[2]]: 0 } });
    const start = t.clock.now();
    assert.deepEqual(t.pass(Q), [Q[0]]);
    assert.equal(t.why.get(Q[0]), 'last_attempt');
    assert.deepEqual(t.b.snapshot(), { open: false, held: 1, trials: 0, opened: 0 });
    assert.deepEqual(t.b.hold(), { lastAttemptUntil: start + WAIT }, 'the breaker itself is closed');
    await t.clock.advance(MINUTE);
    assert.deepEqual(t.pass(Q), [Q[0]]);
    await settle();
    assert.deepEqual(t.reads, [], 'the listed lock_count is enough: nothing is read');
    const until = new Date(start + WAIT).toISOString();
    assert.deepEqual(t.said, [[Q[0], { last_attempt: 'lock_count 9 of MaxDispatchAttempts 10', until }]], 'its timeline says so once');
    assert.deepEqual(t.messages(), [HELD_LINE]);
    t.state.ran = true;
    assert.deepEqual(t.pass(Q), [], 'a container ran: starts work');
    assert.deepEqual(t.b.hold(), {});
    assert.deepEqual(t.messages(), [HELD_LINE, 'info no longer holding containers on their last attempt: a container runs']);
    t.state.ran = false;
    assert.deepEqual(t.pass(Q), [], 'over for good');
  });

  it('stops holding them LastAttemptWait after the first pass when no container has run', async () => {
    const t = breaker({ lastAttemptWait: WAIT, listed: { [Q[0]]: 9 } });
    await t.clock.advance(3 * MINUTE);
    // Counted from the first pass, not from the breaker's construction.
    assert.deepEqual(t.pass(Q), [Q[0]]);
    await t.clock.advance(WAIT - 1);
    assert.deepEqual(t.pass(Q), [Q[0]]);
    await t.clock.advance(1);
    assert.deepEqual(t.pass(Q), []);
    assert.equal(t.messages().at(-1), 'info no longer holding containers on their last attempt: LastAttemptWait has passed without a container running');
    assert.equal(t.logs.records().at(-1)?.Held, 1);
  });

  it('holds none when LastAttemptWait is 0 or absent, when MaxDispatchAttempts is 1, or when a container ran before the first pass', () => {
    const listed = { [Q[0]]: 9, [Q[1]]: 0 };
    assert.deepEqual(breaker({ lastAttemptWait: 0, listed }).pass(Q), []);
    assert.deepEqual(breaker({ listed }).pass(Q), []);
    assert.deepEqual(breaker({ lastAttemptWait: WAIT, listed, maxDispatchAttempts: 1 }).pass(Q), []);
    const t = breaker({ lastAttemptWait: WAIT, listed });
    t.state.ran = true;
    assert.deepEqual(t.pass(Q), []);
    assert.deepEqual(t.messages(), [], 'nothing was held: nothing to say');
  });

  it('warns once when the lists give no lock_count, and locks such a container', () => {
    const t = breaker({ lastAttemptWait: WAIT, listed: { [Q[1]]: 9 } });
    assert.deepEqual(t.pass(Q), [Q[1]]);
    assert.deepEqual(t.pass(Q), [Q[1]]);
    assert.deepEqual(
      t.messages().filter((m) => m.startsWith('warning')),
      ["warning no lock_count in the controller's list: a container on its last attempt may be locked before a container runs"],
    );
  });

  it('while the breaker is open, holds everything as the breaker, and does not ask about a container its list says is on its last attempt', async () => {
    const t = breaker({ lastAttemptWait: WAIT, listed: { [Q[0]]: 9, [Q[1]]: 1 }, lockCounts: { [Q[0]]: 9 } });
    t.state.failing = true;
    assert.deepEqual(t.pass(Q), Q);
    assert.deepEqual([...t.why.values()], ['starts', 'starts', 'starts']);
    await t.clock.advance(MINUTE);
    t.pass(Q);
    await settle();
    assert.deepEqual(t.reads, [Q[1]], 'the first trial is the second container, without a read of the first');
    assert.deepEqual(t.pass(Q), [Q[0], Q[2]]);
  });
});

describe('start breaker in a scheduling pass', () => {
  function setup(types = [2], opts: { failing?: boolean; lastAttemptWait?: number } = {}) {
    const clock = new ManualClock();
    const cluster = testCluster({ types });
    const queue = new FakeQueue(clock, cluster);
    const pool = new FakePool(clock);
    const state = { failing: opts.failing ?? true, ran: false };
    const logs = new LineCollector();
    const logger = createLogger({ stream: logs, level: 'debug', clock });
    const held: Array<[string, Record<string, string | number>]> = [];
    const timeline = { vmRequested: () => undefined, unlocking: () => undefined, cancelling: () => undefined, startsHeld: (u: string, d: Record<string, string | number>) => held.push([u, d]) };
    const startBreaker = new StartBreaker({
      failing: () => state.failing,
      client: { getContainer: async (u: string) => ({ uuid: u, state: 'Queued', lock_count: 1 }) as Container },
      clock,
      logger,
      timeline,
      maxDispatchAttempts: 10,
      tryInterval: MINUTE,
      ...(opts.lastAttemptWait === undefined ? {} : { lastAttempts: { wait: opts.lastAttemptWait, startsWorked: () => state.ran } }),
    });
    const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger, startBreaker, timeline });
    return { clock, queue, pool, sch, state, held };
  }

  it("locks a trial as soon as its lock_count answer comes, in the scheduler's loop, not at the next poll", async () => {
    const { clock, queue, sch } = setup();
    queue.add({ uuid: uuid(2), state: 'Queued', vcpus: 2 }, { uuid: uuid(3), state: 'Queued', vcpus: 2 });
    sch.start();
    try {
      await clock.advance(0);
      // Passes every PollInterval (10 s); at 60 s the first trial's lock_count is read.
      await clock.advance(MINUTE);
      await settle();
      assert.deepEqual(queue.calls.filter((c) => c.startsWith('lock')), [`lock ${uuid(2)}`], 'locked at 60 s, not at the 70 s poll');
    } finally {
      await sch.stop();
    }
  });

  it("says in each held container's timeline, once while the breaker stays open, since when new locks are held", async () => {
    const { clock, queue, sch, state, held } = setup();
    queue.add({ uuid: uuid(2), state: 'Queued', vcpus: 2 }, { uuid: uuid(3), state: 'Queued', vcpus: 2 });
    sch.runQueue();
    await clock.advance(10_000);
    sch.runQueue();
    const since = { since: new Date(clock.now() - 10_000).toISOString() };
    assert.deepEqual(held, [
      [uuid(2), since],
      [uuid(3), since],
    ]);
    // Closed (their locks fail this time, so they stay Queued), then open again: said again.
    queue.lock = async (u: string) => {
      queue.calls.push(`lock ${u}`);
      throw new Error('503 Service Unavailable');
    };
    state.failing = false;
    sch.runQueue();
    await settle();
    state.failing = true;
    await clock.advance(10_000);
    queue.add({ uuid: uuid(4), state: 'Queued', vcpus: 2 });
    sch.runQueue();
    assert.equal(held.length, 5, JSON.stringify(held));
  });

  it('after the start, locks a container on its last attempt only once a container has run; its status and blocker say why', async () => {
    const { clock, queue, pool, sch, state, held } = setup([2], { failing: false, lastAttemptWait: 10 * MINUTE });
    pool.addWorker(testCluster({ types: [2] }).InstanceTypes.type2, 'idle');
    pool.addWorker(testCluster({ types: [2] }).InstanceTypes.type2, 'idle');
    queue.add({ uuid: uuid(2), state: 'Queued', vcpus: 2, priority: 5, lockCount: 9 }, { uuid: uuid(3), state: 'Queued', vcpus: 2, priority: 4, lockCount: 0 });
    sch.runQueue();
    await settle();
    assert.deepEqual(queue.calls, [`lock ${uuid(3)}`], 'the second is locked, not the first');
    const status = sch.queueView().find((e) => e.entry.container.uuid === uuid(2))?.schedulingStatus;
    assert.equal(status, 'Waiting in queue at position 1.  This container has one start attempt left, so it is on hold until another container has started since the dispatcher restarted.');
    const b = sch.why()!.blockerOf(uuid(2))!;
    assert.deepEqual(b, { reason: 'last_attempt_held', position: 1, lock_count: 9, max_dispatch_attempts: 10, until: new Date(clock.now() + 10 * MINUTE).toISOString() });
    assert.equal(describeBlocker(b), 'not locked: locked 9 times of MaxDispatchAttempts 10, its next lock is its last attempt, so it waits until a container has run since the dispatcher started (until 00:10:00 at most)');
    assert.equal(held.length, 1);
    state.ran = true;
    await clock.advance(10_000);
    sch.runQueue();
    await settle();
    assert.deepEqual(queue.calls, [`lock ${uuid(3)}`, `lock ${uuid(2)}`], 'a container ran: it is locked');
  });

  it('locks no Queued container while open, says why, and still starts the Locked ones', async () => {
    const { queue, pool, sch } = setup();
    const idle = pool.addWorker(testCluster({ types: [2] }).InstanceTypes.type2, 'idle');
    queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 2, priority: 1 }, { uuid: uuid(2), state: 'Queued', vcpus: 2, priority: 5 }, { uuid: uuid(3), state: 'Queued', vcpus: 2, priority: 4 });
    sch.runQueue();
    await settle();
    assert.deepEqual(queue.calls, [], 'nothing locked');
    assert.deepEqual(pool.starts, [uuid(1)]);
    assert.ok(pool.workers.get(idle), 'the idle VM is used by the Locked container');
    assert.deepEqual(pool.creates, [], 'no VM is created for held containers');
    const b = sch.why()!.blockerOf(uuid(2))!;
    assert.equal(b.reason, 'starts_held');
    assert.match(describeBlocker(b), /^not locked: since 00:00:00 containers keep going back to the queue without running .*next at 00:01:00/);
    // Its scheduling_status says so too, keeping the reference's queue position; "at capacity" would not be true.
    const status = (u: string) => sch.queueView().find((e) => e.entry.container.uuid === u)?.schedulingStatus;
    const held = (pos: number) => `Waiting in queue at position ${pos}.  Recent attempts to start containers on this cluster have failed, so new containers are on hold until a trial start succeeds.`;
    assert.deepEqual([status(uuid(1)), status(uuid(2)), status(uuid(3))], ['Container is allocated to an instance and preparing to run.', held(1), held(2)]);
  });

  it('locks the trial when its time comes, and everything once the rule clears', async () => {
    const { clock, queue, sch, state } = setup();
    queue.add({ uuid: uuid(2), state: 'Queued', vcpus: 2, priority: 5 }, { uuid: uuid(3), state: 'Queued', vcpus: 2, priority: 4 });
    sch.runQueue();
    await clock.advance(MINUTE);
    sch.runQueue();
    await settle();
    sch.runQueue();
    await settle();
    assert.deepEqual(queue.calls, [`lock ${uuid(2)}`], 'the first in scheduling order is tried');
    state.failing = false;
    sch.runQueue();
    await settle();
    assert.deepEqual(queue.calls, [`lock ${uuid(2)}`, `lock ${uuid(3)}`]);
  });

  it('a trial the pass cannot lock (its types out of capacity) does not stop the trials: the next interval tries another', async () => {
    const { clock, queue, pool, sch } = setup([2, 4]);
    // The first in scheduling order needs type4, which the cloud cannot supply for now.
    pool.capacity.set('type4', 0);
    queue.add({ uuid: uuid(2), state: 'Queued', vcpus: 4, priority: 5 }, { uuid: uuid(3), state: 'Queued', vcpus: 2, priority: 4 });
    sch.runQueue();
    for (let minute = 1; minute <= 3; minute++) {
      await clock.advance(MINUTE);
      sch.runQueue();
      await settle();
      sch.runQueue();
      await settle();
    }
    assert.deepEqual(queue.calls, [`lock ${uuid(3)}`], 'the container that can be placed is tried');
  });
});

describe('what opens the start breaker', () => {
  /** A scheduler whose timeline feeds the real rule, as the dispatcher wires it. */
  function setup() {
    const clock = new ManualClock();
    const cluster = testCluster({ types: [2] });
    const queue = new FakeQueue(clock, cluster);
    const pool = new FakePool(clock);
    const logger = createLogger({ stream: new LineCollector(), level: 'debug', clock });
    const watch = new WastedAttemptWatch(clock, logger);
    const timeline = new Timeline({ clock, onEvent: watch.observe });
    const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger, timeline });
    return { clock, queue, pool, sch, watch };
  }

  it('counts one requeue for a container whose unlock the controller keeps refusing, however many passes ask again', async () => {
    const { clock, queue, pool, sch, watch } = setup();
    const id = pool.addWorker(testCluster({ types: [2] }).InstanceTypes.type2, 'idle');
    queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 2 });
    pool.runOn(id, uuid(1));
    pool.exit(uuid(1));
    await clock.advance(1000);
    await queue.update();
    // A controller outage: every unlock fails, and each pass asks again.
    queue.unlock = async (u: string) => {
      queue.calls.push(`unlock ${u}`);
      throw new Error('503 Service Unavailable');
    };
    for (let pass = 0; pass < 4; pass++) {
      sch.sync();
      await settle();
      await clock.advance(10_000);
    }
    assert.equal(queue.calls.filter((c) => c === `unlock ${uuid(1)}`).length, 4, 'asked at every pass');
    assert.equal(watch.failing(), false, 'one crunch-run exit is one wasted attempt');
  });

  it('does not count containers their users cancelled while Locked: their crunch-runs were killed, not refused', async () => {
    const { clock, queue, pool, sch, watch } = setup();
    const id = pool.addWorker(testCluster({ types: [2] }).InstanceTypes.type2, 'idle');
    for (const n of [1, 2, 3]) {
      queue.add({ uuid: uuid(n), state: 'Locked', vcpus: 2 });
      pool.runOn(id, uuid(n));
    }
    // A workflow cancelled: its Locked children get priority 0, and their
    // crunch-runs, sent SIGTERM, end at two different probes.
    for (const group of [[1, 2], [3]]) {
      for (const n of group) {
        queue.set(uuid(n), { priority: 0 });
        pool.lingering.add(uuid(n));
      }
      sch.sync();
      assert.ok(group.every((n) => pool.kills.some((k) => k.uuid === uuid(n) && k.reason === 'priority=0')), 'killed for priority 0');
      await clock.advance(1000);
      for (const n of group) {
        pool.lingering.delete(uuid(n));
        pool.exit(uuid(n));
      }
      await clock.advance(1000);
      await queue.update();
      sch.sync();
      await settle();
      await clock.advance(10_000);
    }
    assert.deepEqual(queue.changes.map((c) => `${c.uuid} ${c.to}`), [1, 2, 3].map((n) => `${uuid(n)} Queued`), 'each is unlocked');
    assert.equal(watch.failing(), false, 'no start failed');
  });
});
