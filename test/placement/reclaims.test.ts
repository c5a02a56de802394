/**
 * The reclaim counts: per (type, zone, preemptible), each VM once whether
 * its notice or its going comes first, the lost containers told, and a
 * decayed rate per type that halves every HalfLife.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/manual.js';
import { Decayed, type LostWork, ReclaimTracker } from '../../src/placement/reclaims.js';
import type { PoolEvent } from '../../src/worker/pool.js';

const HOUR = 3_600_000;

function reclaimed(id: string, phase: 'notice' | 'gone', opts: { type?: string; zone?: string; containers?: string[] } = {}): PoolEvent {
  return {
    type: 'instanceReclaimed',
    phase,
    instanceId: id,
    instanceType: opts.type ?? 'm5.spot',
    zone: opts.zone ?? 'a',
    preemptible: true,
    containers: opts.containers ?? [],
    reason: 'test',
  };
}

const created = (id: string, type = 'm5.spot'): PoolEvent => ({ type: 'instanceCreated', instanceId: id, pendingId: `pending-${id}`, instanceType: type });

describe('reclaim counts', () => {
  let clock: ManualClock;
  let t: ReclaimTracker;
  let lost: LostWork[];

  beforeEach(() => {
    clock = new ManualClock();
    t = new ReclaimTracker(clock, HOUR);
    lost = [];
    t.onLost((l) => lost.push(l));
  });

  it('counts a VM once per (type, zone), at its notice or its going, and its containers when it goes', () => {
    t.observe(reclaimed('i-1', 'notice', { containers: ['c1'] }));
    t.observe(reclaimed('i-1', 'notice', { containers: ['c1'] }));
    t.observe(reclaimed('i-1', 'gone', { containers: ['c1', 'c2'] }));
    t.observe(reclaimed('i-2', 'gone', { zone: 'b' }));
    t.observe(reclaimed('i-3', 'gone', { type: 'c5.spot', zone: 'a', containers: ['c3'] }));
    assert.deepEqual(t.snapshot(), [
      { instanceType: 'c5.spot', zone: 'a', preemptible: true, reclaimed: 1, containersLost: 1 },
      { instanceType: 'm5.spot', zone: 'a', preemptible: true, reclaimed: 1, containersLost: 2 },
      { instanceType: 'm5.spot', zone: 'b', preemptible: true, reclaimed: 1, containersLost: 0 },
    ]);
    assert.deepEqual([t.vms, t.containers, t.notices], [3, 3, 2]);
    assert.deepEqual(
      lost.map((l) => [l.instanceId, l.containers]),
      [
        ['i-1', ['c1', 'c2']],
        ['i-3', ['c3']],
      ],
      'a VM gone empty loses nothing',
    );
  });

  it('the rate is recent reclaims over recent creates of the type, and halves with both every HalfLife only as they age apart', async () => {
    for (let i = 0; i < 4; i++) t.observe(created(`i-${i}`));
    t.observe(created('x', 'r5.spot'));
    assert.equal(t.rate('m5.spot'), 0);
    t.observe(reclaimed('i-0', 'gone'));
    t.observe(reclaimed('i-1', 'gone'));
    assert.equal(t.rate('m5.spot'), 0.5);
    assert.equal(t.rate('r5.spot'), 0);
    assert.equal(t.rate('never.seen'), 0);
    await clock.advance(HOUR);
    assert.equal(t.rate('m5.spot'), 0.5, 'reclaims and creates of the same time age alike');
    // Four new VMs, none reclaimed: the old reclaims weigh half as much now.
    for (let i = 4; i < 8; i++) t.observe(created(`i-${i}`));
    assert.equal(t.rate('m5.spot'), 1 / 6);
  });

  it('a type reclaimed with no create on record (adopted at a restart) counts over at least one VM', () => {
    t.observe(reclaimed('i-9', 'gone'));
    assert.equal(t.rate('m5.spot'), 1);
  });

  it('the creates count over at least one VM as they age too: one VM created and reclaimed long ago fades, rather than reading as every VM reclaimed for good', async () => {
    t.observe(created('i-1'));
    t.observe(reclaimed('i-1', 'gone'));
    assert.equal(t.rate('m5.spot'), 1);
    await clock.advance(2 * HOUR);
    assert.equal(t.rate('m5.spot'), 0.25);
  });

  it('Decayed halves every half-life', () => {
    const d = new Decayed(HOUR);
    d.add(0, 8);
    assert.equal(d.read(HOUR), 4);
    assert.equal(d.read(3 * HOUR), 1);
    d.add(3 * HOUR);
    assert.equal(d.read(3 * HOUR), 2);
  });
});
