import assert from 'node:assert/strict';
import { BootTimes } from '../../src/estimate/boot.js';

const MIN = 60_000;

describe('BootTimes', () => {
  it('answers the default (3 minutes) before any boot', () => {
    assert.equal(new BootTimes().estimate('a').typical, 3 * MIN);
  });

  it('learns create-to-ready from the two pool events, per type', () => {
    const b = new BootTimes();
    const types: Record<string, string> = { i1: 'a', i2: 'a', i3: 'a', i4: 'b' };
    const typeOf = (id: string): string | undefined => types[id];
    const boot = (id: string, ssh: number, ready: number): void => {
      b.observe({ type: 'sshConnected', instanceId: id, sinceAppearedMs: ssh }, typeOf);
      b.observe({ type: 'readyForContainer', instanceId: id, sinceSshMs: ready }, typeOf);
    };
    boot('i1', 50_000, 10_000);
    boot('i2', 100_000, 20_000);
    boot('i3', 200_000, 40_000);
    boot('i4', 30_000, 0);
    assert.equal(b.estimate('a').typical, 120_000);
    assert.equal(b.estimate('b').typical, 30_000);
    // A type never booted: the median of every boot.
    assert.equal(b.estimate('c').typical, (60_000 + 120_000) / 2);
  });

  it('ignores a ready event without its SSH event, and instances of unknown type', () => {
    const b = new BootTimes(5 * MIN);
    b.observe({ type: 'readyForContainer', instanceId: 'x', sinceSshMs: 1 }, () => 'a');
    b.observe({ type: 'sshConnected', instanceId: 'y', sinceAppearedMs: 1 }, () => undefined);
    b.observe({ type: 'readyForContainer', instanceId: 'y', sinceSshMs: 1 }, () => 'a');
    assert.equal(b.estimate('a').typical, 5 * MIN);
  });

  it('keeps the recent boots of a type only', () => {
    const b = new BootTimes(MIN, 2);
    for (const ms of [10 * MIN, 1000, 3000]) b.record('a', ms);
    assert.equal(b.estimate('a').typical, 2000);
  });

  it('learns a boot once, however often its ready event comes', () => {
    const b = new BootTimes();
    b.observe({ type: 'sshConnected', instanceId: 'i1', sinceAppearedMs: 60_000 }, () => 'a');
    b.observe({ type: 'readyForContainer', instanceId: 'i1', sinceSshMs: 0 }, () => 'a');
    b.observe({ type: 'readyForContainer', instanceId: 'i1', sinceSshMs: 0 }, () => 'a');
    b.observe({ type: 'readyForContainer', instanceId: 'i1', sinceSshMs: 0 }, () => 'a');
    b.record('a', 3 * MIN);
    b.record('a', 4 * MIN);
    assert.equal(b.estimate('a').typical, 3 * MIN);
  });

  it('answers from the boots recorded since it was last asked', () => {
    const b = new BootTimes();
    b.record('a', MIN);
    assert.equal(b.estimate('a').typical, MIN);
    b.record('a', 3 * MIN);
    b.record('a', 4 * MIN);
    assert.equal(b.estimate('a').typical, 3 * MIN);
  });
});
