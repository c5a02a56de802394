/**
 * The line that says containers keep going back to the queue without
 * running: when it comes (three requeues in a row because crunch-run
 * exited, at two moments at least, none going Running between them), what
 * does not count (other unlocks, a container seen already Running, one
 * burst alone: a VM that broke), what it carries (the last refusal's exit
 * code and stderr, when a start was refused), how often it repeats, and the
 * line when containers run again. Fed by a real Timeline.
 */
import assert from 'node:assert/strict';
import { type Clock, ManualClock } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { Timeline } from '../../src/timeline/timeline.js';
import { WastedAttemptWatch } from '../../src/timeline/wasted-attempts.js';
import type { Container } from '../../src/arvados/types.js';

const LINE =
  'containers keep going back to the queue without running: crunch-run refuses them or exits first; check CrunchRunArgumentsList, RuntimeEngine, CrunchRunCommand, crunch-run on the VM image, and that VMs reach the controller';
const AGAIN = 'containers run again';
const uuid = (n: number): string => `zzzzz-dz642-${String(n).padStart(15, '0')}`;

function setup(): { t: Timeline; w: WastedAttemptWatch; clock: ManualClock; records: (msg: string) => Array<Record<string, unknown>> } {
  const clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
  const logs = new LineCollector();
  const w = new WastedAttemptWatch(clock, createLogger({ stream: logs, clock }));
  const t = new Timeline({ clock, onEvent: w.observe });
  return { t, w, clock, records: (msg) => logs.records().filter((r) => r.msg === msg) };
}

const seen = (t: Timeline, n: number, state: string): void => t.containerSeen({ uuid: uuid(n), state, priority: 1 } as unknown as Container);

describe('timeline: containers that keep going back to the queue without running', () => {
  it('says so at the third requeue in a row because crunch-run exited, with the count, since when and the container', async () => {
    const { t, w, clock, records } = setup();
    t.unlocking(uuid(1), 'crunch-run exited');
    await clock.advance(10_000);
    t.unlocking(uuid(2), 'crunch-run exited');
    assert.deepEqual(records(LINE), [], 'two so far');
    assert.equal(w.failing(), false);
    // The first requeue took (the queue saw it Queued), and it was locked again.
    seen(t, 1, 'Locked');
    seen(t, 1, 'Queued');
    seen(t, 1, 'Locked');
    t.unlocking(uuid(1), 'crunch-run exited');
    assert.equal(w.failing(), true);
    assert.deepEqual(
      records(LINE).map((r) => [r.level, r.Requeued, r.Since, r.ContainerUUID, r.ExitCode]),
      [['error', 3, '2026-12-07T12:00:00.000Z', uuid(1), undefined]],
    );
  });

  it('says nothing of one burst, however large (a VM that broke ends all its crunch-runs at once), until a requeue at another moment', async () => {
    const { t, clock, records } = setup();
    for (const n of [1, 2, 3, 4, 5, 6, 7]) t.unlocking(uuid(n), 'crunch-run exited');
    assert.deepEqual(records(LINE), [], 'seven requeues in one pass');
    await clock.advance(10_000);
    t.unlocking(uuid(8), 'crunch-run exited');
    assert.deepEqual(
      records(LINE).map((r) => r.Requeued),
      [8],
    );
  });

  it('carries what crunch-run said at the last start it refused', async () => {
    const { t, clock, records } = setup();
    for (const n of [1, 2, 3]) {
      t.poolEvent({ type: 'crunchRunStartReturned', instanceId: 'i-1', containerUUID: uuid(n), sinceQueuedMs: 0, outcome: 'failed', exitCode: 2, stderr: `refused ${n}` });
      t.unlocking(uuid(n), 'crunch-run exited');
      await clock.advance(1000);
    }
    assert.deepEqual(
      records(LINE).map((r) => [r.ExitCode, r.stderr]),
      [[2, 'refused 3']],
    );
  });

  it('knows whether a container has run since the start: one seen going Running, or Complete with its Running unseen; not one first seen Running or Complete', () => {
    const a = setup();
    seen(a.t, 1, 'Running');
    seen(a.t, 2, 'Complete');
    seen(a.t, 1, 'Complete');
    assert.equal(a.w.ranSinceStart, false, 'an earlier process started them');
    seen(a.t, 3, 'Locked');
    seen(a.t, 3, 'Running');
    assert.equal(a.w.ranSinceStart, true);
    const b = setup();
    seen(b.t, 4, 'Locked');
    seen(b.t, 4, 'Complete');
    assert.equal(b.w.ranSinceStart, true, 'it ran between two polls');
  });

  it('counts no other unlock; a container going Running begins the count again, one first seen Running does not', async () => {
    const { t, clock, records } = setup();
    t.unlocking(uuid(1), 'crunch-run exited');
    t.unlocking(uuid(2), 'pool capacity is used by higher priority containers');
    t.unlocking(uuid(3), 'priority=0');
    await clock.advance(1000);
    t.unlocking(uuid(2), 'crunch-run exited');
    seen(t, 7, 'Running');
    t.unlocking(uuid(3), 'crunch-run exited');
    assert.equal(records(LINE).length, 1, 'a container first seen Running is no run of ours');
    seen(t, 8, 'Locked');
    seen(t, 8, 'Running');
    await clock.advance(60_000);
    t.unlocking(uuid(1), 'crunch-run exited');
    await clock.advance(1000);
    t.unlocking(uuid(2), 'crunch-run exited');
    assert.equal(records(LINE).length, 1, 'two since a container went Running');
  });

  it('repeats at most once a minute while it lasts, and says when containers run again', async () => {
    const { t, w, clock, records } = setup();
    for (const n of [1, 2, 3, 4, 5]) {
      t.unlocking(uuid(n), 'crunch-run exited');
      await clock.advance(1);
    }
    assert.equal(records(LINE).length, 1);
    await clock.advance(60_000);
    t.unlocking(uuid(6), 'crunch-run exited');
    assert.deepEqual(
      records(LINE).map((r) => r.Requeued),
      [3, 6],
    );
    seen(t, 9, 'Locked');
    seen(t, 9, 'Running');
    assert.deepEqual(
      records(AGAIN).map((r) => [r.level, r.Requeued, r.ContainerUUID]),
      [['info', 6, uuid(9)]],
    );
    assert.equal(w.failing(), false);
    seen(t, 10, 'Locked');
    seen(t, 10, 'Running');
    assert.equal(records(AGAIN).length, 1, 'said once');
  });

  it('a container seen Complete with its Running missed (it ran between two polls) begins the count again, as one seen Running does', async () => {
    const { t, w, clock, records } = setup();
    for (const n of [1, 2, 3]) {
      t.unlocking(uuid(n), 'crunch-run exited');
      await clock.advance(1000);
    }
    assert.equal(w.failing(), true);
    seen(t, 9, 'Locked');
    seen(t, 9, 'Complete');
    assert.equal(w.failing(), false, 'a Complete container ran');
    assert.equal(records(AGAIN).length, 1);
    // Cancelled says nothing: a Locked container may be cancelled without running.
    for (const n of [4, 5, 6]) {
      t.unlocking(uuid(n), 'crunch-run exited');
      await clock.advance(1000);
    }
    seen(t, 10, 'Locked');
    seen(t, 10, 'Cancelled');
    assert.equal(w.failing(), true, 'a Cancelled container may never have run');
    // Nor one first seen Running: an earlier process started it.
    seen(t, 11, 'Running');
    seen(t, 11, 'Complete');
    assert.equal(w.failing(), true, 'a run of an earlier process says nothing of our starts');
  });

  it('a container seen Running before the requeues began, Complete while they go on, says nothing of starts now: it does not begin the count again', async () => {
    const { t, w, clock, records } = setup();
    // Started before the trouble: locked, then seen Running.
    seen(t, 9, 'Locked');
    seen(t, 9, 'Running');
    for (const n of [1, 2, 3]) {
      t.unlocking(uuid(n), 'crunch-run exited');
      await clock.advance(1000);
    }
    assert.equal(w.failing(), true);
    seen(t, 9, 'Complete');
    assert.equal(w.failing(), true, 'it ran, but its start was counted when it went Running');
    assert.equal(records(AGAIN).length, 0);
  });

  it('keeps at most 100,000 containers known Running, the oldest going first', async () => {
    const { t, w, clock } = setup();
    const at = clock.now();
    for (let n = 0; n <= 100_000; n++) w.observe(uuid(n), { at, kind: 'running' });
    for (const n of [200_001, 200_002, 200_003]) {
      t.unlocking(uuid(n), 'crunch-run exited');
      await clock.advance(1000);
    }
    w.observe(uuid(1), { at, kind: 'finished', detail: { state: 'Complete' } });
    assert.equal(w.failing(), true, 'still known Running');
    w.observe(uuid(0), { at, kind: 'finished', detail: { state: 'Complete' } });
    assert.equal(w.failing(), false, 'the oldest was forgotten: its Complete counts as a run');
  });

  it('takes one pass\'s burst for one moment however long the pass takes on a clock that moves, and the next pass for another', async () => {
    // The system clock moves during a pass: here a millisecond at every reading.
    const manual = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
    let drift = 0;
    const clock: Clock = {
      now: () => manual.now() + drift++,
      sleep: (ms, signal) => manual.sleep(ms, signal),
      setTimer: (ms, fn) => manual.setTimer(ms, fn),
      setRepeatingTimer: (ms, fn) => manual.setRepeatingTimer(ms, fn),
    };
    const w = new WastedAttemptWatch(clock, createLogger({ stream: new LineCollector(), clock }));
    const t = new Timeline({ clock, onEvent: w.observe });
    for (const n of [1, 2, 3, 4, 5]) t.unlocking(uuid(n), 'crunch-run exited');
    assert.equal(w.failing(), false, 'one VM\'s burst, requeued in one pass');
    await manual.advance(1000);
    t.unlocking(uuid(6), 'crunch-run exited');
    assert.equal(w.failing(), true, 'a requeue at a later pass');
  });
});
