import assert from 'node:assert/strict';
import { LeavingTimes } from '../../src/estimate/leaving.js';

const S = 1000;

describe('LeavingTimes', () => {
  it('before any instance is seen leaving, expects the listing anywhere in one SyncInterval: none, half of it, all of it', () => {
    assert.deepEqual(new LeavingTimes(10 * S).estimate(), { low: 0, typical: 5 * S, high: 10 * S });
  });
});
