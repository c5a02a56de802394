/**
 * The dispatcher's own wiring (src/dispatcher.ts), on the manual stack:
 * started once, stopped once however often stop() is called, and what its
 * metrics make of the estimator's figures.
 */
import assert from 'node:assert/strict';
import { ManualStack } from './fixtures/manual-stack.js';
import { parseProm, promValue } from './http/helpers.js';

describe('dispatcher start and stop', function () {
  this.timeout(20_000);
  let stack: ManualStack;
  beforeEach(() => {
    stack = new ManualStack();
  });
  afterEach(() => stack.close());

  it('refuses a second start(): every loop would run twice', async () => {
    const d = await stack.start();
    assert.throws(() => d.start(), /dispatcher already started/);
    assert.equal(stack.logs.records().filter((r) => r.msg === 'dispatcher starting').length, 1);
  });

  it('stop() called again (the supervisor and the daemon both stop it) stops once and answers with the same promise', async () => {
    const d = await stack.start();
    await stack.run(1_000);
    const first = d.stop();
    const second = d.stop();
    assert.equal(second, first);
    await stack.stopDispatcher();
    await d.stop();
    assert.equal(stack.logs.records().filter((r) => r.msg === 'dispatcher stopped').length, 1);
  });

  it("stop() stops the cloud driver's instance set and closes the controller client (their timers and sockets would hold the process open)", async () => {
    const calls: string[] = [];
    await stack.start({
      beforeStart: (d) => {
        const stopSet = d.instanceSet.stop.bind(d.instanceSet);
        d.instanceSet.stop = () => {
          calls.push('instanceSet.stop');
          stopSet();
        };
        const close = d.client.close.bind(d.client);
        d.client.close = () => {
          calls.push('client.close');
          close();
        };
      },
    });
    await stack.run(1_000);
    await stack.stopDispatcher();
    assert.deepEqual(calls, ['instanceSet.stop', 'client.close']);
  });

  it("estimated_wait_seconds: per cheapest type, the median of the containers' finite estimates, one in the past counting as 0", async () => {
    const uuids = Array.from({ length: 6 }, () => stack.controller.addContainer().uuid!);
    const d = await stack.start();
    await stack.run(1_000);
    const type = d.queue.entries().entries.get(uuids[0]!)?.instanceTypes[0]?.Name;
    assert.ok(type !== undefined && uuids.every((u) => d.queue.entries().entries.get(u)?.instanceTypes[0]?.Name === type), 'the queue has them, all of one cheapest type');
    const now = stack.clock.now();
    const typical = new Float64Array([now + 300_000, now + 60_000, Infinity, now + 120_000, now - 5_000, now + 90_000]);
    d.estimator.snapshot = () => ({ at: now, size: uuids.length, uuid: (i: number) => uuids[i]!, low: typical, typical, high: typical, naive: typical });
    const s = parseProm(await d.metrics.text());
    // Finite: 300, 60, 120, 0 (past), 90 s; sorted, the middle one is 90.
    assert.equal(promValue(s, 'arvados_dispatchcloud_estimated_wait_seconds', { instance_type: type }), 90);
  });
});
