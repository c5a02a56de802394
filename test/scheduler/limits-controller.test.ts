/**
 * The concurrency limit's controller rows (the first table in
 * `src/scheduler/limits.ts`), one at a time, on a manual clock: outage,
 * an episode not judged yet, overload cuts and their spacing, regrowth
 * after the quiet period Q, and a client without signals.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { ConcurrencyLimit, MAX_QUIET_MS, MIN_QUIET_MS, quietPeriodMs } from '../../src/scheduler/limits.js';
import type { ControllerSignals } from '../../src/scheduler/interfaces.js';

const POLL_MS = 1000;
/** Q with a quick controller: 2 x PollInterval. */
const Q = 2 * POLL_MS;

describe('scheduler ConcurrencyLimit: outage and overload', () => {
  let clock: ManualClock;
  let l: ConcurrencyLimit;
  let sig: ControllerSignals;

  const observe = (running: number, last503 = 0, withSignals = true): void =>
    l.observe({ now: clock.now(), last503, signals: withSignals ? sig : undefined, running, totalInstances: running, atQuota: false });
  /** An episode of 503s ended by a success now: an overload verdict. */
  const overload = (): void => {
    sig = { ...sig, lastOverload: clock.now(), failingSince: 0, outage: false };
  };

  beforeEach(() => {
    clock = new ManualClock();
    l = new ConcurrencyLimit({ InitialQuotaEstimate: 0, MaxInstances: 20, SupervisorFraction: 0, PollInterval: POLL_MS });
    sig = { failingSince: 0, outage: false, lastOverload: 0, outageEnded: 0, lastAnswer: clock.now(), responseTimeMs: 20 };
  });

  it('Q is max(2 x PollInterval, 10 x response time), within 1 s and 60 s', () => {
    assert.equal(quietPeriodMs(1000, 20), 2000);
    assert.equal(quietPeriodMs(1000, 500), 5000, 'a slow controller gets longer');
    assert.equal(quietPeriodMs(0, 0), MIN_QUIET_MS);
    assert.equal(quietPeriodMs(60_000, 0), MAX_QUIET_MS);
  });

  it('outage: neither cut nor grown, whatever the 503s; the old limit holds when it ends', async () => {
    observe(20);
    assert.equal(l.maxContainers, 23);
    sig = { ...sig, failingSince: clock.now(), outage: true };
    await clock.advance(3000);
    observe(20, clock.now());
    assert.equal(l.state, 'outage');
    assert.equal(l.maxContainers, 23, 'no cut');
    observe(25, clock.now());
    assert.equal(l.maxContainers, 23, 'no growth either');
    sig = { ...sig, failingSince: 0, outage: false, outageEnded: clock.now() };
    observe(20, clock.now());
    assert.equal(l.state, 'normal');
    assert.equal(l.maxContainers, 23, 'back at once to the concurrency before the outage');
  });

  it('an episode not judged yet: unchanged, no growth', () => {
    observe(10);
    assert.equal(l.maxContainers, 20);
    sig = { ...sig, failingSince: clock.now() };
    observe(19, clock.now());
    assert.equal(l.maxContainers, 20, 'no cut before the verdict');
    assert.equal(l.state, 'normal');
  });

  it('overload: cut to floor(min(limit, running) x 0.75), not below 1', () => {
    observe(12);
    overload();
    observe(12);
    assert.equal(l.state, 'overload');
    assert.equal(l.maxContainers, 9, 'floor(12 x 0.75)');
    const one = new ConcurrencyLimit({ InitialQuotaEstimate: 0, MaxInstances: 20, SupervisorFraction: 0, PollInterval: POLL_MS });
    one.observe({ now: clock.now(), last503: 0, signals: sig, running: 1, totalInstances: 1, atQuota: false });
    assert.equal(one.maxContainers, 1, 'never below 1');
  });

  it('overload again: no second cut until Q has passed and running is down to the limit', async () => {
    overload();
    observe(12);
    assert.equal(l.maxContainers, 9);
    await clock.advance(500);
    overload();
    observe(9);
    assert.equal(l.maxContainers, 9, 'within Q of the last cut');
    await clock.advance(Q);
    overload();
    observe(11);
    assert.equal(l.maxContainers, 9, 'running 11 > limit 9: the last cut has not taken effect');
    observe(9);
    assert.equal(l.maxContainers, 6, 'floor(9 x 0.75)');
  });

  it('regrows after Q without overload, ~10% past the running containers at each pass', async () => {
    overload();
    observe(12);
    assert.equal(l.maxContainers, 9);
    await clock.advance(Q - 1);
    observe(9);
    assert.equal(l.maxContainers, 9, 'quiet for less than Q');
    assert.equal(l.state, 'overload');
    await clock.advance(1);
    observe(9);
    assert.equal(l.state, 'normal');
    assert.equal(l.maxContainers, 10, 'floor(9 x 1.1) + 1');
    observe(10);
    assert.equal(l.maxContainers, 12);
  });

  it('a slow controller gets a longer quiet period', async () => {
    sig = { ...sig, responseTimeMs: 600 };
    overload();
    observe(12);
    await clock.advance(Q);
    observe(9);
    assert.equal(l.maxContainers, 9, 'Q is 6 s at 600 ms a request');
    await clock.advance(6000 - Q);
    observe(9);
    assert.equal(l.maxContainers, 10);
  });

  it('without signals, each new 503 counts as overload', async () => {
    observe(12, 0, false);
    assert.equal(l.maxContainers, 20);
    observe(12, clock.now(), false);
    assert.equal(l.maxContainers, 9);
    assert.equal(l.last503Time, clock.now());
    await clock.advance(MIN_QUIET_MS);
    observe(9, l.last503Time, false);
    assert.equal(l.maxContainers, 9, 'Q is 2 x PollInterval');
    await clock.advance(Q - MIN_QUIET_MS);
    observe(9, l.last503Time, false);
    assert.equal(l.maxContainers, 10, 'regrown after Q');
  });
});
