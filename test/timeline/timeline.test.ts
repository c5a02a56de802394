/**
 * The timeline store on a ManualClock: what each hook records, the link
 * from an instance to the containers waiting on it, and the bounds (events
 * per container, containers, and which container goes first).
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/manual.js';
import type { SeenContainer } from '../../src/timeline/sink.js';
import { Timeline } from '../../src/timeline/timeline.js';

const CREATED = '2025-12-31T23:59:00Z';

function ctr(uuid: string, state: string, extra: Partial<SeenContainer> = {}): SeenContainer {
  return { uuid, state: state as SeenContainer['state'], priority: 1, created_at: CREATED, ...extra };
}

function kinds(t: Timeline, uuid: string): string[] {
  return t.get(uuid)?.events.map((e) => e.kind) ?? [];
}

describe('Timeline', () => {
  let clock: ManualClock;
  let t: Timeline;
  const A = 'zzzzz-dz642-aaaaaaaaaaaaaaa';
  const B = 'zzzzz-dz642-bbbbbbbbbbbbbbb';

  beforeEach(() => {
    clock = new ManualClock();
    t = new Timeline({ clock });
  });

  it('a container placed on a VM already booting for another gets that VM\'s boot events too, once', async () => {
    t.containerSeen(ctr(A, 'Locked'));
    t.vmRequested(A, 'small', 'pending-1');
    t.poolEvent({ type: 'instanceCreated', instanceId: 'i-1', pendingId: 'pending-1', instanceType: 'small' });
    t.containerSeen(ctr(B, 'Locked'));
    await clock.advance(500);
    t.placedOnBooting(B, 'i-1', 'small');
    t.placedOnBooting(B, 'i-1', 'small');
    t.placedOnBooting(A, 'i-1', 'small');
    t.poolEvent({ type: 'sshConnected', instanceId: 'i-1', sinceAppearedMs: 10 });
    t.poolEvent({ type: 'readyForContainer', instanceId: 'i-1', sinceSshMs: 10 });
    assert.deepEqual(kinds(t, B), ['first_seen', 'vm_assigned', 'vm_booted', 'vm_ready']);
    assert.deepEqual(t.get(B)?.events[1]?.detail, { instance: 'i-1', instance_type: 'small' });
    assert.deepEqual(kinds(t, A), ['first_seen', 'vm_requested', 'vm_booted', 'vm_ready'], 'its own VM: no vm_assigned');
  });

  it('records the reclaim of the VM a container ran on, and that reclaims sent it on demand', () => {
    t.containerSeen(ctr(A, 'Running'));
    t.containerSeen(ctr(B, 'Queued'));
    const ev = { type: 'instanceReclaimed' as const, instanceId: 'i-9', instanceType: 'small.spot', zone: 'a', preemptible: true, containers: [A], reason: 'crunch-run: notice' };
    t.poolEvent({ ...ev, phase: 'notice' });
    t.poolEvent({ ...ev, phase: 'gone' });
    t.onDemand(B, { reason: 'earlier attempts of its request were lost to spot reclaims', losses: 1 });
    assert.deepEqual(kinds(t, A), ['first_seen', 'vm_reclaimed', 'vm_reclaimed']);
    assert.deepEqual(t.get(A)?.events[2]?.detail, { instance: 'i-9', phase: 'gone', reason: 'crunch-run: notice' });
    assert.deepEqual(kinds(t, B), ['first_seen', 'on_demand']);
    assert.equal(t.get(B)?.events[1]?.detail?.losses, 1);
  });

  it('says once that a container was placed on a VM made ready ahead of work, and which', () => {
    t.containerSeen(ctr(A, 'Locked'));
    const note = "pre-warmed for runner zzzzz-dz642-rrrrrrrrrrrrrrr's children (#4)";
    t.placedOnPrepared(A, 'pending-3', note);
    t.placedOnPrepared(A, 'i-3', note);
    assert.deepEqual(kinds(t, A), ['first_seen', 'vm_prepared']);
    assert.deepEqual(t.get(A)?.events[1]?.detail, { instance: 'pending-3', note });
  });

  it('records the life of a container that gets a VM of its own, with the times of the clock', async () => {
    const t0 = clock.now();
    t.containerSeen(ctr(A, 'Queued'));
    await clock.advance(1000);
    t.containerSeen(ctr(A, 'Locked'));
    t.vmRequested(A, 'small', 'pending-1');
    await clock.advance(2000);
    t.poolEvent({ type: 'instanceCreated', instanceId: 'i-1', pendingId: 'pending-1', instanceType: 'small' });
    t.poolEvent({ type: 'sshConnected', instanceId: 'i-1', sinceAppearedMs: 10 });
    await clock.advance(500);
    t.poolEvent({ type: 'readyForContainer', instanceId: 'i-1', sinceSshMs: 500 });
    t.poolEvent({ type: 'crunchRunStarted', instanceId: 'i-1', containerUUID: A, sinceQueuedMs: 1 });
    await clock.advance(100);
    t.containerSeen(ctr(A, 'Running'));
    // The same state again (a priority change) records nothing.
    t.containerSeen(ctr(A, 'Running', { priority: 9 }));
    await clock.advance(5000);
    t.containerSeen(ctr(A, 'Complete', { exit_code: 0 }));

    const tl = t.get(A)!;
    assert.deepEqual(
      tl.events.map((e) => [e.kind, e.at - t0, e.detail]),
      [
        ['first_seen', 0, { state: 'Queued', priority: 1, created: CREATED }],
        ['locked', 1000, undefined],
        ['vm_requested', 1000, { instance_type: 'small', instance: 'i-1' }],
        ['vm_booted', 3000, { instance: 'i-1' }],
        ['vm_ready', 3500, { instance: 'i-1' }],
        ['crunch_run_started', 3500, { instance: 'i-1' }],
        ['running', 3600, undefined],
        ['finished', 8600, { state: 'Complete', exit_code: 0 }],
      ],
    );
    assert.equal(tl.dropped, 0);
    assert.equal(tl.asOf, clock.now());
  });

  it('records a start that did not succeed, with what crunch-run said when it refused, and not one that did', () => {
    t.containerSeen(ctr(A, 'Locked'));
    t.poolEvent({ type: 'crunchRunStartReturned', instanceId: 'i-1', containerUUID: A, sinceQueuedMs: 1, outcome: 'failed', exitCode: 2, stderr: 'missing required argument: container-uuid (try -help)' });
    t.poolEvent({ type: 'crunchRunStartReturned', instanceId: 'i-2', containerUUID: A, sinceQueuedMs: 2, outcome: 'unknown' });
    t.poolEvent({ type: 'crunchRunStartReturned', instanceId: 'i-3', containerUUID: A, sinceQueuedMs: 3, outcome: 'started' });
    assert.deepEqual(
      t.get(A)!.events.filter((e) => e.kind === 'crunch_run_start_failed').map((e) => e.detail),
      [
        { instance: 'i-1', outcome: 'failed', exit_code: 2, stderr: 'missing required argument: container-uuid (try -help)' },
        { instance: 'i-2', outcome: 'unknown' },
      ],
    );
  });

  it('copies boot events only to the containers waiting on that instance', () => {
    t.containerSeen(ctr(A, 'Locked'));
    t.containerSeen(ctr(B, 'Locked'));
    t.vmRequested(A, 'small', 'pending-1');
    t.vmRequested(B, 'big', 'pending-2');
    t.poolEvent({ type: 'instanceCreated', instanceId: 'i-2', pendingId: 'pending-2', instanceType: 'big' });
    t.poolEvent({ type: 'sshConnected', instanceId: 'i-2', sinceAppearedMs: 1 });
    assert.deepEqual(kinds(t, A), ['first_seen', 'vm_requested']);
    assert.deepEqual(kinds(t, B), ['first_seen', 'vm_requested', 'vm_booted']);
    assert.equal(t.get(A)!.events[1].detail?.pending_id, 'pending-1');
    assert.equal(t.get(B)!.events[2].detail?.instance, 'i-2');
    // Ready ends the link: later events about the instance are not the container's.
    t.poolEvent({ type: 'readyForContainer', instanceId: 'i-2', sinceSshMs: 1 });
    t.poolEvent({ type: 'sshConnected', instanceId: 'i-2', sinceAppearedMs: 1 });
    assert.deepEqual(kinds(t, B), ['first_seen', 'vm_requested', 'vm_booted', 'vm_ready']);
  });

  it('a requeue ends the link to the VM, and says why when we unlocked it', () => {
    t.containerSeen(ctr(A, 'Queued'));
    t.containerSeen(ctr(A, 'Locked'));
    t.vmRequested(A, 'small', 'pending-1');
    t.unlocking(A, 'pool capacity is used by higher priority containers');
    t.containerSeen(ctr(A, 'Queued'));
    t.poolEvent({ type: 'instanceCreated', instanceId: 'i-1', pendingId: 'pending-1', instanceType: 'small' });
    t.poolEvent({ type: 'sshConnected', instanceId: 'i-1', sinceAppearedMs: 1 });
    const tl = t.get(A)!;
    assert.deepEqual(kinds(t, A), ['first_seen', 'locked', 'vm_requested', 'unlocked', 'requeued']);
    assert.deepEqual(tl.events[4].detail, { reason: 'pool capacity is used by higher priority containers' });
    // Locked and requeued by someone else: no reason to give.
    t.containerSeen(ctr(A, 'Locked'));
    t.containerSeen(ctr(A, 'Queued'));
    assert.equal(t.get(A)!.events.at(-1)!.detail, undefined);
  });

  it('records a wait drain to save caused, with the type and the instance it emptied', () => {
    t.containerSeen(ctr(A, 'Locked'));
    t.vmRequested(A, 'small', 'pending-1');
    t.drainWait(A, 'small', 'i-9');
    assert.deepEqual(kinds(t, A), ['first_seen', 'vm_requested', 'drain_wait']);
    assert.deepEqual(t.get(A)!.events[2].detail, {
      instance_type: 'small',
      drained_instance: 'i-9',
      reason: 'drain to save emptied an instance of this type that has since shut down',
    });
  });

  it('records a cancel by the dispatcher before the end it causes', () => {
    t.containerSeen(ctr(A, 'Running'));
    t.cancelling(A, 'not running on any worker');
    t.containerSeen(ctr(A, 'Cancelled'));
    assert.deepEqual(kinds(t, A), ['first_seen', 'cancelled_by_dispatcher', 'finished']);
    assert.deepEqual(t.get(A)!.events[1].detail, { reason: 'not running on any worker' });
    assert.deepEqual(t.get(A)!.events[2].detail, { state: 'Cancelled' });
  });

  it('after a restart: first seen Running with the controller times, then adopted on its VM', () => {
    t.poolEvent({ type: 'crunchRunDetected', instanceId: 'i-9', containerUUID: A });
    t.containerSeen(ctr(A, 'Running', { started_at: '2025-12-31T23:59:30Z' }));
    const tl = t.get(A)!;
    assert.deepEqual(kinds(t, A), ['adopted', 'first_seen']);
    assert.deepEqual(tl.events[0].detail, { instance: 'i-9' });
    assert.deepEqual(tl.events[1].detail, { state: 'Running', priority: 1, created: CREATED, started: '2025-12-31T23:59:30Z' });
  });

  it('keeps at most maxEvents per container: the first stays, the oldest after it go, counted', async () => {
    t = new Timeline({ clock, maxEvents: 4 });
    t.containerSeen(ctr(A, 'Queued'));
    for (let i = 0; i < 5; i++) {
      await clock.advance(1);
      t.containerSeen(ctr(A, i % 2 === 0 ? 'Locked' : 'Queued'));
    }
    const tl = t.get(A)!;
    assert.equal(tl.events.length, 4);
    assert.equal(tl.dropped, 2);
    assert.deepEqual(kinds(t, A), ['first_seen', 'locked', 'requeued', 'locked']);
    assert.deepEqual(
      tl.events.map((e) => e.at - tl.events[0].at),
      [0, 3, 4, 5],
    );
  });

  it('over maxContainers, drops the container that finished longest ago, then the oldest unfinished', () => {
    t = new Timeline({ clock, maxContainers: 3 });
    const u = (n: number): string => `zzzzz-dz642-${String(n).padStart(15, '0')}`;
    t.containerSeen(ctr(u(1), 'Queued'));
    t.containerSeen(ctr(u(2), 'Queued'));
    t.containerSeen(ctr(u(3), 'Queued'));
    // 3 finished before 2: 3 goes first, though 2 was seen earlier; 1, never finished, stays.
    t.containerSeen(ctr(u(3), 'Complete'));
    t.containerSeen(ctr(u(2), 'Cancelled'));
    t.containerSeen(ctr(u(4), 'Queued'));
    assert.deepEqual([1, 2, 3, 4].map((n) => t.get(u(n)) !== undefined), [true, true, false, true]);
    t.containerSeen(ctr(u(5), 'Queued'));
    assert.deepEqual([1, 2, 4, 5].map((n) => t.get(u(n)) !== undefined), [true, false, true, true]);
    // No finished one left: the oldest recorded goes.
    t.vmRequested(u(6), 'small', 'pending-6');
    assert.deepEqual([1, 4, 5, 6].map((n) => t.get(u(n)) !== undefined), [false, true, true, true]);
    assert.equal(t.size, 3);
  });

  it('a dropped container leaves no link behind: a later boot event records nothing', () => {
    t = new Timeline({ clock, maxContainers: 1 });
    t.containerSeen(ctr(A, 'Locked'));
    t.vmRequested(A, 'small', 'pending-1');
    t.containerSeen(ctr(B, 'Queued'));
    assert.equal(t.get(A), undefined);
    t.poolEvent({ type: 'instanceCreated', instanceId: 'i-1', pendingId: 'pending-1', instanceType: 'small' });
    t.poolEvent({ type: 'sshConnected', instanceId: 'i-1', sinceAppearedMs: 1 });
    assert.equal(t.get(A), undefined);
    assert.deepEqual(kinds(t, B), ['first_seen']);
  });

  it('a container first seen already finished is the first to go over maxContainers', () => {
    t = new Timeline({ clock, maxContainers: 2 });
    t.containerSeen(ctr(A, 'Queued'));
    t.containerSeen(ctr(B, 'Complete'));
    const C = 'zzzzz-dz642-ccccccccccccccc';
    t.containerSeen(ctr(C, 'Queued'));
    assert.equal(t.get(B), undefined);
    assert.deepEqual(kinds(t, A), ['first_seen']);
    assert.deepEqual(kinds(t, C), ['first_seen']);
  });

  it("crunch-run starting ends the link: the VM it was waiting for, booting elsewhere, adds nothing after", () => {
    t.containerSeen(ctr(A, 'Locked'));
    t.vmRequested(A, 'small', 'pending-1');
    t.poolEvent({ type: 'instanceCreated', instanceId: 'i-1', pendingId: 'pending-1', instanceType: 'small' });
    // The scheduler started it on another VM that was ready first.
    t.poolEvent({ type: 'crunchRunStarted', containerUUID: A, instanceId: 'i-2', sinceQueuedMs: 0 });
    t.poolEvent({ type: 'sshConnected', instanceId: 'i-1', sinceAppearedMs: 1 });
    t.poolEvent({ type: 'readyForContainer', instanceId: 'i-1', sinceSshMs: 1 });
    assert.deepEqual(kinds(t, A), ['first_seen', 'vm_requested', 'crunch_run_started']);
  });
});
