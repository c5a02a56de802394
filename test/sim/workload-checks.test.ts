/**
 * Workload files: the range checks that keep a workload playable (a
 * priority of 0 is never run, an exit code past 255 wraps to success in
 * the shell), ids unique over the whole trace, the names a workload takes
 * when it gives none, and the errors a file that is not JSON gets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorkload, type GeneratorSpec, type GroupSpec, loadWorkload, parseWorkload, WorkloadError } from '../../src/sim/workload.js';

const one = (c: Record<string, unknown>) => ({ containers: [{ at: 0, vcpus: 1, ram: 1, runtime: 0, ...c }] });
const group = (g: Partial<GroupSpec>): GeneratorSpec => ({ name: 'g', groups: [{ count: 2, arrival: { burst: {} }, ram: '1GiB', runtime: '1m', ...g } as GroupSpec] });

/** Asserts `fn` throws a WorkloadError whose message matches `re`. */
function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof WorkloadError && re.test(e.message), String(re));
}

describe('workload checks', () => {
  it('keeps exit codes in 0-255 and priorities in 1-1000, both ends included', () => {
    refuses(() => parseWorkload(one({ exitCode: 256 })), /^containers\[0\]\.exitCode: must be at most 255, got 256$/);
    refuses(() => parseWorkload(one({ exitCode: -1 })), /^containers\[0\]\.exitCode: must be at least 0, got -1$/);
    refuses(() => parseWorkload(one({ priority: 0 })), /^containers\[0\]\.priority: must be at least 1, got 0$/);
    const w = parseWorkload({ containers: [{ id: 'a', at: 0, vcpus: 1, ram: 1, runtime: 0, exitCode: 255, priority: 1000 }, { id: 'b', at: 0, vcpus: 1, ram: 1, runtime: 0, exitCode: 0, priority: 1 }] });
    assert.deepEqual(w.containers.map((c) => [c.exitCode, c.priority]), [[255, 1000], [0, 1]]);
    refuses(() => generateWorkload(group({ exitCode: { choice: [[256, 1]] } }), 1), /^groups\[0\]\.exitCode\.choice\[0\]\[0\]: must be at most 255/);
    refuses(() => generateWorkload(group({ priority: 0 }), 1), /^groups\[0\]\.priority: must be at least 1, got 0$/);
  });

  it('wants some RAM, and takes a probability only in [0, 1]', () => {
    refuses(() => parseWorkload(one({ ram: 0 })), /^containers\[0\]\.ram: must be at least 1, got 0$/);
    refuses(() => generateWorkload(group({ preemptible: -0.5 }), 1), /^groups\[0\]\.preemptible: must be a probability in \[0, 1\]/);
  });

  it('takes a group of count 0: it draws no container', () => {
    const spec: GeneratorSpec = { name: 'g', groups: [{ count: 0, arrival: { burst: {} }, ram: '1GiB', runtime: '1m' }, { count: 2, arrival: { burst: {} }, ram: '1GiB', runtime: '1m' }] };
    assert.deepEqual(generateWorkload(spec, 1).containers.map((c) => c.id), ['g1-0', 'g1-1']);
  });

  it('wants ids unique over the whole trace, children included, and ids that are strings', () => {
    refuses(
      () => parseWorkload({ containers: [{ id: 'x', at: 0, vcpus: 1, ram: 1, runtime: 0 }, { id: 'r', at: 0, vcpus: 1, ram: 1, runtime: 0, supervisor: true, children: [{ id: 'x', at: 0, vcpus: 1, ram: 1, runtime: 0 }] }] }),
      /^containers\[1\]\.children\[0\]\.id: duplicate id "x"$/,
    );
    refuses(() => parseWorkload(one({ id: 7 })), /^containers\[0\]\.id: must be a non-empty string$/);
    refuses(() => parseWorkload({ containers: [[0, 1]] }), /^containers\[0\]: must be an object, got \[0,1\]$/);
  });

  it('names the circle itself, not the children that wait on it from outside', () => {
    const kids = [
      { id: 'x', after: ['y'] },
      { id: 'y', after: ['z'] },
      { id: 'z', after: ['y'] },
    ].map((c) => ({ at: 0, vcpus: 1, ram: 1, runtime: '1m', ...c }));
    refuses(() => parseWorkload({ containers: [{ at: 0, vcpus: 1, ram: 1, runtime: 0, supervisor: true, children: kids }] }), /^containers\[0\]\.children: children wait for one another in a circle: y -> z -> y$/);
  });

  it('names a workload without a name after its file, or "workload" when there is no file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-workload-checks-'));
    try {
      const spec = join(dir, 'my-spec.json');
      writeFileSync(spec, JSON.stringify({ groups: [{ count: 1, arrival: { burst: {} }, ram: '1GiB', runtime: '1m' }] }));
      assert.equal(loadWorkload(spec).name, 'my-spec');
      assert.equal(parseWorkload({ containers: [] }).name, 'workload');
      assert.equal(parseWorkload({ groups: [{ count: 1, arrival: { burst: {} }, ram: '1GiB', runtime: '1m' }] }).name, 'workload');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which file is not JSON, or is missing, with a WorkloadError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-workload-checks-'));
    try {
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, '{"containers": [');
      refuses(() => loadWorkload(bad), new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      refuses(() => loadWorkload(join(dir, 'none.json')), /none\.json: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
