/**
 * The controller health tracker, one row of its table at a time, on a
 * manual clock: outage, overload, a blip, and requests sent before the
 * trouble whose success says nothing.
 */
import assert from 'node:assert/strict';
import { ControllerHealthTracker, LONE_MS, OUTAGE_AFTER_MS, outcomeOfStatus } from '../../src/arvados/health.js';
import { ManualClock } from '../../src/clock/index.js';

describe('ControllerHealthTracker', async () => {
  let clock: ManualClock;
  let h: ControllerHealthTracker;
  /** A request sent `tookMs` ago whose outcome comes back now. */
  const answer = (status: number | 'network', tookMs = 10): void => {
    const sentAt = clock.now() - tookMs;
    if (status === 'network') h.record('failed', sentAt);
    else h.record(outcomeOfStatus(status), sentAt, status);
  };
  const step = (ms: number): Promise<void> => clock.advance(ms);

  beforeEach(() => {
    clock = new ManualClock();
    h = new ControllerHealthTracker(clock);
  });

  it('sorts statuses into answered, overload and failed', async () => {
    assert.deepEqual([200, 404, 422, 500].map(outcomeOfStatus), ['ok', 'ok', 'ok', 'ok']);
    assert.deepEqual([503, 429].map(outcomeOfStatus), ['overload', 'overload']);
    assert.deepEqual([502, 504, 408].map(outcomeOfStatus), ['failed', 'failed', 'failed']);
  });

  it('is quiet while the controller answers, and averages its response time', async () => {
    answer(200, 100);
    answer(200, 200);
    const s = h.signals();
    assert.deepEqual({ ...s, responseTimeMs: Math.round(s.responseTimeMs) }, {
      failingSince: 0,
      outage: false,
      lastOverload: 0,
      outageEnded: 0,
      lastAnswer: clock.now(),
      responseTimeMs: 120,
    });
  });

  it('row 1: every request failing for OUTAGE_AFTER_MS is an outage while it lasts', async () => {
    answer(200);
    const t = clock.now();
    answer(503);
    assert.equal(h.signals().failingSince, t);
    await step(OUTAGE_AFTER_MS);
    assert.equal(h.signals().outage, false, 'no failure since the first: nothing known of the time between');
    answer('network');
    assert.equal(h.signals().outage, true);
    assert.equal(h.last503(), t);
  });

  it('row 3: a burst of 503s, seconds without a request, then a success: overload, not an outage', async () => {
    answer(503);
    answer(503);
    await step(5000);
    assert.equal(h.signals().outage, false);
    answer(200);
    assert.equal(h.signals().lastOverload, clock.now());
    assert.equal(h.signals().outageEnded, 0);
  });

  it('row 2: an outage that ends is not overload', async () => {
    answer(503);
    await step(OUTAGE_AFTER_MS);
    answer(503);
    await step(1000);
    answer(200);
    const s = h.signals();
    assert.equal(s.outage, false);
    assert.equal(s.failingSince, 0);
    assert.equal(s.outageEnded, clock.now());
    assert.equal(s.lastOverload, 0);
  });

  it('row 3: 503s followed soon by a success of a later request are overload', async () => {
    answer(503);
    answer(429);
    await step(100);
    answer(200, 50);
    const s = h.signals();
    assert.equal(s.lastOverload, clock.now());
    assert.equal(s.failingSince, 0);
    assert.equal(s.outageEnded, 0);
  });

  it('rows 4 and 5: one lone 503 is nothing yet; a second within LONE_MS is overload', async () => {
    answer(503);
    await step(100);
    answer(200, 50);
    assert.equal(h.signals().lastOverload, 0, 'a lone 503: maybe a short outage between two requests');
    await step(LONE_MS + 1);
    answer(503);
    answer(200, 0);
    assert.equal(h.signals().lastOverload, 0, 'too long after the first');
    await step(LONE_MS);
    answer(503);
    answer(200, 0);
    assert.equal(h.signals().lastOverload, clock.now());
  });

  it('a lone 503 is overload only when another comes within 6 s of it', async () => {
    const lone503ThenAnother = async (gapMs: number): Promise<number> => {
      const tracker = new ControllerHealthTracker(clock);
      tracker.record('overload', clock.now(), 503);
      tracker.record('ok', clock.now(), 200);
      await step(gapMs);
      tracker.record('overload', clock.now(), 503);
      tracker.record('ok', clock.now(), 200);
      return tracker.signals().lastOverload;
    };
    assert.equal(await lone503ThenAnother(6000), clock.now(), 'a second 503 6 s after the first: overload');
    assert.equal(await lone503ThenAnother(6001), 0, 'a second 503 just over 6 s after the first: not overload');
  });

  it('row 3: a success of a request sent before the 503s does not end the episode', async () => {
    answer(503);
    answer(503);
    const t = clock.now();
    await step(100);
    answer(200, 500);
    assert.equal(h.signals().failingSince, t, 'still failing');
    assert.equal(h.signals().lastOverload, 0);
  });

  it('row 6: network errors and 502s that end quickly are a blip: neither outage nor overload', async () => {
    answer('network');
    answer(502);
    await step(500);
    answer(200, 100);
    const s = h.signals();
    assert.deepEqual([s.failingSince, s.lastOverload, s.outageEnded, s.outage], [0, 0, 0, false]);
    assert.deepEqual(h.counts, { ok: 1, overload: 0, failed: 2 });
  });

  it('starts counting lone 503s again after an overload verdict: the next lone one is the first', async () => {
    answer(503);
    answer(200, 0);
    await step(100);
    answer(503);
    answer(200, 0);
    const verdict = clock.now();
    assert.equal(h.signals().lastOverload, verdict);
    await step(100);
    answer(503);
    answer(200, 0);
    assert.equal(h.signals().lastOverload, verdict, 'a lone 503 after the verdict is nothing yet');
  });

  it('keeps last503 for 503s: a 429 is overload, but not a 503 (the last_503_time metric)', async () => {
    answer(503);
    const at = clock.now();
    await step(100);
    answer(429);
    assert.equal(h.last503(), at);
  });
});
