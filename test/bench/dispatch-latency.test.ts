/**
 * The dispatch latency benchmark's measurement on a few containers: the real
 * dispatcher, the lame cloud over SSH and the test controller, so this shows
 * that every timestamp is taken, in the order the dispatch happens, and that
 * the run cleans up after itself.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_OPTIONS, formatReport, measureDispatchLatency, type Sample } from '../../bench/dispatch-latency.js';

describe('bench/dispatch-latency', function () {
  this.timeout(60_000);
  const logPath = join(tmpdir(), `dispatch-latency-test-${process.pid}.log`);
  after(() => rmSync(logPath, { force: true }));

  it('times 5 containers onto idle VMs, with ordered timestamps, and leaves no VM behind', async () => {
    const r = await measureDispatchLatency({
      ...DEFAULT_OPTIONS,
      containers: 5,
      pollIntervalMs: 300,
      vms: 5,
      gapMs: 250,
      warmup: 0,
      runTimeMs: 200,
      logPath,
      logLevel: 'warn',
      deadlineMs: 50_000,
    });
    assert.deepEqual(r.problems, []);
    assert.equal(r.vmsLeft, 0);
    assert.equal(r.samples.length, 5);
    assert.equal(r.idleSamples, 5, JSON.stringify(r.flagged));
    for (const s of r.samples) {
      const t = (k: keyof Sample): number => {
        assert.equal(typeof s[k], 'number', `${s.uuid}: ${String(k)}`);
        return s[k] as number;
      };
      const order: Array<keyof Sample> = ['submitted', 'polled', 'lockReq', 'lockSeen', 'start', 'detach', 'runningAt'];
      for (let i = 1; i < order.length; i++) {
        assert.ok(t(order[i - 1]) <= t(order[i]), `${s.uuid}: ${String(order[i - 1])} ${t(order[i - 1])} > ${String(order[i])} ${t(order[i])}`);
      }
      assert.ok(t('pollBegan') <= t('polled'));
      assert.ok(t('lockReq') <= t('lockedAt') && t('lockedAt') <= t('lockSeen'), `${s.uuid}: controller lock time outside the call`);
      assert.equal(s.instance, s.detachVM);
      assert.equal(s.detaches, 1);
      assert.equal(s.finalState, 'Complete');
    }
    assert.equal(r.stats.total.n, 5);
    assert.ok(r.stats.total.median >= r.stats.dispatch.median);
    assert.match(formatReport(r), /queue -> crunch-run --detach on the VM\s+5\s/);
  });
});
