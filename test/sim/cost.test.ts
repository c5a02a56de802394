/**
 * The dispatcher's cost ledger against the simulator's own bill: the
 * simulator records each VM from its create call to its first successful
 * destroy (`src/sim/cloud.ts`); the ledger charges it from the create call
 * until the pool no longer lists it, so the two agree to within a listing's
 * delay, well under a cent per run here.
 */
import assert from 'node:assert/strict';
import { runSimulation } from '../../src/sim/engine.js';
import type { SimResult } from '../../src/sim/result.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig, TRACE } from './helpers.js';

const HOUR = 3_600_000;

describe('cost ledger in the simulator', function () {
  this.timeout(30_000);
  let result: SimResult;
  before(async () => {
    result = await runSimulation({ cluster: simConfig(), workload: parseWorkload(TRACE) });
  });

  it('charges every VM what the simulated cloud billed, within a cent, and containers no more than their VMs', () => {
    assert.equal(result.finished, true);
    assert.equal(result.costLedgers.length, 1);
    const ledger = result.costLedgers[0]!;
    let billed = 0;
    for (const life of result.ledger.vms.values()) {
      const bill = (life.price * (life.destroyedAt! - life.createdAt)) / HOUR;
      billed += bill;
      const charged = ledger.vm(life.id);
      assert.ok(charged, `${life.id} is in the ledger`);
      assert.equal(charged.instanceType, life.type);
      assert.ok(Math.abs(charged.dollars - bill) < 0.01, `${life.id}: ledger ${charged.dollars} vs bill ${bill}`);
      assert.ok(charged.dollars >= bill - 1e-9, 'the ledger ends a VM when it is gone, not before its destroy');
    }
    assert.ok(billed > 0);
    assert.ok(Math.abs(ledger.totalDollars() - billed) < 0.01, `ledger ${ledger.totalDollars()} vs bill ${billed}`);
    const spentByContainers = result.containers.reduce((s, c) => s + (c.uuid ? (ledger.container(c.uuid)?.dollars ?? 0) : 0), 0);
    assert.ok(spentByContainers > 0 && spentByContainers <= ledger.totalDollars() + 1e-9, `containers ${spentByContainers}`);
    // Every container that ran was charged something.
    for (const c of result.containers) if (c.runningAt !== undefined) assert.ok((ledger.container(c.uuid!)?.dollars ?? 0) > 0, c.id);
  });
});
