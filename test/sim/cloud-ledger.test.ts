/**
 * The simulator's cloud ledger (src/sim/cloud.ts) over a hand-made instance
 * set: a VM is paid for from the moment its create call went out to the
 * first destroy that succeeded, and each failed call is counted by its
 * error's name.
 */
import assert from 'node:assert/strict';
import type { Clock } from '../../src/clock/index.js';
import { QuotaError } from '../../src/cloud/errors.js';
import type { Instance, InstanceSet } from '../../src/cloud/types.js';
import type { InstanceType } from '../../src/config/types.js';
import { CloudLedger } from '../../src/sim/cloud.js';

const SMALL = { Name: 'small', Price: 0.5 } as InstanceType;

function handClock(): Clock & { set(ms: number): void } {
  let now = 0;
  return { now: () => now, set: (ms: number) => (now = ms) } as unknown as Clock & { set(ms: number): void };
}

describe('simulator cloud ledger', () => {
  it('dates a VM from its create call, not from the answer, and to the first destroy that succeeded', async () => {
    const clock = handClock();
    const ledger = new CloudLedger(clock);
    let destroyFails = 1;
    const vm = {
      id: 'i-1',
      destroy: async () => {
        if (destroyFails-- > 0) throw new Error('destroy failed');
        clock.set(9000);
      },
    } as unknown as Instance;
    const inner = {
      create: async () => {
        clock.set(1000); // the provider took a second to answer
        return vm;
      },
      instances: async () => [vm],
      stop: () => {},
    } as unknown as InstanceSet;
    const set = ledger.wrap(inner);
    clock.set(500);
    const created = await set.create(SMALL, 'img', {}, '', 'key');
    assert.deepEqual(ledger.vms.get('i-1'), { id: 'i-1', type: 'small', price: 0.5, createdAt: 500 });
    assert.equal(ledger.liveCount, 1);
    clock.set(5000);
    await assert.rejects(created.destroy(), /destroy failed/);
    assert.equal(ledger.vms.get('i-1')!.destroyedAt, undefined, 'a failed destroy leaves it paid for');
    assert.equal(ledger.liveCount, 1);
    await created.destroy();
    assert.equal(ledger.vms.get('i-1')!.destroyedAt, 9000);
    assert.equal(ledger.liveCount, 0);
    // Destroyed again (through a listed copy), or taken back by the provider after: counted once.
    clock.set(12_000);
    await (await set.instances({}))[0].destroy();
    ledger.destroyed('i-1');
    assert.equal(ledger.vms.get('i-1')!.destroyedAt, 9000);
    assert.equal(ledger.liveCount, 0);
    assert.deepEqual(ledger.calls.destroy, { calls: 3, errors: { Error: 1 } });
  });

  it("counts failed calls by the error's name, and a thrown non-error by its type", async () => {
    const ledger = new CloudLedger(handClock());
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    for (const err of [new QuotaError('quota'), throttled, throttled, 'a string']) {
      await assert.rejects(ledger.track('create', () => Promise.reject(err)));
    }
    assert.deepEqual(ledger.calls.create, { calls: 4, errors: { QuotaError: 1, ThrottlingException: 2, string: 1 } });
  });
});
