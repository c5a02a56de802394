/**
 * What the pool tells the cost ledger: every VM from its create call (under
 * its placeholder id, then its own), at its price history's current point
 * when the driver has one, until a destroy call for it succeeds.
 */
import assert from 'node:assert/strict';
import { CostTracker } from '../../src/cost/tracker.js';
import { Harness } from './helpers.js';

describe('pool cost snapshot', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  it('shows a create in flight under its placeholder, then the instance with that placeholder as its pendingId', async () => {
    h = await Harness.start({ controller: false });
    const small = h.cluster.InstanceTypes.small!;
    const view = h.pool.create(small);
    assert.ok(view);
    assert.deepEqual(h.pool.costSnapshot(), [{ id: view.instance, instanceType: 'small', preemptible: false, pricePerHour: small.Price, containers: [], placeholder: true }]);
    await h.tick(0);
    const [vm] = h.pool.costSnapshot();
    assert.ok(vm && !vm.id.startsWith('pending-'), JSON.stringify(vm));
    assert.equal(vm.pendingId, view.instance);
    assert.equal(vm.pricePerHour, small.Price, 'no price history: the configured price');
  });

  it('prices a VM at its price history\'s current point, and stops charging once its destroy call succeeded', async () => {
    let tracker: CostTracker | undefined;
    // As the dispatcher wires it: a successful destroy is observed at once.
    const onEvent = (e: { type: string }): void => {
      if (e.type === 'instanceDestroyed') tracker?.sync();
    };
    h = await Harness.start({ controller: false, priceHistory: () => [{ startTime: 0, price: 0.031 }], onEvent });
    h.pool.start();
    tracker = new CostTracker(h.pool, h.clock);
    tracker.start();
    const id = await h.createIdle();
    // Held, so TimeoutIdle does not end it before the test does.
    await h.pool.setIdleBehavior(id, 'hold');
    assert.equal(h.pool.costSnapshot().find((v) => v.id === id)?.pricePerHour, 0.031);
    await h.tick(3_600_000);
    const before = tracker.read().vm(id)!.dollars;
    assert.ok(before > 0.031 * 0.99 && before < 0.031 * 1.01, `${before}`);
    h.pool.killInstance(id, 'test');
    await h.tick(0);
    assert.equal(h.pool.costSnapshot().some((v) => v.id === id), false, 'destroyed: no longer billed');
    await h.tick(3_600_000);
    tracker.stop();
    const ledger = tracker.read();
    assert.ok(Math.abs(ledger.vm(id)!.dollars - before) < 1e-6, 'nothing charged after the destroy');
    assert.equal(ledger.costPerHour(), 0);
  });
});
