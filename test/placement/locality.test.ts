/**
 * The locality rule on object literals: both timeouts, what it waits for,
 * and that it never holds a container past them or instead of a new VM.
 */
import assert from 'node:assert/strict';
import { decideLocality, type HoldState, type LocalityFacts, type LocalityTimeouts } from '../../src/placement/locality.js';

const T: LocalityTimeouts = { cacheTimeoutMs: 120_000, depsTimeoutMs: 60_000 };
const facts = (over: Partial<LocalityFacts>): LocalityFacts => ({ now: 0, startsNow: true, readyLevel: 0, ...over });
const busy1 = (freeInMs: number) => ({ instance: 'i-warm', level: 1 as const, freeInMs });
const busy2 = (freeInMs: number) => ({ instance: 'i-deps', level: 2 as const, freeInMs });

describe('locality rule', () => {
  it('takes a ready VM that has the image at once, remembering nothing', () => {
    assert.deepEqual(decideLocality(T, undefined, facts({ readyLevel: 1, soonest1: busy1(10_000) })), {});
  });

  it('holds for a busy VM with the image that frees within CacheTimeout, and says until when', () => {
    const d = decideLocality(T, undefined, facts({ now: 1_000, soonest1: busy1(40_000) }));
    assert.deepEqual(d.hold, { instance: 'i-warm', level: 1, freeInMs: 40_000, until: 121_000, timeoutMs: 120_000 });
    assert.deepEqual(d.state, { since: 1_000 });
  });

  it('does not hold for one that frees after CacheTimeout: the deps phase begins at once', () => {
    const d = decideLocality(T, undefined, facts({ now: 0, soonest1: busy1(120_001) }));
    assert.equal(d.hold, undefined);
    assert.deepEqual(d.state, { since: 0, depsSince: 0 });
  });

  it('counts CacheTimeout from when it first had a warm VM: at since + CacheTimeout it stops waiting for the image', () => {
    const state: HoldState = { since: 0 };
    const before = decideLocality(T, state, facts({ now: 119_999, soonest1: busy1(1) }));
    assert.equal(before.hold?.level, 1);
    const at = decideLocality(T, state, facts({ now: 120_000, soonest1: busy1(1) }));
    // Time is up for the image; a level-1 VM still counts in the deps phase, which begins now.
    assert.deepEqual(at.state, { since: 0, depsSince: 120_000 });
    assert.equal(at.hold?.until, 180_000);
    assert.equal(at.hold?.timeoutMs, 60_000);
  });

  it('in the deps phase takes a ready VM with some inputs, and holds for a busy one until DepsTimeout', () => {
    const state: HoldState = { since: 0, depsSince: 120_000 };
    assert.deepEqual(decideLocality(T, state, facts({ now: 130_000, readyLevel: 2 })), {});
    const held = decideLocality(T, state, facts({ now: 130_000, soonest2: busy2(20_000) }));
    assert.deepEqual(held.hold, { instance: 'i-deps', level: 2, freeInMs: 20_000, until: 180_000, timeoutMs: 60_000 });
    const late = decideLocality(T, state, facts({ now: 130_000, soonest2: busy2(50_001) }));
    assert.equal(late.hold, undefined, 'frees after depsSince + DepsTimeout');
  });

  it('a ready VM with inputs does not end the wait for the image during the cache phase', () => {
    const d = decideLocality(T, undefined, facts({ readyLevel: 2, soonest1: busy1(30_000) }));
    assert.equal(d.hold?.level, 1);
  });

  it('past both timeouts takes anything, and is never held again while it waits', () => {
    const state: HoldState = { since: 0, depsSince: 120_000 };
    for (const now of [180_000, 600_000]) {
      const d = decideLocality(T, state, facts({ now, soonest1: busy1(0), soonest2: busy2(0) }));
      assert.equal(d.hold, undefined);
      assert.deepEqual(d.state, state);
    }
  });

  it('goes straight to the deps phase when no VM has the image (and waits for one with inputs)', () => {
    const d = decideLocality(T, undefined, facts({ now: 5_000, soonest2: busy2(30_000) }));
    assert.deepEqual(d.state, { since: 5_000, depsSince: 5_000 });
    assert.equal(d.hold?.until, 65_000);
  });

  it('in the deps phase waits for whichever warm VM frees first', () => {
    const state: HoldState = { since: 0, depsSince: 0 };
    assert.equal(decideLocality(T, state, facts({ soonest1: busy1(30_000), soonest2: busy2(10_000) })).hold?.instance, 'i-deps');
    assert.equal(decideLocality(T, state, facts({ soonest1: busy1(10_000), soonest2: busy2(10_000) })).hold?.instance, 'i-warm');
  });

  it('never holds instead of a new or booting VM while the pull time is unknown, though the clock runs', () => {
    const d = decideLocality(T, undefined, facts({ now: 0, startsNow: false, soonest1: busy1(10_000) }));
    assert.equal(d.hold, undefined);
    assert.deepEqual(d.state, { since: 0 });
    const later = decideLocality(T, d.state, facts({ now: 130_000, startsNow: true, soonest1: busy1(10_000) }));
    assert.equal(later.hold?.timeoutMs, 60_000, 'the cache phase ended at since + CacheTimeout all the same');
  });

  it('waits for the image only while the warm VM frees sooner than the image would pull', () => {
    assert.equal(decideLocality(T, undefined, facts({ soonest1: busy1(40_000), pullMs: 40_000 })).hold?.instance, 'i-warm');
    const slow = decideLocality(T, undefined, facts({ soonest1: busy1(40_001), pullMs: 40_000 }));
    assert.equal(slow.hold, undefined, 'the pull is quicker than the wait');
    assert.deepEqual(slow.state, { since: 0, depsSince: 0 }, 'on to the deps phase');
    assert.equal(decideLocality(T, undefined, facts({ soonest1: busy1(100_000) })).hold?.level, 1, 'pull time unknown: the timeout alone');
  });

  it('never holds instead of creating a VM or waiting for a booting one: that VM bounds the wait', () => {
    const notNow = (over: Partial<LocalityFacts>) => decideLocality(T, undefined, facts({ startsNow: false, ...over }));
    assert.equal(notNow({ soonest1: busy1(1_000), pullMs: 60_000 }).hold, undefined, 'a VM with the image that frees in 1 s');
    assert.equal(notNow({ soonest2: busy2(1_000), pullMs: 60_000 }).hold, undefined, 'a VM with inputs');
    assert.deepEqual(notNow({ now: 5_000, soonest1: busy1(1_000), pullMs: 60_000 }).state, { since: 5_000 }, 'still timed: held later if a cold ready VM comes first');
  });

  it('waiting for a VM to be created or to boot does not end the cache phase: a cold VM ready first may still be passed over', () => {
    const waiting = decideLocality(T, undefined, facts({ now: 0, startsNow: false, pullMs: 60_000 }));
    assert.deepEqual(waiting.state, { since: 0 }, 'no VM with the image in time, but no choice was made: still the cache phase');
    const ready = decideLocality(T, waiting.state, facts({ now: 50_000, startsNow: true, soonest1: busy1(20_000), pullMs: 60_000 }));
    assert.equal(ready.hold?.instance, 'i-warm', 'a VM with the image frees sooner than the pull');
    const cold = decideLocality(T, waiting.state, facts({ now: 50_000, startsNow: true, pullMs: 60_000 }));
    assert.deepEqual([cold.hold, cold.state?.depsSince], [undefined, 50_000], 'a ready cold VM and no warm one in time: on to the deps phase');
  });

  it('zero timeouts: only the preference for a ready warm VM is left', () => {
    const zero = { cacheTimeoutMs: 0, depsTimeoutMs: 0 };
    assert.equal(decideLocality(zero, undefined, facts({ soonest1: busy1(0), soonest2: busy2(0) })).hold, undefined);
  });

  it('in the deps phase too, never holds instead of creating a VM or waiting for a booting one', () => {
    const state: HoldState = { since: 0, depsSince: 120_000 };
    const d = decideLocality(T, state, facts({ now: 130_000, startsNow: false, soonest2: busy2(20_000) }));
    assert.equal(d.hold, undefined, 'a VM with inputs that frees in 20 s, well within DepsTimeout');
    assert.deepEqual(d.state, state);
  });
});
