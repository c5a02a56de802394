/**
 * What a simulated run leaves alive once it is over. The suggester runs a
 * simulation for every suggestion inside the daemon, so anything a run
 * leaves reachable (a process-wide hook holding its dispatcher, say) grows
 * the daemon's heap without bound. Collection is checked with WeakRefs and
 * V8's gc (`test/gc.ts`).
 */
import assert from 'node:assert/strict';
import { runSimulation } from '../../src/sim/engine.js';
import type { SimResult } from '../../src/sim/result.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { collected } from '../gc.js';
import { simConfig, TRACE } from './helpers.js';

/** Runs the trace (with a dispatcher restart when `restartAt` is given) and returns the result and a WeakRef to the run's controller. */
async function run(restartAt?: number): Promise<{ result: SimResult; controller: WeakRef<object> }> {
  let controller: WeakRef<object> | undefined;
  const result = await runSimulation({
    cluster: simConfig(),
    workload: parseWorkload(TRACE),
    ...(restartAt !== undefined ? { restartsAt: [restartAt] } : {}),
    setup: (w) => {
      controller = new WeakRef(w.controller);
    },
  });
  return { result, controller: controller! };
}

describe('simulator memory', function () {
  this.timeout(60_000);

  it('leaves nothing of a run alive once its result is dropped', async () => {
    const { controller } = await run();
    assert.ok(await collected(controller), 'the simulated controller is still reachable after the run');
  });

  it('keeps only figures in the result: no stopped dispatcher, through it no world', async () => {
    const { result, controller } = await run(60_000);
    assert.equal(result.restarts, 1);
    assert.ok(await collected(controller), 'the result keeps the simulated world alive (through a dispatcher it kept)');
    assert.ok(result.costLedgers.length === 2 && result.costLedgers.every((l) => l.totalDollars() > 0));
  });
});
