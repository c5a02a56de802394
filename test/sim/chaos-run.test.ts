/**
 * The simulated chaos run, small: the scenario of `npm run bench:chaos`
 * (src/sim/chaos.ts) with 500 containers over three hours and a fixed seed
 * (every fault still happens several times: 250-400 failed creates, dozens of
 * VMs that never boot, five restarts); and a smaller run played twice to show
 * that a seed repeats a run exactly. The bench runs the 10,000-container day.
 */
import assert from 'node:assert/strict';
import { type ChaosOutcome, runChaos } from '../../src/sim/chaos.js';
import { formatChaosFigures } from '../../src/sim/chaos-format.js';

const OPTIONS = { containers: 500, spanMs: 3 * 3_600_000, seed: 4242, maxInstances: 24, quota: 20 };
/** Two plays of this one must agree event for event. */
const REPEAT = { containers: 100, spanMs: 3_600_000, seed: 777, maxInstances: 10, quota: 8 };

describe('simulated chaos run', function () {
  this.timeout(120_000);

  let first: ChaosOutcome;
  before(async () => {
    first = await runChaos(OPTIONS);
  });

  it('keeps every invariant: nothing lost, no double run, no VM left, limits kept', () => {
    const f = first.figures;
    assert.deepEqual(first.problems, [], formatChaosFigures(f));
    assert.equal(f.finished, true);
    assert.equal(f.containers.complete + f.containers.cancelled + f.containers.neverSubmitted, f.containers.total);
    assert.ok(f.containers.complete >= f.containers.total * 0.8, `most complete\n${formatChaosFigures(f)}`);
    assert.ok(f.maxLiveVMs <= Math.min(f.limits.maxInstances, f.limits.quota));
  });

  it('exercises every fault: cloud errors of each kind, lost and dead VMs, controller trouble, five restarts', () => {
    const f = first.figures;
    const why = formatChaosFigures(f);
    for (const kind of ['create', 'list', 'destroy', 'setTags'] as const) {
      const failed = Object.values(f.cloudCalls[kind].errors).reduce((a, b) => a + b, 0);
      assert.ok(failed > 0, `${kind} failures\n${why}`);
    }
    assert.ok(f.cloudCalls.create.errors.QuotaError > 0 && f.cloudCalls.create.errors.CapacityError > 0, why);
    assert.ok(f.vms.reclaimed > 0 && f.vms.neverReady > 0, why);
    assert.ok(f.controller.refusedInOutage > 0 && f.controller.refusedInOverload > 0, why);
    assert.ok(f.crunchRunsLost > 0, `some crunch-runs crashed or went with their VM\n${why}`);
    assert.equal(f.restarts, 5);
    // Adopted: crunch-runs alive across a restart went on to finish under the next dispatcher.
    assert.ok(f.acrossRestarts.containers > 0 && f.acrossRestarts.complete > 0, why);
    assert.ok(f.drainMs <= 10 * 60_000, `VMs gone soon after the last container\n${why}`);
  });

  it('repeats exactly with the same seed', async () => {
    const one = await runChaos(REPEAT);
    const two = await runChaos(REPEAT);
    assert.deepEqual(one.problems, [], formatChaosFigures(one.figures));
    assert.equal(two.figures.digest, one.figures.digest);
    const { host: _a, ...a } = two.figures;
    const { host: _b, ...b } = one.figures;
    assert.deepEqual(a, b);
  });

  it("keeps every invariant with priorities as Arvados 2.7+ states them (the scheduling order's radix path)", async () => {
    const run = await runChaos({ ...REPEAT, seed: 778, priorities: '2.7' });
    const f = run.figures;
    assert.deepEqual(run.problems, [], formatChaosFigures(f));
    assert.equal(f.finished, true);
    assert.ok(f.containers.complete >= f.containers.total * 0.8, `most complete\n${formatChaosFigures(f)}`);
  });
});
