import assert from 'node:assert/strict';
import { LeavingTimes } from '../../src/estimate/leaving.js';

const S = 1000;

describe('LeavingTimes', () => {
  it('before any instance is seen leaving, expects the listing anywhere in one SyncInterval: none, half of it, all of it', () => {
    assert.deepEqual(new LeavingTimes(10 * S).estimate(), { low: 0, typical: 5 * S, high: 10 * S });
  });

  it('learns from shutdownToGone events alone, a listing in the same instant included, not from a negative time', () => {
    const l = new LeavingTimes(10 * S);
    l.observe({ type: 'shutdownToGone', instanceId: 'i1', sinceShutdownMs: -5 * S });
    l.observe({ type: 'readyForContainer', instanceId: 'i2', sinceSshMs: 7 * S });
    assert.deepEqual(l.estimate(), { low: 0, typical: 5 * S, high: 10 * S }, 'nothing learnt yet');
    l.observe({ type: 'shutdownToGone', instanceId: 'i3', sinceShutdownMs: 0 });
    assert.deepEqual(l.estimate(), { low: 0, typical: 0, high: 0 });
  });
});
