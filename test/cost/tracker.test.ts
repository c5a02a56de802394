/** The cost tracker: when it observes the pool, and that coalescing a burst of changes charges the same. */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/manual.js';
import type { CostVm } from '../../src/cost/ledger.js';
import { CostTracker, type CostSource } from '../../src/cost/tracker.js';

/** A pool as the tracker sees it: a list of VMs the test edits, a listener, and a count of snapshots taken. */
function fakePool(): CostSource & { vms: CostVm[]; snapshots: number; change(): void } {
  let listener: (() => void) | undefined;
  const p = {
    vms: [] as CostVm[],
    snapshots: 0,
    costSnapshot(): CostVm[] {
      p.snapshots++;
      return p.vms.map((v) => ({ ...v }));
    },
    subscribe(l: () => void): () => void {
      listener = l;
      return () => {
        listener = undefined;
      };
    },
    change(): void {
      listener?.();
    },
  };
  return p;
}

/** One turn of the event loop: what the tracker waits before it observes. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A tracker started on a fake pool with no VM, on a manual clock. */
function started(): { clock: ManualClock; pool: ReturnType<typeof fakePool>; tracker: CostTracker } {
  const clock = new ManualClock();
  const pool = fakePool();
  const tracker = new CostTracker(pool, clock);
  tracker.start();
  return { clock, pool, tracker };
}

const vm = (id: string, containers: string[] = []): CostVm => ({ id, instanceType: 't', preemptible: false, pricePerHour: 3.6, containers });

describe('CostTracker', () => {
  it("observes a burst of pool changes once, at the end of the event loop's turn", async () => {
    const { clock, pool, tracker } = started();
    assert.equal(pool.snapshots, 1, 'one observation at the start');
    for (let i = 0; i < 10; i++) {
      pool.vms.push(vm(`i-${i}`));
      pool.change();
      // As starts answering one after another: each change in its own promise continuation.
      await Promise.resolve();
    }
    assert.equal(pool.snapshots, 1, 'not during the burst');
    await turn();
    assert.equal(pool.snapshots, 2, 'one observation for the ten changes');
    await clock.advance(1_000);
    assert.ok(Math.abs(tracker.read().costPerHour() - 36) < 1e-9, 'all ten VMs are charged');
    assert.ok(Math.abs(tracker.read().vm('i-9')!.dollars - 0.001) < 1e-9, `a second of one VM: ${tracker.read().vm('i-9')!.dollars}`);
    tracker.stop();
  });

  it('a read right after a change, before the deferred observation, observes at once', async () => {
    const { pool, tracker } = started();
    pool.vms.push(vm('i-1', ['zzzzz-dz642-000000000000001']));
    pool.change();
    assert.equal(tracker.read().costPerHour(), 3.6, 'the new VM is seen by a read in the same moment');
    assert.equal(pool.snapshots, 2);
    await turn();
    assert.equal(pool.snapshots, 2, 'the read covered the change: no second observation');
    assert.equal(tracker.read().costPerHour(), 3.6);
    assert.equal(pool.snapshots, 2, 'a read within a second of an observation, with no change since, takes the ledger as it is');
    tracker.stop();
  });

  it('a change pending at the stop is observed by the stop, and not again after it', async () => {
    const { pool, tracker } = started();
    pool.vms.push(vm('i-1'));
    pool.change();
    tracker.stop();
    const taken = pool.snapshots;
    await turn();
    assert.equal(pool.snapshots, taken, 'the pending observation is dropped');
    assert.equal(tracker.read().costPerHour(), 3.6, 'the stop observed the change');
  });
});
