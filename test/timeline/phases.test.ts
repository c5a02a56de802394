/** `phases`: events to phases with durations, for the API and the CLI. */
import assert from 'node:assert/strict';
import { phases } from '../../src/timeline/phases.js';
import type { TimelineEvent } from '../../src/timeline/sink.js';

const T0 = Date.UTC(2026, 0, 1);
const ev = (dt: number, kind: TimelineEvent['kind'], detail?: TimelineEvent['detail']): TimelineEvent => ({ at: T0 + dt, kind, detail });
const short = (ps: ReturnType<typeof phases>): Array<[string, number, number | undefined, number]> =>
  ps.map((p) => [p.phase, p.from - T0, p.to === undefined ? undefined : p.to - T0, p.durationMs]);

describe('timeline phases', () => {
  it('a full run: queued from created_at, each phase to the next, the last to finished', () => {
    const events = [
      ev(0, 'first_seen', { state: 'Queued', priority: 1, created: new Date(T0 - 4000).toISOString() }),
      ev(1000, 'locked'),
      ev(1000, 'vm_requested', { instance_type: 'small', instance: 'i-1' }),
      ev(3000, 'vm_booted', { instance: 'i-1' }),
      ev(3500, 'vm_ready', { instance: 'i-1' }),
      ev(3600, 'crunch_run_started', { instance: 'i-1' }),
      ev(4000, 'running'),
      ev(9000, 'finished', { state: 'Complete' }),
    ];
    assert.deepEqual(short(phases(events, T0 + 99_999)), [
      ['queued', -4000, 1000, 5000],
      ['locked', 1000, 1000, 0],
      ['vm_requested', 1000, 3000, 2000],
      ['vm_booted', 3000, 3500, 500],
      ['vm_ready', 3500, 3600, 100],
      ['crunch_run_started', 3600, 4000, 400],
      ['running', 4000, 9000, 5000],
    ]);
  });

  it('an unfinished container: the last phase is open and lasts until now', () => {
    const events = [ev(0, 'first_seen', { state: 'Queued', priority: 1 }), ev(200, 'locked')];
    assert.deepEqual(short(phases(events, T0 + 1200)), [
      ['queued', 0, 200, 200],
      ['locked', 200, undefined, 1000],
    ]);
  });

  it('a requeue starts queued again; events that begin no phase are skipped', () => {
    const events = [
      ev(0, 'first_seen', { state: 'Queued', priority: 1 }),
      ev(100, 'locked'),
      ev(150, 'unlocked', { reason: 'x' }),
      ev(200, 'requeued', { reason: 'x' }),
      ev(700, 'locked'),
      ev(800, 'cancelled_by_dispatcher', { reason: 'y' }),
      ev(900, 'finished', { state: 'Cancelled' }),
    ];
    assert.deepEqual(short(phases(events, T0 + 5000)).map((p) => p[0]), ['queued', 'locked', 'queued', 'locked']);
    assert.deepEqual(short(phases(events, T0 + 5000)).at(-1), ['locked', 700, 900, 200]);
  });

  it('first seen Running after a restart: running since started_at; a created_at after first sight is not used', () => {
    const started = new Date(T0 - 60_000).toISOString();
    assert.deepEqual(short(phases([ev(0, 'adopted', { instance: 'i-1' }), ev(0, 'first_seen', { state: 'Running', priority: 1, started })], T0 + 1000)), [
      ['running', -60_000, undefined, 61_000],
    ]);
    const late = new Date(T0 + 50).toISOString();
    assert.deepEqual(short(phases([ev(0, 'first_seen', { state: 'Queued', priority: 1, created: late })], T0 + 10)), [['queued', 0, undefined, 10]]);
  });

  it('no events, no phases', () => {
    assert.deepEqual(phases([], T0), []);
  });

  it('placed on a VM already booting: waiting for it is the vm_requested phase', () => {
    const events = [
      ev(0, 'first_seen', { state: 'Locked', priority: 1 }),
      ev(100, 'vm_assigned', { instance: 'i-1', instance_type: 'small' }),
      ev(600, 'vm_booted', { instance: 'i-1' }),
    ];
    assert.deepEqual(short(phases(events, T0 + 1000)), [
      ['locked', 0, 100, 100],
      ['vm_requested', 100, 600, 500],
      ['vm_booted', 600, undefined, 400],
    ]);
  });
});
