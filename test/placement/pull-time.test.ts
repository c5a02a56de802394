/**
 * The pull time learnt from starts: start-to-Running on VMs without the
 * image, beyond that on VMs with it, per GiB; nothing until both kinds were
 * seen enough; starts that never reach Running teach nothing.
 */
import assert from 'node:assert/strict';
import { MIN_PULL_SAMPLES, PullTimeLearner } from '../../src/placement/pull-time.js';

const GiB = 2 ** 30;

/** Starts `uuid`s at `at`, each seen Running `ms` later. */
function teach(l: PullTimeLearner, prefix: string, n: number, bytes: number, warm: boolean, ms: number): void {
  for (let i = 0; i < n; i++) {
    l.started(`${prefix}${i}`, bytes, warm, 1_000);
    l.seen(`${prefix}${i}`, 'Locked', 1_000 + ms / 2);
    l.seen(`${prefix}${i}`, 'Running', 1_000 + ms);
  }
}

describe('pull time learner', () => {
  it('learns the cold starts\u2019 extra time per GiB, beyond a warm start', () => {
    const l = new PullTimeLearner();
    teach(l, 'w', MIN_PULL_SAMPLES, 8 * GiB, true, 10_000);
    teach(l, 'c', MIN_PULL_SAMPLES - 1, 8 * GiB, false, 170_000);
    assert.equal(l.pullMs(GiB), undefined, 'too few cold starts yet');
    teach(l, 'd', 1, 2 * GiB, false, 50_000);
    // 160 s per 8 GiB and 40 s per 2 GiB: 20 s per GiB.
    assert.equal(l.pullMs(GiB), 20_000);
    assert.equal(l.pullMs(6 * GiB), 120_000);
    assert.deepEqual([...l.watching()], []);
  });

  it('needs warm starts too, and learns nothing from a start that fails or is requeued', () => {
    const l = new PullTimeLearner();
    teach(l, 'c', MIN_PULL_SAMPLES, GiB, false, 30_000);
    assert.equal(l.pullMs(GiB), undefined, 'no warm start to compare with');
    l.started('x', GiB, true, 0);
    l.seen('x', 'Queued', 5_000);
    l.started('y', GiB, true, 0);
    l.forget('y');
    assert.deepEqual([...l.watching()], []);
    assert.equal(l.pullMs(GiB), undefined);
  });
  it('takes a start on a VM believed to have the image that took as long as a pull for a dropped image: its depth, and no warm sample', () => {
    const l = new PullTimeLearner();
    teach(l, 'w', MIN_PULL_SAMPLES, GiB, true, 5_000);
    teach(l, 'c', MIN_PULL_SAMPLES, GiB, false, 25_000);
    assert.equal(l.pullMs(GiB), 20_000);
    l.started('slow', GiB, true, 0, 9 * GiB);
    assert.equal(l.seen('slow', 'Running', 25_000), 9 * GiB);
    l.started('fine', GiB, true, 0, 9 * GiB);
    assert.equal(l.seen('fine', 'Running', 14_000), undefined, 'within half a pull of a warm start');
    assert.equal(l.pullMs(GiB), 20_000, 'the warm base is the warm starts\u2019 10th percentile');
  });

  it('learns nothing from a cold start of an image whose size is unknown (not named by a PDH)', () => {
    const l = new PullTimeLearner();
    teach(l, 'w', MIN_PULL_SAMPLES, 8 * GiB, true, 10_000);
    teach(l, 'c', MIN_PULL_SAMPLES, 8 * GiB, false, 170_000);
    teach(l, 'u', MIN_PULL_SAMPLES + 1, 0, false, 300_000);
    assert.equal(l.pullMs(GiB), 20_000);
  });

  it('takes a warm start\u2019s time at the 10th percentile of the warm starts, not their median: some of those pulled after all', () => {
    const l = new PullTimeLearner();
    teach(l, 'w', 2, 8 * GiB, true, 10_000);
    teach(l, 'x', 9, 8 * GiB, true, 40_000);
    teach(l, 'c', MIN_PULL_SAMPLES, 8 * GiB, false, 170_000);
    // (170 s - 10 s) per 8 GiB.
    assert.equal(l.pullMs(GiB), 20_000);
  });

  it('takes the median of the cold starts\u2019 rates, not a slow one', () => {
    const l = new PullTimeLearner();
    teach(l, 'w', MIN_PULL_SAMPLES, 8 * GiB, true, 10_000);
    teach(l, 'a', 1, 8 * GiB, false, 90_000);
    teach(l, 'b', 1, 8 * GiB, false, 170_000);
    teach(l, 'c', 1, 8 * GiB, false, 330_000);
    // 10, 20 and 40 s per GiB beyond a warm start.
    assert.equal(l.pullMs(GiB), 20_000);
  });
});
