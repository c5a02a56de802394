import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { Hints, type HintTarget } from '../../src/queue/hints.js';
import { captureLogger } from '../arvados/helpers.js';

const U = (n: number): string => `zzzzz-dz642-${String(n).padStart(15, '0')}`;

/** A queue stand-in: what it tracks, and every refresh and poll asked of it, with when. */
class FakeQueue implements HintTarget {
  readonly states = new Map<string, string>();
  readonly refreshes: Array<{ at: number; uuids: string[] }> = [];
  polls: number[] = [];
  /** How long a refresh takes, on the manual clock. */
  refreshMs = 0;
  /** How long a poll takes, on the manual clock. */
  pollMs = 0;
  fail = false;
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly clock: ManualClock) {}

  known(uuid: string): { state: string } | undefined {
    const state = this.states.get(uuid);
    return state === undefined ? undefined : { state };
  }

  async refresh(uuids: string[]): Promise<void> {
    this.refreshes.push({ at: this.clock.now(), uuids: [...uuids] });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.refreshMs > 0) await this.clock.sleep(this.refreshMs);
      if (this.fail) throw new Error('controller said 500');
    } finally {
      this.inFlight--;
    }
  }

  async update(): Promise<void> {
    this.polls.push(this.clock.now());
    if (this.pollMs > 0) await this.clock.sleep(this.pollMs);
  }
}

function setup(o: { minGapMs?: number; lazyMs?: number; maxNew?: number } = {}) {
  const clock = new ManualClock();
  const q = new FakeQueue(clock);
  const { logger, lines } = captureLogger();
  const hints = new Hints({ target: q, clock, logger, ...o });
  return { clock, q, hints, lines };
}

describe('event hints', () => {
  it('refreshes a new Queued container at the next turn, and events of one turn together', async () => {
    const { clock, q, hints } = setup();
    hints.event({ uuid: U(1), newState: 'Queued' });
    hints.event({ uuid: U(2), newState: 'Queued' });
    hints.event({ uuid: U(1), newState: 'Queued' });
    assert.equal(q.refreshes.length, 0, 'not synchronously: events of the same turn share one refresh');
    await clock.advance(0);
    assert.deepEqual(q.refreshes, [{ at: clock.now(), uuids: [U(1), U(2)] }]);
    assert.equal(hints.pending(), 0);
  });

  it('ignores what the queue already knows or cannot use', async () => {
    const { clock, q, hints } = setup();
    q.states.set(U(1), 'Locked');
    // Our own lock, seen after its answer was applied.
    hints.event({ uuid: U(1), oldState: 'Queued', newState: 'Locked' });
    // Not tracked and not Queued: someone else's, or finished.
    hints.event({ uuid: U(2), oldState: 'Running', newState: 'Complete' });
    hints.event({ uuid: U(3), oldState: 'Queued', newState: 'Locked' });
    await clock.advance(5000);
    assert.deepEqual(q.refreshes, []);
    assert.deepEqual(hints.stats, { events: 3, ignored: 3, refreshes: 0, polls: 0, failures: 0 });
  });

  it('reads any other change to a tracked container lazily, together, and not with every urgent refresh', async () => {
    const { clock, q, hints } = setup({ lazyMs: 1000 });
    q.states.set(U(1), 'Queued');
    q.states.set(U(2), 'Locked');
    q.states.set(U(3), 'Running');
    // A priority change; an unlock by someone (an admin), or an event from before our lock, late; an event with no state.
    hints.event({ uuid: U(1), oldState: 'Queued', newState: 'Queued' });
    await clock.advance(300);
    hints.event({ uuid: U(2), oldState: 'Locked', newState: 'Queued' });
    hints.event({ uuid: U(3) });
    await clock.advance(699);
    assert.equal(q.refreshes.length, 0);
    await clock.advance(1);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(1), U(2), U(3)]], 'within lazyMs of the first');
    q.refreshes.length = 0;

    hints.event({ uuid: U(1), oldState: 'Queued', newState: 'Queued' });
    await clock.advance(200);
    hints.event({ uuid: U(9), newState: 'Queued' });
    await clock.advance(0);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(9)]], 'the new one at once, alone');
    await clock.advance(799);
    assert.equal(q.refreshes.length, 1);
    await clock.advance(1);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(9)], [U(1)]], 'the lazy one when due');
    await clock.advance(5000);
    assert.equal(q.refreshes.length, 2);
  });

  it('drops a lazy hint about a container the queue stopped tracking meanwhile (it finished)', async () => {
    const { clock, q, hints } = setup({ lazyMs: 1000 });
    q.states.set(U(1), 'Running');
    q.states.set(U(2), 'Running');
    hints.event({ uuid: U(1), oldState: 'Running', newState: 'Complete' });
    hints.event({ uuid: U(2), oldState: 'Running', newState: 'Complete' });
    await clock.advance(500);
    q.states.delete(U(1));
    await clock.advance(500);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(2)]]);
    assert.equal(hints.pending(), 0);
  });

  it('bounds a storm: one refresh in flight, begun at least minGapMs apart, and no hint left unread', async () => {
    const { clock, q, hints } = setup({ minGapMs: 100 });
    q.refreshMs = 30;
    const lastEvent = new Map<string, number>();
    // 1000 events in one second about 50 containers, duplicates and all.
    for (let i = 0; i < 1000; i++) {
      const uuid = U(i % 50);
      hints.event({ uuid, newState: 'Queued' });
      lastEvent.set(uuid, clock.now());
      await clock.advance(1);
    }
    await clock.advance(1000);
    assert.ok(q.refreshes.length <= 11, `${q.refreshes.length} refreshes for a 1 s storm`);
    assert.equal(q.maxInFlight, 1);
    for (let i = 1; i < q.refreshes.length; i++) assert.ok(q.refreshes[i].at - q.refreshes[i - 1].at >= 100);
    for (const [uuid, at] of lastEvent) {
      assert.ok(
        q.refreshes.some((r) => r.at >= at && r.uuids.includes(uuid)),
        `${uuid}: its last event (at +${at}) is followed by a refresh that reads it`,
      );
    }
    assert.equal(hints.pending(), 0);
  });

  it('asks for a poll instead of reading one by one when a refresh names too many new containers', async () => {
    const { clock, q, hints } = setup({ maxNew: 10 });
    q.states.set(U(1000), 'Running');
    hints.event({ uuid: U(1000), oldState: 'Running', newState: 'Complete' });
    for (let i = 0; i < 11; i++) hints.event({ uuid: U(i), newState: 'Queued' });
    await clock.advance(0);
    assert.equal(q.polls.length, 1);
    assert.equal(hints.stats.polls, 1);
    assert.equal(q.refreshes.length, 0, 'no refresh of the new ones one by one');
    await clock.advance(1000);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(1000)]], 'the known one is still read by uuid, when due');
  });

  it('begins no refresh while the poll of the previous one is still running, though its uuid read failed', async () => {
    // Found by test/fuzz/event-feed.test.ts: the read failing at once ended the refresh with its poll still in flight.
    const { clock, q, hints } = setup({ maxNew: 0, minGapMs: 100, lazyMs: 0 });
    q.states.set(U(1), 'Running');
    q.fail = true;
    q.pollMs = 500;
    const t0 = clock.now();
    hints.event({ uuid: U(1) });
    hints.event({ uuid: U(2), newState: 'Queued' });
    await clock.advance(0);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(1)]]);
    assert.deepEqual(q.polls, [t0]);
    await clock.advance(150);
    hints.event({ uuid: U(3), newState: 'Queued' });
    await clock.advance(300);
    assert.equal(q.refreshes.length + q.polls.length, 2, 'nothing more while the poll runs');
    await clock.advance(100);
    assert.deepEqual(q.polls, [t0, t0 + 500], 'the next refresh (a poll, for the new U(3)) once the first poll ended');
    assert.equal(hints.stats.failures, 1);
  });

  it('reads again a new container that changed while the refresh reading it was in flight', async () => {
    // Found by test/fuzz/event-feed.test.ts: another dispatcher's lock, seen while the new container's
    // details were being read, was ignored (not tracked, not Queued), and the queue kept it as Queued.
    const { clock, q, hints } = setup({ lazyMs: 1000 });
    q.refreshMs = 100;
    hints.event({ uuid: U(1), newState: 'Queued' });
    await clock.advance(0);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(1)]]);
    hints.event({ uuid: U(1), oldState: 'Queued', newState: 'Locked' });
    await clock.advance(100);
    q.states.set(U(1), 'Queued');
    await clock.advance(1000);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(1)], [U(1)]], 'read again, lazily');
    // Once no refresh reads it, such an event is someone else's again.
    hints.event({ uuid: U(2), oldState: 'Queued', newState: 'Locked' });
    await clock.advance(5000);
    assert.equal(q.refreshes.length, 2);
    assert.equal(hints.stats.ignored, 1);
  });

  it('logs a failed refresh (rate-limited) and goes on', async () => {
    const { clock, q, hints, lines } = setup();
    q.fail = true;
    hints.event({ uuid: U(1), newState: 'Queued' });
    await clock.advance(0);
    hints.event({ uuid: U(2), newState: 'Queued' });
    await clock.advance(200);
    q.fail = false;
    hints.event({ uuid: U(3), newState: 'Queued' });
    await clock.advance(200);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(1)], [U(2)], [U(3)]]);
    assert.equal(hints.stats.failures, 2);
    const warnings = lines.records().filter((r) => String(r.msg).startsWith('refreshing containers the event feed named failed'));
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0].error), /controller said 500/);
  });

  it('polls at once on a (re)subscription, and does nothing after stop', async () => {
    const { clock, q, hints } = setup();
    hints.resync();
    assert.deepEqual(q.polls, [clock.now()]);
    hints.event({ uuid: U(1), newState: 'Queued' });
    hints.stop();
    hints.event({ uuid: U(2), newState: 'Queued' });
    hints.resync();
    await clock.advance(10_000);
    assert.deepEqual(q.refreshes, []);
    assert.equal(q.polls.length, 1);
  });

  it('reads exactly maxNew new containers by uuid, without a poll', async () => {
    const { clock, q, hints } = setup({ maxNew: 10 });
    for (let i = 0; i < 10; i++) hints.event({ uuid: U(i), newState: 'Queued' });
    await clock.advance(0);
    assert.deepEqual(q.polls, [], 'maxNew is allowed: only more than that asks for a poll');
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [Array.from({ length: 10 }, (_, i) => U(i))]);
    assert.equal(hints.stats.polls, 0);
  });

  it('reads a container once when a lazy hint about it turns urgent: the urgent refresh answers both', async () => {
    const { clock, q, hints } = setup({ lazyMs: 1000 });
    q.states.set(U(1), 'Running');
    hints.event({ uuid: U(1) });
    await clock.advance(300);
    // The queue dropped it meanwhile, and now it is Queued again (a new event for an untracked container): read now.
    q.states.delete(U(1));
    hints.event({ uuid: U(1), oldState: 'Running', newState: 'Queued' });
    await clock.advance(0);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(1)]]);
    q.states.set(U(1), 'Queued');
    await clock.advance(5000);
    assert.deepEqual(q.refreshes.map((r) => r.uuids), [[U(1)]], 'not read again when the lazy hint would have been due');
    assert.equal(hints.pending(), 0);
  });
});
