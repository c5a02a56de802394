/**
 * The workload generator's defaults and parameter checks that the main
 * workload tests leave out: the shape of each distribution's parameters,
 * the defaults of the arrivals (burst at 0, diurnal peak at 14h with a
 * trough of 0.2, afterPrevious with no gap), and arrivals in whole ms.
 */
import assert from 'node:assert/strict';
import { generateWorkload, type GeneratorSpec, type GroupSpec, WorkloadError } from '../../src/sim/workload.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A one-group spec with the given overrides. */
function spec(group: Partial<GroupSpec>): GeneratorSpec {
  return { name: 't', groups: [{ count: 10, arrival: { burst: {} }, ram: '1GiB', runtime: '1m', ...group } as GroupSpec] };
}

function refuses(group: Partial<GroupSpec>, re: RegExp): void {
  assert.throws(() => generateWorkload(spec(group), 1), (e: Error) => e instanceof WorkloadError && re.test(e.message), String(re));
}

const ats = (arrival: GroupSpec['arrival'], count?: number, seed = 4) => generateWorkload(spec({ arrival, ...(count === undefined && !('poisson' in arrival) ? {} : { count }) }), seed).containers.map((c) => c.at);

describe('workload generator: parameters and defaults', () => {
  it('fills in a group\'s defaults: 1 VCPU, priority 1, no scratch, GPU or preemption, exit code 0', () => {
    const c = generateWorkload(spec({ count: 1 }), 1).containers[0];
    assert.deepEqual(
      [c.vcpus, c.priority, c.scratch, c.gpus, c.gpuVRAM, c.preemptible, c.exitCode, c.supervisor],
      [1, 1, 0, 0, 0, false, 0, false],
    );
  });

  it('refuses a group name that is not a string, a missing arrival and an empty owner', () => {
    refuses({ name: 5 } as unknown as Partial<GroupSpec>, /^groups\[0\]\.name: must be a string$/);
    refuses({ arrival: undefined }, /^groups\[0\]\.arrival: required$/);
    refuses({ owner: '' }, /^groups\[0\]\.owner: must be a non-empty string$/);
  });

  it('refuses distributions whose parameters cannot draw: clamps crossed, a uniform not of two, non-positive median, stddev or mean', () => {
    refuses({ runtime: { uniform: ['1m', '2m'], min: '10m', max: '5m' } }, /^groups\[0\]\.runtime: min 600000 is above max 300000$/);
    refuses({ vcpus: { uniform: [1] } as unknown as GroupSpec['vcpus'] }, /^groups\[0\]\.vcpus\.uniform: must be \[low, high\]$/);
    refuses({ runtime: { lognormal: { median: 0, sigma: 1 } } }, /^groups\[0\]\.runtime\.lognormal\.median: must be positive$/);
    refuses({ priority: { normal: { mean: 500, stddev: 0 } } }, /^groups\[0\]\.priority\.normal\.stddev: must be positive$/);
    refuses({ scratch: { exponential: { mean: 0 } } }, /^groups\[0\]\.scratch\.exponential\.mean: must be positive$/);
  });

  it('takes fractional parameters for a whole-number field, and draws whole numbers spread by the stddev', () => {
    const w = generateWorkload(spec({ count: 2000, vcpus: { normal: { mean: 8.5, stddev: 2 } } }), 2).containers;
    const v = w.map((c) => c.vcpus);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= 1), 'whole VCPUs, at least 1');
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    assert.ok(Math.abs(mean - 8.5) < 0.2, `mean ${mean}`);
    assert.ok(sd > 1.8 && sd < 2.3, `stddev ${sd}`);
  });

  it('refuses an empty arrival window and a trough outside (0, 1]', () => {
    refuses({ arrival: { uniform: { from: '1h', until: '1h' } } }, /^groups\[0\]\.arrival\.uniform\.until: must be after from \(3600000 ms\)$/);
    refuses({ arrival: { diurnal: { until: '24h', trough: 0 } } }, /^groups\[0\]\.arrival\.diurnal\.trough: must be a number in \(0, 1\]$/);
    refuses({ arrival: { diurnal: { until: '24h', trough: 1.5 } } }, /^groups\[0\]\.arrival\.diurnal\.trough: must be a number in \(0, 1\]$/);
  });

  it('arrives in whole ms: a burst at 0 by default, uniform draws rounded, the first poisson arrival after a random gap', () => {
    assert.deepEqual(new Set(ats({ burst: {} })), new Set([0]));
    const u = ats({ uniform: { until: '1h' } }, 500);
    assert.ok(u.every((t) => Number.isInteger(t)), 'uniform arrivals in whole ms');
    // One an hour from 1h: the first comes a random gap after `from`, not at it.
    const firsts = [1, 2, 3, 4, 5].map((seed) => ats({ poisson: { perHour: 1, from: '1h', until: '30h' } }, undefined, seed)[0]);
    assert.ok(firsts.every((t) => t > HOUR && Number.isInteger(t)), `first poisson arrivals ${firsts}`);
  });

  it('peaks a diurnal arrival at 14h with a trough of 0.2 by default', () => {
    const d = ats({ diurnal: { until: '24h' } }, 4000);
    const near = (h: number) => d.filter((t) => Math.abs(t - h * HOUR) < HOUR).length;
    // Rate 1 at 14h, 0.2 at 2h: about five times as many.
    assert.ok(near(14) / near(2) > 3.5 && near(14) / near(2) < 7, `14h ${near(14)}, 2h ${near(2)}`);
    // Symmetric about 14h: as many at 8h as at 20h (a peak at 12h would give 8h twice as many).
    assert.ok(near(8) / near(20) > 0.8 && near(8) / near(20) < 1.25, `8h ${near(8)}, 20h ${near(20)}`);
  });

  it('starts an afterPrevious group when the previous would have ended, with no gap by default, and waits on them only with onEnd true', () => {
    const stages = (after: Record<string, unknown>) =>
      generateWorkload(
        {
          name: 'wf',
          groups: [
            {
              count: 1,
              arrival: { burst: {} },
              ram: '1GiB',
              supervisor: {
                children: [
                  { count: 2, arrival: { burst: { at: '30s' } }, ram: '1GiB', runtime: '5m' },
                  { count: 1, arrival: { afterPrevious: after }, ram: '1GiB', runtime: '1m' },
                ],
              },
            },
          ],
        },
        1,
      ).containers[0].children!;
    const last = (after: Record<string, unknown>) => stages(after).find((k) => k.id.endsWith('/c2'))!;
    assert.equal(last({}).at, 30_000 + 5 * MINUTE);
    assert.equal(last({ onEnd: false }).at, 30_000 + 5 * MINUTE);
    assert.equal(last({ onEnd: false }).after, undefined);
    assert.deepEqual([last({ onEnd: true }).at, last({ onEnd: true }).after], [0, ['g0-0/c0', 'g0-0/c1']]);
  });
  it('draws other containers for another seed, and other children for each runner', () => {
    const wf: GeneratorSpec = {
      name: 'wf',
      groups: [{ count: 2, arrival: { burst: {} }, ram: '1GiB', supervisor: { children: [{ count: 5, arrival: { burst: {} }, ram: '1GiB', runtime: { uniform: ['1m', '1h'] } }] } }],
    };
    const runtimes = (seed: number) => generateWorkload(wf, seed).containers.map((r) => r.children!.map((k) => k.runtimeMs));
    const [a, b] = runtimes(1);
    assert.notDeepEqual(a, b, 'the two runners drew the same children');
    assert.notDeepEqual(runtimes(2), runtimes(1), 'another seed drew the same children');
    const flat = (seed: number) => generateWorkload(spec({ runtime: { uniform: ['1m', '1h'] } }), seed).containers.map((c) => c.runtimeMs);
    assert.notDeepEqual(flat(2), flat(1));
  });

  it('clamps a choice, keeps a runner\'s own runtime when it has one, and gives stages to children only', () => {
    const clamped = generateWorkload(spec({ count: 50, vcpus: { choice: [[1, 1], [8, 1]], max: 4 } }), 1).containers;
    assert.deepEqual([...new Set(clamped.map((c) => c.vcpus))].sort(), [1, 4]);
    const w = generateWorkload(
      {
        name: 'wf',
        groups: [{ name: 'runners', count: 1, arrival: { burst: {} }, ram: '1GiB', runtime: '2h', supervisor: { children: [{ name: 'work', count: 1, arrival: { burst: {} }, ram: '1GiB', runtime: '1m' }] } }],
      },
      1,
    );
    const r = w.containers[0];
    assert.equal(r.runtimeMs, 2 * HOUR);
    assert.equal(r.stage, undefined, 'a top-level container has no stage');
    assert.equal(r.children![0].stage, 'work');
  });

  it('refuses an empty group list, and a spec without a name or with a bad seed', () => {
    assert.throws(() => generateWorkload({ name: 'g', groups: [] }, 1), /^WorkloadError: groups: must list at least one group$/);
    assert.throws(() => generateWorkload({ groups: spec({}).groups } as unknown as GeneratorSpec, 1), /^WorkloadError: name: must be a non-empty string$/);
    assert.throws(() => generateWorkload({ ...spec({}), seed: 1.5 }, 1), /^WorkloadError: seed: must be an integer$/);
  });
});
