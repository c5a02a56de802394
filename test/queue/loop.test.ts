/**
 * The queue's poll loop on a manual clock: every PollInterval, or as slowly
 * as the controller answers; failures logged (rate-limited) and retried at
 * the next interval; `stop()` ends the wait at once.
 */
import assert from 'node:assert/strict';
import { DEFAULT_RETRY } from '../../src/arvados/client.js';
import { started, waitFor } from '../arvados/helpers.js';
import { harness, type Harness } from './helpers.js';

const LIST = 'GET /arvados/v1/containers';

describe('container queue poll loop', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  /** Each idle poll makes two list requests (our locks, the queued ones), each answered empty. */
  const lists = () => started(h.ctl, LIST);

  /**
   * Waits until the loop sleeps (its timer the only one: no request in
   * flight, whose time limit is 600 s), and returns when it will wake.
   */
  async function sleepingUntil(): Promise<number> {
    let at: number | undefined;
    await waitFor('the loop to sleep', () => {
      at = h.clock.nextTimerAt();
      return at !== undefined && at < h.clock.now() + 600_000 && h.clock.pendingTimers() === 1;
    });
    return at!;
  }

  it('polls every PollInterval', async () => {
    h = await harness();
    const t0 = h.clock.now();
    h.queue.start();
    assert.equal(await sleepingUntil(), t0 + 10_000);
    assert.equal(lists(), 2);
    await h.clock.advance(9_999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(lists(), 2, 'not yet');
    await h.clock.advance(1);
    assert.equal(await sleepingUntil(), t0 + 20_000);
    assert.equal(lists(), 4);
    assert.equal(h.queue.entries().updated, t0 + 10_000);
  });

  it('waits as long as the last poll took when the controller is slower than PollInterval', async () => {
    h = await harness();
    await h.queue.update(); // learn the token uuid first, so a poll is two requests
    h.ctl.setLatency(15_000);
    const t0 = h.clock.now();
    h.queue.start();
    await waitFor('the first list request', () => lists() === 3);
    await h.clock.advance(15_000);
    await waitFor('the second list request', () => lists() === 4);
    await h.clock.advance(15_000);
    // The poll took 30 s: the next waits 30 s, not 10 s.
    assert.equal(await sleepingUntil(), t0 + 60_000);
    h.ctl.setLatency(0);
    await h.clock.advance(29_999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(lists(), 4);
    await h.clock.advance(1);
    // A quick poll again: back to PollInterval.
    assert.equal(await sleepingUntil(), t0 + 70_000);
  });

  it('logs failures (rate-limited) and tries again at the next interval, with no retry of a 503 in between', async () => {
    // The client's own retry settings, but for the time limit (see sleepingUntil).
    h = await harness({ retry: { ...DEFAULT_RETRY, requestTimeoutMs: 600_000 } });
    h.ctl.fail503(3);
    const t0 = h.clock.now();
    h.queue.start();
    assert.equal(await sleepingUntil(), t0 + 10_000);
    await h.clock.advance(10_000);
    assert.equal(await sleepingUntil(), t0 + 20_000);
    await h.clock.advance(10_000);
    assert.equal(await sleepingUntil(), t0 + 30_000);
    const failures = h.lines.records().filter((r) => r.msg === 'error updating queue');
    assert.equal(failures.length, 1, 'three failures within a minute: one line');
    // The reference's message and level, so log alerts written for it match.
    assert.equal(failures[0].level, 'error');
    assert.match(String(failures[0].error), /HTTP 503/);
    await h.clock.advance(10_000);
    assert.equal(await sleepingUntil(), t0 + 40_000);
    assert.ok(h.ctl.requestLog().some((r) => r.status === 200), 'recovered');
    assert.equal(h.ctl.requestLog().filter((r) => r.status === 503).length, 3, 'one request per failed poll');
    assert.equal(h.queue.entries().updated, t0 + 30_000);
  });

  it('tries a poll that timed out again at the next PollInterval, not after waiting as long as it took', async () => {
    h = await harness({ retry: { attempts: 1, requestTimeoutMs: 30_000 } });
    await h.queue.update(); // learn the token uuid first
    h.ctl.setLatency(60_000);
    const t0 = h.clock.now();
    h.queue.start();
    await waitFor('the first list request', () => lists() === 3);
    await h.clock.advance(30_000);
    // The abandoned request is still held by the controller (a timer at t0 + 60 s): look at the earliest.
    await waitFor('the loop to sleep 10 s after the timeout', () => h.clock.nextTimerAt() === t0 + 40_000);
    h.ctl.setLatency(0);
    await h.clock.advance(10_000);
    await waitFor('a quick poll, then PollInterval again', () => h.clock.nextTimerAt() === t0 + 50_000);
    assert.equal(lists(), 5, 'the timed-out request, then a whole poll of two');
  });

  it('stops at once, while sleeping or while a poll is in flight, leaving no timer', async () => {
    h = await harness();
    h.queue.start();
    await sleepingUntil();
    await h.queue.stop();
    assert.equal(h.clock.pendingTimers(), 0);

    h.ctl.setLatency(60_000);
    h.queue.start();
    await waitFor('a request in flight', () => lists() === 3);
    await h.queue.stop();
    assert.throws(() => {
      h.queue.start();
      h.queue.start();
    }, /already started/);
  });
});
