/** The workload's `owner`: read in traces and generator groups, inherited by children, refused when not a name. */
import assert from 'node:assert/strict';
import { figuresByOwner } from '../../src/sim/report-owners.js';
import { parseWorkload, WorkloadError } from '../../src/sim/workload.js';

describe('workload owners', () => {
  it('a trace container may name its owner', () => {
    const w = parseWorkload({ containers: [{ id: 'a', at: 0, vcpus: 1, ram: '1GiB', runtime: '1m', owner: 'alice' }, { id: 'b', at: 0, vcpus: 1, ram: '1GiB', runtime: '1m' }] });
    assert.equal(w.containers[0].owner, 'alice');
    assert.equal(w.containers[1].owner, undefined);
    assert.throws(() => parseWorkload({ containers: [{ at: 0, vcpus: 1, ram: '1GiB', runtime: '1m', owner: '' }] }), (e: unknown) => e instanceof WorkloadError && /containers\[0\]\.owner: must be a non-empty string/.test(e.message));
  });

  it("a generator group's owner goes to its containers, and a runner's to its children unless they name another", () => {
    const w = parseWorkload({
      name: 'x',
      groups: [
        { owner: 'bob', count: 2, arrival: { burst: {} }, ram: '1GiB', supervisor: { children: [{ count: 2, arrival: { burst: {} }, ram: '1GiB', runtime: '1m' }] } },
        { count: 1, arrival: { burst: {} }, ram: '1GiB', runtime: '1m' },
      ],
    });
    const owners = w.containers.map((c) => [c.owner, ...(c.children ?? []).map((ch) => ch.owner)]);
    assert.deepEqual(owners, [['bob', 'bob', 'bob'], ['bob', 'bob', 'bob'], [undefined]]);
    assert.throws(() => parseWorkload({ name: 'x', groups: [{ owner: 3, count: 1, arrival: { burst: {} }, ram: '1GiB', runtime: '1m' }] }), /groups\[0\]\.owner: must be a non-empty string/);
  });

  it('the report gives each owner its waits and makespan, and nothing without owners', () => {
    const c = (owner: string | undefined, submittedAt: number, runningAt: number, finalAt: number) => ({ id: 'x', idealMs: 0, owner, submittedAt, runningAt, finalAt });
    assert.equal(figuresByOwner([c(undefined, 0, 1, 2)]), undefined);
    const f = figuresByOwner([c('a', 0, 10, 100), c('a', 5, 65, 200), c('b', 50, 50, 60)])!;
    assert.deepEqual(f, {
      a: { containers: 2, queueWait: { count: 2, p50Ms: 10, p95Ms: 60, maxMs: 60 }, makespanMs: 200 },
      b: { containers: 1, queueWait: { count: 1, p50Ms: 0, p95Ms: 0, maxMs: 0 }, makespanMs: 10 },
    });
  });
});
