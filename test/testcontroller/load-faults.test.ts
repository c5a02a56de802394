/**
 * The test controller's load faults on a manual clock: a scheduled outage
 * (every request 503 for part of each period) and a request limiter (503
 * past N requests in flight, latency holding each admitted request), with
 * requests counted as served or refused by caller (the User-Agent).
 */
import assert from 'node:assert/strict';
import { ManualClock, settle } from '../../src/clock/index.js';
import { callerOf, type TestController } from '../../src/testcontroller/index.js';
import { call, startController } from './helpers.js';

const CURRENT = '/arvados/v1/api_client_authorizations/current';

describe('test controller: scheduled outages and a request limiter', () => {
  let ctl: TestController | undefined;
  let clock: ManualClock;
  beforeEach(() => {
    clock = new ManualClock();
  });
  afterEach(() => ctl?.stop());

  const get = async (agent = 'arvados-dispatch-cloud'): Promise<number> => (await call(ctl!, 'GET', CURRENT, { headers: { 'User-Agent': agent } })).status;

  it('is down for forMs of every everyMs, the first outage everyMs - forMs after it is set', async () => {
    ctl = await startController({ clock, outage: { everyMs: 10_000, forMs: 3000 } });
    const seen: number[] = [];
    for (let t = 0; t < 20_000; t += 1000) {
      seen.push(await get());
      await clock.advance(1000);
    }
    // Up for 7 s, down for 3 s, twice.
    assert.deepEqual(seen, [200, 200, 200, 200, 200, 200, 200, 503, 503, 503, 200, 200, 200, 200, 200, 200, 200, 503, 503, 503]);
    ctl.setOutage(undefined);
    await clock.advance(7000);
    assert.equal(await get(), 200, 'no outage once cleared');
    assert.deepEqual(ctl.requestCounts().total, { served: 15, refused: 6 });
  });

  it('refuses at once past maxConcurrentRequests in flight, while latency holds the admitted ones', async () => {
    ctl = await startController({ clock, maxConcurrentRequests: 2, latencyMs: 1000 });
    const held = [get('arvados-dispatch-cloud'), get('crunch-run (lame)')];
    // Wait until both are admitted and held by the latency.
    for (let i = 0; i < 1000 && clock.pendingTimers() < 2; i++) await settle(1);
    assert.equal(await get('crunch-run/2.7'), 503, 'a third is refused without waiting');
    await clock.advance(1000);
    assert.deepEqual(await Promise.all(held), [200, 200]);
    const counts = ctl.requestCounts();
    assert.deepEqual(counts.byCaller, {
      'arvados-dispatch-cloud': { served: 1, refused: 0 },
      'crunch-run': { served: 1, refused: 1 },
    });
    assert.deepEqual(counts.total, { served: 2, refused: 1 });
    assert.equal(counts.maxInFlight, 2);
    ctl.setMaxConcurrentRequests(0);
    ctl.setLatency(0);
    assert.equal(await get(), 200, 'no limit once cleared');
  });

  it('names a caller by the first product of its User-Agent', () => {
    assert.equal(callerOf('crunch-run (lame)'), 'crunch-run');
    assert.equal(callerOf('Arvados Go SDK'), 'Arvados');
    assert.equal(callerOf('arvados-dispatch-cloud/1.0'), 'arvados-dispatch-cloud');
    assert.equal(callerOf(undefined), 'unknown');
  });
});
