/**
 * What the pass does to free money for a container the spending cap holds
 * under SpendingCap.HighPriorityFirst (`freeMoneyForHeld`), on object-literal
 * slots: which VMs that run nothing are shut down, and how many.
 */
import assert from 'node:assert/strict';
import { createLogger, LineCollector, silentLogger } from '../../src/log.js';
import { ManualClock } from '../../src/clock/manual.js';
import { freeMoneyForHeld } from '../../src/placement/spending-cap-pass.js';
import type { IdleBehavior, InstanceView, WorkerState } from '../../src/scheduler/interfaces.js';
import type { Slot } from '../../src/scheduler/slots.js';
import { testCluster } from '../scheduler/fakes.js';

const type2 = testCluster({ types: [2] }).InstanceTypes.type2;

/** A slot of the pass: an instance that runs nothing, at `price` $/h. */
function emptySlot(id: string, price: number, workerState: WorkerState = 'idle', idleBehavior: IdleBehavior = 'run'): Slot {
  const view: InstanceView = { instance: id, address: '', price, arvadosInstanceType: 'type2', providerInstanceType: 'type2', lastContainerUUID: '', lastBusy: 0, runningContainerUUIDs: [], workerState, idleBehavior };
  return { view, type: type2, free: { vcpus: 2, ram: 2 ** 31, scratch: 0, gpus: 0, gpuVRAM: 0 }, rank: 0 };
}

/** A pool that records the shutdowns it is asked for. */
function recordingPool(): { shutdowns: string[]; shutdown(id: string): boolean } {
  const pool = {
    shutdowns: [] as string[],
    shutdown(id: string): boolean {
      pool.shutdowns.push(id);
      return true;
    },
  };
  return pool;
}

describe('spending cap: freeing money for a held container', () => {
  it('counts a VM already shutting down as money freed: no more empty VMs are shut down while it goes', () => {
    const pool = recordingPool();
    const slots = [emptySlot('i-going', 0.5, 'shutdown'), emptySlot('i-a', 0.3), emptySlot('i-b', 0.4)];
    assert.equal(freeMoneyForHeld(pool, silentLogger(), slots, 0.5), 0);
    assert.deepEqual(pool.shutdowns, []);
    assert.equal(freeMoneyForHeld(pool, silentLogger(), slots, 0.8), 1, '0.3 more is needed: one empty VM');
    assert.deepEqual(pool.shutdowns, ['i-b']);
  });

  it('leaves alone an empty VM another feature keeps (locality holds it for a container)', () => {
    const pool = recordingPool();
    const slots = [emptySlot('i-warm', 0.5), emptySlot('i-a', 0.3)];
    assert.equal(freeMoneyForHeld(pool, silentLogger(), slots, 0.5, new Set(['i-warm'])), 1);
    assert.deepEqual(pool.shutdowns, ['i-a']);
  });

  it('shuts down the dearest empty VMs first, so that as few as possible go', () => {
    const pool = recordingPool();
    const slots = [emptySlot('i-1', 0.1), emptySlot('i-2', 0.1), emptySlot('i-3', 0.1), emptySlot('i-4', 0.1), emptySlot('i-big', 0.5)];
    assert.equal(freeMoneyForHeld(pool, silentLogger(), slots, 0.4), 1);
    assert.deepEqual(pool.shutdowns, ['i-big']);
  });

  it('never shuts down an empty VM an operator holds or drains', () => {
    const pool = recordingPool();
    const slots = [emptySlot('i-held', 0.5, 'idle', 'hold'), emptySlot('i-drained', 0.5, 'idle', 'drain'), emptySlot('i-a', 0.3)];
    assert.equal(freeMoneyForHeld(pool, silentLogger(), slots, 0.5), 1);
    assert.deepEqual(pool.shutdowns, ['i-a']);
  });

  it('an empty VM the pool refuses to shut down (it took work since the pass looked) frees nothing: the next one goes instead, and only that one is logged', () => {
    const asked: string[] = [];
    const pool = {
      shutdown(id: string): boolean {
        asked.push(id);
        return id !== 'i-busy';
      },
    };
    const lines = new LineCollector();
    const logger = createLogger({ stream: lines, clock: new ManualClock() });
    const slots = [emptySlot('i-busy', 0.5), emptySlot('i-a', 0.4), emptySlot('i-b', 0.3)];
    assert.equal(freeMoneyForHeld(pool, logger, slots, 0.4), 1);
    assert.deepEqual(asked, ['i-busy', 'i-a']);
    assert.deepEqual(
      lines.records().map((r) => r.Instance),
      ['i-a'],
    );
  });

  it('stops as soon as exactly the money needed is freed', () => {
    const pool = recordingPool();
    const slots = [emptySlot('i-a', 0.5), emptySlot('i-b', 0.25)];
    assert.equal(freeMoneyForHeld(pool, silentLogger(), slots, 0.5), 1);
    assert.deepEqual(pool.shutdowns, ['i-a']);
  });
});
