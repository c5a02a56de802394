/**
 * The dispatcher's history: what each series holds, how it is sampled on
 * the injected clock, and that it stays bounded.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { CapacityError, QuotaError, RateLimitError } from '../../src/cloud/errors.js';
import { HISTORY_GROUPS, HISTORY_INTERVAL_MS, HISTORY_SAMPLES, History } from '../../src/history/history.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { FakeHistorySources } from '../fixtures/history-sources.js';

const T0 = Date.UTC(2026, 10, 1, 10, 0);

function setup(opts: { intervalMs?: number; maxSamples?: number } = {}) {
  const clock = new ManualClock(T0);
  const fake = new FakeHistorySources();
  const logs = new LineCollector();
  const history = new History({ clock, sources: fake.sources(), logger: createLogger({ level: 'info', stream: logs }), ...opts });
  return { clock, fake, history, logs };
}

describe('history', () => {
  it('defaults to a sample every 30 s for 6 hours', () => {
    const { history } = setup();
    assert.equal(history.intervalMs, HISTORY_INTERVAL_MS);
    assert.equal(HISTORY_INTERVAL_MS, 30_000);
    assert.equal((HISTORY_SAMPLES * HISTORY_INTERVAL_MS) / 3_600_000, 6);
    assert.deepEqual(history.json().times, []);
  });

  it('samples at start and then every interval on the injected clock, until stopped', async () => {
    const { clock, history } = setup({ intervalMs: 10_000 });
    history.start();
    assert.deepEqual(history.json().times, [T0 / 1000]);
    await clock.advance(9_999);
    assert.equal(history.json().times.length, 1);
    await clock.advance(1);
    await clock.advance(10_000);
    assert.deepEqual(history.json().times, [T0 / 1000, T0 / 1000 + 10, T0 / 1000 + 20]);
    history.stop();
    await clock.advance(60_000);
    assert.equal(history.json().times.length, 3);
  });

  it('keeps at most maxSamples per series, dropping the oldest', async () => {
    const { clock, fake, history } = setup({ intervalMs: 1_000, maxSamples: 5 });
    history.start();
    for (let i = 1; i <= 12; i++) {
      fake.setContainers({ Queued: i });
      await clock.advance(1_000);
    }
    const h = history.json();
    assert.equal(h.max_samples, 5);
    assert.deepEqual(h.times, [8, 9, 10, 11, 12].map((s) => T0 / 1000 + s));
    assert.deepEqual(h.series.containers.Queued, [8, 9, 10, 11, 12]);
    for (const [group, labels] of Object.entries(h.series)) {
      for (const [label, values] of Object.entries(labels)) assert.equal(values.length, 5, `${group}.${label}`);
    }
  });

  it('holds VMs by the reference category and containers by queue state', () => {
    const { fake, history } = setup();
    fake.setVMs({ inuse: 3, idle: 2, booting: 1, hold: 4, unknown: 5 });
    fake.setContainers({ Queued: 7, Locked: 2, Running: 3 });
    history.sample();
    const s = history.json().series;
    assert.deepEqual(s.vms, { inuse: [3], hold: [4], booting: [1], unknown: [5], idle: [2] });
    assert.deepEqual(s.containers, { Queued: [7], Locked: [2], Running: [3] });
    assert.deepEqual(Object.keys(s), Object.keys(HISTORY_GROUPS));
  });

  it('holds the longest wait, the median wait of the containers started since the last sample, and the cost per hour', () => {
    const { fake, history } = setup();
    fake.longestWaitSeconds = 754.25;
    fake.costPerHour = 1.23456;
    for (const s of [30, 10, 600]) history.observePool({ type: 'crunchRunStarted', instanceId: 'i', containerUUID: 'c', sinceQueuedMs: s * 1000 });
    history.observePool({ type: 'probeRun', instanceId: 'i', outcome: 'success', durationMs: 99_000 });
    history.sample();
    history.sample();
    const s = history.json().series;
    assert.deepEqual(s.queue_wait_seconds, { longest: [754.3, 754.3], started_median: [30, null] });
    assert.deepEqual(s.cost_per_hour_dollars, { total: [1.2346, 1.2346] });
  });

  it('holds cloud errors by class and controller errors as rates per minute since the last sample, none for the first', async () => {
    const { clock, fake, history } = setup();
    history.observeCloud(new RateLimitError('throttled', 0));
    fake.requests = { ok: 50, overload: 3, failed: 1 };
    history.sample();
    history.observeCloud(undefined);
    history.observeCloud(new RateLimitError('throttled', 0));
    history.observeCloud(new QuotaError('quota'));
    history.observeCloud(new CapacityError('none left'));
    history.observeCloud(new CapacityError('none left'));
    history.observeCloud(new Error('other'));
    fake.requests = { ok: 90, overload: 9, failed: 1 };
    await clock.advance(30_000);
    history.sample();
    const s = history.json().series;
    assert.deepEqual(s.cloud_errors_per_minute, { rate_limit: [null, 2], quota: [null, 2], capacity: [null, 4], other: [null, 2] });
    assert.deepEqual(s.controller_errors_per_minute, { overload: [null, 12], failed: [null, 0] });
  });

  it('takes each rate over the time since the previous sample, none for two samples at the same instant, and never below 0', async () => {
    const { clock, fake, history } = setup();
    fake.requests = { ok: 0, overload: 2, failed: 0 };
    history.sample();
    fake.requests = { ok: 0, overload: 4, failed: 0 };
    await clock.advance(60_000);
    history.sample();
    fake.requests = { ok: 0, overload: 10, failed: 0 };
    await clock.advance(30_000);
    history.sample();
    fake.requests = { ok: 0, overload: 13, failed: 0 };
    history.sample();
    // The controller client's counts went back (a new client): no negative rate.
    fake.requests = { ok: 0, overload: 1, failed: 0 };
    await clock.advance(60_000);
    history.sample();
    assert.deepEqual(history.json().series.controller_errors_per_minute.overload, [null, 2, 12, null, 0]);
  });

  it('counts a start whose wait comes out negative (clocks that disagree) as no wait', () => {
    const { history } = setup();
    history.observePool({ type: 'crunchRunStarted', instanceId: 'i', containerUUID: 'c', sinceQueuedMs: -5_000 });
    history.sample();
    assert.deepEqual(history.json().series.queue_wait_seconds.started_median, [0]);
  });

  it('starts once: a second start takes no second sample and arms no second timer', async () => {
    const { clock, history } = setup({ intervalMs: 10_000 });
    history.start();
    history.start();
    await clock.advance(10_000);
    assert.deepEqual(history.json().times, [T0 / 1000, T0 / 1000 + 10]);
    history.stop();
  });

  it('refuses an interval that is not positive', () => {
    for (const intervalMs of [0, -1, Number.NaN]) assert.throws(() => setup({ intervalMs }), /^RangeError: history interval must be positive/);
  });

  it('skips a sample whose source throws, and says so once a minute', async () => {
    const { clock, fake, history, logs } = setup({ intervalMs: 10_000 });
    fake.broken = new Error('pool broke');
    history.start();
    await clock.advance(20_000);
    assert.deepEqual(history.json().times, []);
    assert.equal(logs.records().filter((l) => l.msg === 'history sample failed').length, 1);
    fake.broken = undefined;
    await clock.advance(10_000);
    assert.deepEqual(history.json().times, [T0 / 1000 + 30]);
    history.stop();
  });
});
