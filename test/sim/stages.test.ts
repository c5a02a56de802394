import assert from 'node:assert/strict';
import { Random } from '../../drivers/lame/random.js';
import { runSimulation } from '../../src/sim/engine.js';
import type { ContainerOutcome } from '../../src/sim/result.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig } from './helpers.js';

/**
 * Random runners whose children wait for random earlier siblings, some
 * failing and some crunch-runs crashing: the play must settle every
 * container, submit a child exactly when the last sibling it waits for has
 * ended (plus its `at`), and never submit one downstream of a failure.
 */
function randomTrace(seed: number): { containers: unknown[] } {
  const rnd = new Random(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd.next() * (hi - lo + 1));
  const runners = Array.from({ length: int(1, 3) }, (_, r) => {
    const ids: string[] = [];
    const n = int(2, 8);
    const children = Array.from({ length: n }, (_, i) => {
      const id = `r${r}-k${i}`;
      // The last child waits for the first at least, so every runner has one that waits.
      const after = ids.filter((_, j) => rnd.chance(0.4) || (j === 0 && i === n - 1));
      ids.push(id);
      return {
        id,
        at: `${int(0, 60)}s`,
        vcpus: int(1, 4),
        ram: '1GiB',
        runtime: `${int(1, 10)}m`,
        exitCode: rnd.chance(0.15) ? 1 : 0,
        ...(after.length > 0 ? { after } : {}),
      };
    });
    return { id: `r${r}`, at: `${int(0, 120)}s`, vcpus: 1, ram: '1GiB', runtime: '1m', supervisor: true, children };
  });
  return { containers: runners };
}

const ok = (c: ContainerOutcome | undefined) => c?.state === 'Complete' && c.exitCode === 0;

describe('simulated runners whose children wait for siblings', function () {
  this.timeout(60_000);
  /** Over all seeds: what the cases exercised. */
  const seen = { waited: 0, blockedByFailure: 0, runnerCancelledWhileRunning: 0 };

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`settles every container and submits each child when, and only when, its siblings allow (seed ${seed})`, async () => {
      const trace = randomTrace(seed);
      const workload = parseWorkload({ name: `stages-${seed}`, seed, ...trace });
      // Crashes make some children end Cancelled, and VMs taken back some runners too.
      const res = await runSimulation({ cluster: simConfig({ CrunchRunCrashRate: 0.1, ReclaimRate: 0.2, ReclaimAfter: '5m' }), workload });
      assert.equal(res.finished, true, 'the play settled every container');
      const byId = new Map(res.containers.map((c) => [c.id, c]));
      for (const runner of workload.containers) {
        const r = byId.get(runner.id)!;
        for (const spec of runner.children!) {
          const c = byId.get(spec.id)!;
          const deps = (spec.after ?? []).map((id) => byId.get(id)!);
          if (deps.length === 0) {
            if (c.submittedAt !== undefined) assert.equal(c.submittedAt, r.runningAt! + spec.at, spec.id);
            else assert.ok(r.runningAt === undefined || r.finalAt! <= r.runningAt + spec.at, `${spec.id}: its runner ran at its time`);
            continue;
          }
          if (c.submittedAt !== undefined) {
            seen.waited++;
            assert.ok(deps.every(ok), `${spec.id} was submitted though a sibling it waits for did not complete`);
            assert.equal(c.submittedAt, Math.max(...deps.map((d) => d.finalAt!)) + spec.at, spec.id);
            assert.ok(c.submittedAt <= r.finalAt!, `${spec.id}: submitted while its runner ran`);
          } else {
            if (!deps.every(ok)) seen.blockedByFailure++;
            const due = deps.every(ok) ? Math.max(...deps.map((d) => d.finalAt!)) + spec.at : undefined;
            assert.ok(due === undefined || r.finalAt! <= due, `${spec.id} was not submitted, though its siblings completed and its runner ran at ${due}`);
          }
        }
        if (r.state === 'Cancelled' && r.runningAt !== undefined) seen.runnerCancelledWhileRunning++;
        if (r.state === 'Complete') {
          for (const spec of runner.children!) assert.ok((byId.get(spec.id)!.finalAt ?? 0) <= r.finalAt!, `${runner.id} ended before ${spec.id}`);
        }
      }
    });
  }

  it('settles a long chain at once when its first child fails, without running out of stack', async () => {
    const n = 20_000;
    const children = Array.from({ length: n }, (_, i) => ({
      id: `k${i}`,
      at: 0,
      vcpus: 1,
      ram: '1GiB',
      runtime: '1m',
      ...(i === 0 ? { exitCode: 1 } : { after: [`k${i - 1}`] }),
    }));
    const workload = parseWorkload({ name: 'chain', containers: [{ id: 'r', at: 0, vcpus: 1, ram: '1GiB', runtime: '1m', supervisor: true, children }] });
    const res = await runSimulation({ cluster: simConfig(), workload });
    assert.equal(res.finished, true);
    const byId = new Map(res.containers.map((c) => [c.id, c]));
    assert.equal(byId.get('k0')!.exitCode, 1);
    assert.equal(res.containers.filter((c) => c.submittedAt === undefined).length, n - 1);
    assert.equal(byId.get('r')!.state, 'Complete');
  });

  it('covered children submitted after their siblings, children blocked by a failure, and runners cancelled mid-run', () => {
    assert.ok(seen.waited > 0 && seen.blockedByFailure > 0 && seen.runnerCancelledWhileRunning > 0, JSON.stringify(seen));
  });
});
