/**
 * The dispatch latency benchmark's measurements on a few containers: the real
 * dispatcher, the lame cloud over SSH and the test controller (with its event
 * feed, or not), so this shows that every timestamp is taken, in the order the
 * dispatch happens, that with the feed the queue sees containers without a
 * poll, that the request counts add up, and that each run cleans up after itself.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_OPTIONS,
  DEFAULT_RATE_OPTIONS,
  formatComparison,
  formatRates,
  formatReport,
  measureDispatchLatency,
  measureRequestRate,
  type Sample,
} from '../../bench/dispatch-latency.js';

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
    assert.equal(r.viaFeed, 0);
    assert.match(formatReport(r), /queue -> crunch-run --detach on the VM\s+5\s/);
  });

  it('with the event feed and polls an hour apart, sees every container through the feed', async () => {
    const r = await measureDispatchLatency({
      ...DEFAULT_OPTIONS,
      feed: true,
      containers: 5,
      pollIntervalMs: 3_600_000,
      vms: 5,
      gapMs: 250,
      warmup: 0,
      runTimeMs: 200,
      logPath,
      logLevel: 'warn',
      deadlineMs: 50_000,
    });
    assert.deepEqual(r.problems, []);
    assert.equal(r.idleSamples, 5, JSON.stringify(r.flagged));
    assert.equal(r.viaFeed, 5);
    assert.ok(r.samples.every((s) => s.via === 'feed' && s.pollBegan === undefined));
    assert.equal(r.stats.toPollStart.n, 0);
    assert.equal(r.stats.total.n, 5);
    assert.match(formatComparison([r]), /with the event feed\s+3600 s\s+5\s/);
  });

  it('counts the dispatcher\'s requests by kind while containers arrive steadily', async () => {
    const r = await measureRequestRate({
      ...DEFAULT_RATE_OPTIONS,
      feed: true,
      perSecond: 5,
      durationMs: 3000,
      warmMs: 1000,
      vms: 2,
      vmVCPUs: 4,
      runTimeMs: 200,
      logPath,
      logLevel: 'warn',
    });
    assert.deepEqual(r.problems, []);
    assert.equal(r.completed, r.submitted);
    assert.ok(r.arrivalsPerSecond > 3 && r.arrivalsPerSecond < 7, `arrivals ${r.arrivalsPerSecond}/s`);
    // Each new container is read once by uuid, through the feed, as it arrives.
    assert.ok(Math.abs(r.perSecond.details - r.arrivalsPerSecond) <= 1.5, `details ${r.perSecond.details}/s vs arrivals ${r.arrivalsPerSecond}/s`);
    assert.ok(r.refreshesPerSecond > 0 && r.feedEventsPerSecond > 0);
    const sum = Object.values(r.perSecond).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - r.dispatcherPerSecond) < 1e-9);
    assert.match(formatRates([r]), /dispatcher, all\s+\d+\.\d\d/);
  });
});
