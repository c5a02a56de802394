/** VCPU-seconds by owner over a sliding window. */
import assert from 'node:assert/strict';
import { ShareUsage } from '../../src/placement/share-usage.js';

const HOUR = 3_600_000;

describe('ShareUsage', () => {
  it('credits the time between observations to what ran, in VCPU-seconds by owner', () => {
    const u = new ShareUsage(HOUR);
    u.observe(0, [
      ['a', 2],
      ['b', 1],
      ['a', 2],
    ]);
    assert.equal(u.used('a'), 0);
    assert.equal(u.running('a'), 4);
    u.observe(10_000, [['a', 4], ['b', 1]]);
    assert.equal(u.used('a'), 40);
    assert.equal(u.used('b'), 10);
    u.observe(20_000, []);
    assert.equal(u.used('a'), 80);
    assert.equal(u.running('a'), 0);
    assert.deepEqual([...u.owners()].sort(), ['a', 'b']);
  });

  it('forgets use older than the window, a bucket (1/12 of it) at a time', () => {
    const u = new ShareUsage(HOUR);
    u.observe(0, [['a', 1]]);
    u.observe(60_000, []); // 60 VCPU-s in the first bucket (0-5 min)
    u.observe(HOUR - 1, [['b', 1]]);
    assert.equal(u.used('a'), 60);
    u.observe(HOUR + 5 * 60_000, []); // the first bucket is now more than a window old
    assert.equal(u.used('a'), 0);
    assert.equal(u.used('b'), 300.001);
    assert.deepEqual([...u.owners()], ['b']);
  });

  it('a clock that goes back credits nothing', () => {
    const u = new ShareUsage(HOUR);
    u.observe(10_000, [['a', 1]]);
    u.observe(5_000, [['a', 1]]);
    assert.equal(u.used('a'), 0);
    u.observe(12_000, []);
    assert.equal(u.used('a'), 2);
  });

  it('refuses a window that is not longer than 0', () => {
    assert.throws(() => new ShareUsage(0), /longer than 0/);
  });

  it('forgets a bucket as soon as the window has moved past it, and for good', () => {
    const u = new ShareUsage(HOUR);
    u.observe(0, [['a', 1]]);
    u.observe(60_000, []); // 60 VCPU-s in the first bucket (0-5 min)
    u.observe(HOUR + 60_000, []); // in the thirteenth bucket, which takes the first one's place
    assert.equal(u.used('a'), 0);
    u.observe(3 * HOUR, []);
    assert.equal(u.used('a'), 0, 'not left in the totals once its slot was reused');
    assert.deepEqual([...u.owners()], []);
  });
});
