import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Container } from '../../src/arvados/types.js';
import { loadConfigFile } from '../../src/config/index.js';
import { chooseInstanceTypes } from '../../src/queue/instance-types.js';
import { generateWorkload, idealStarts, loadWorkload, parseWorkload, type GeneratorSpec, type GroupSpec, type SimContainer, type Workload } from '../../src/sim/workload.js';

const GiB = 2 ** 30;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKLOADS = join(ROOT, 'bench/workloads');

/** Every container, children included. */
function all(cs: SimContainer[]): SimContainer[] {
  return cs.flatMap((c) => [c, ...all(c.children ?? [])]);
}

/** A one-group spec with the given overrides. */
function spec(group: Partial<GroupSpec>, seed = 1): GeneratorSpec {
  return { name: 't', seed, groups: [{ count: 10, arrival: { burst: {} }, ram: '1GiB', runtime: '1m', ...group } as GroupSpec] };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The Container the simulated controller queues for `c`, as src/sim/engine.ts
 * builds it (GPUs: CUDA, any driver, any compute capability).
 */
function asContainer(c: SimContainer): Container {
  return {
    uuid: 'zzzzz-dz642-000000000000001',
    state: 'Queued',
    priority: c.priority,
    runtime_constraints: {
      vcpus: c.vcpus,
      ram: c.ram,
      ...(c.gpus > 0 ? { gpu: { stack: 'cuda', device_count: c.gpus, vram: c.gpuVRAM, driver_version: '0', hardware_target: ['0'] } } : {}),
    },
    scheduling_parameters: { preemptible: c.preemptible },
    mounts: c.scratch > 0 ? { '/tmp': { kind: 'tmp', capacity: c.scratch } } : {},
    container_image: 'd41d8cd98f00b204e9800998ecf8427e+0',
    created_at: '2026-01-01T00:00:00.000000000Z',
  } as Container;
}

describe('sim workload', () => {
  describe('trace', () => {
    it('fills in defaults and reads unit strings', () => {
      const w = parseWorkload({
        name: 'x',
        containers: [
          { at: '90s', vcpus: 2, ram: '4GiB', runtime: '1h30m' },
          { id: 'full', at: 1500, vcpus: 1, ram: 1024, runtimeMs: 5, scratch: '10GB', gpus: 1, gpuVRAM: '16GiB', priority: 7, preemptible: true, exitCode: 3 },
        ],
      });
      assert.equal(w.name, 'x');
      assert.equal(w.seed, 0);
      assert.deepEqual(w.containers, [
        { id: 'full', at: 1500, vcpus: 1, ram: 1024, scratch: 10e9, gpus: 1, gpuVRAM: 16 * GiB, priority: 7, preemptible: true, supervisor: false, runtimeMs: 5, exitCode: 3 },
        { id: 't0', at: 90_000, vcpus: 2, ram: 4 * GiB, scratch: 0, gpus: 0, gpuVRAM: 0, priority: 1, preemptible: false, supervisor: false, runtimeMs: 90 * MINUTE, exitCode: 0 },
      ]);
    });

    it('sorts by at then id (numbers in ids by value), children too, and names children after the parent', () => {
      const w = parseWorkload({
        name: 'x',
        containers: [
          { id: 'a10', at: 0, vcpus: 1, ram: 1, runtime: 0 },
          { id: 'a9', at: 0, vcpus: 1, ram: 1, runtime: 0 },
          { id: 'b2', at: 0, vcpus: 1, ram: 1, runtime: 0 },
          { id: 'b01', at: 0, vcpus: 1, ram: 1, runtime: 0 },
          { id: 'b', at: 0, vcpus: 1, ram: 1, runtime: 0 },
          { id: 'sup', at: 0, vcpus: 1, ram: 1, runtime: '1h', supervisor: true, children: [{ at: '2m', vcpus: 1, ram: 1, runtime: '1m' }, { at: '1m', vcpus: 1, ram: 1, runtime: '1m' }] },
        ],
      });
      assert.deepEqual(w.containers.map((c) => c.id), ['a9', 'a10', 'b', 'b01', 'b2', 'sup']);
      assert.deepEqual(w.containers[5].children!.map((c) => [c.id, c.at]), [['sup/c1', MINUTE], ['sup/c0', 2 * MINUTE]]);
    });

    it('takes the name from the file and the seed from opts over the file', () => {
      const dir = mkdtempSync(join(tmpdir(), 'sim-workload-'));
      try {
        const file = join(dir, 'my-trace.json');
        writeFileSync(file, JSON.stringify({ seed: 3, containers: [{ at: 0, vcpus: 1, ram: '1GiB', runtime: '1s' }] }));
        assert.deepEqual([loadWorkload(file).name, loadWorkload(file).seed], ['my-trace', 3]);
        assert.equal(loadWorkload(file, { seed: 9 }).seed, 9);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    /** A trace of one runner with these children (each a 1-VCPU minute). */
    const kids = (children: Array<Record<string, unknown>>) => ({
      containers: [{ at: 0, vcpus: 1, ram: 1, runtime: 0, supervisor: true, children: children.map((c) => ({ at: 0, vcpus: 1, ram: 1, runtime: '1m', ...c })) }],
    });

    it('reads children that wait for siblings', () => {
      const w = parseWorkload(kids([{ id: 'x' }, { id: 'y', at: '30s', after: ['x'] }, { id: 'z', after: ['x', 'y'] }]));
      assert.deepEqual(w.containers[0].children!.map((c) => [c.id, c.at, c.after]), [['x', 0, undefined], ['z', 0, ['x', 'y']], ['y', 30_000, ['x']]]);
      assert.deepEqual(Object.fromEntries(idealStarts(w.containers[0].children!, (c) => c.runtimeMs)), { x: 0, y: 90_000, z: 150_000 });
    });

    it('reads a chain of 100,000 children, each waiting for the one before, without running out of stack', () => {
      const chain = Array.from({ length: 100_000 }, (_, i) => ({ id: `k${i}`, ...(i > 0 ? { after: [`k${i - 1}`] } : {}) }));
      const w = parseWorkload(kids(chain));
      const starts = idealStarts(w.containers[0].children!, (c) => c.runtimeMs);
      assert.equal(starts.get('k99999'), 99_999 * MINUTE);
    });

    const bad: Array<[string, unknown, RegExp]> = [
      ['a missing field', { containers: [{ at: 0, vcpus: 1, runtime: '1s' }] }, /^containers\[0\]\.ram: required$/],
      ['a bad unit', { containers: [{ at: 0, vcpus: 1, ram: '4XB', runtime: '1s' }] }, /^containers\[0\]\.ram: invalid byte size "4XB"/],
      ['a bare number string as duration', { containers: [{ at: '60', vcpus: 1, ram: 1, runtime: '1s' }] }, /^containers\[0\]\.at: invalid duration "60": missing unit/],
      ['fractional VCPUs', { containers: [{ at: 0, vcpus: 1.5, ram: 1, runtime: '1s' }] }, /^containers\[0\]\.vcpus: must be a whole number/],
      ['negative at', { containers: [{ at: '-1s', vcpus: 1, ram: 1, runtime: '1s' }] }, /^containers\[0\]\.at: must be at least 0/],
      ['an unknown key', { containers: [{ at: 0, vcpus: 1, ram: 1, runtime: '1s', gpu: 1 }] }, /^containers\[0\]\.gpu: unknown key/],
      ['a duplicate id', { containers: [{ id: 'a', at: 0, vcpus: 1, ram: 1, runtime: 0 }, { id: 'a', at: 0, vcpus: 1, ram: 1, runtime: 0 }] }, /^containers\[1\]\.id: duplicate id "a"/],
      ['children of a non-supervisor', { containers: [{ at: 0, vcpus: 1, ram: 1, runtime: 0, children: [] }] }, /^containers\[0\]\.children: only a supervisor/],
      ['a bad child', { containers: [{ at: 0, vcpus: 1, ram: 1, runtime: 0, supervisor: true, children: [{ at: 0, vcpus: 0, ram: 1, runtime: 0 }] }] }, /^containers\[0\]\.children\[0\]\.vcpus: must be at least 1/],
      ['runtime twice', { containers: [{ at: 0, vcpus: 1, ram: 1, runtime: '1s', runtimeMs: 1000 }] }, /^containers\[0\]: give runtime or runtimeMs, not both/],
      ['after at the top level', { containers: [{ id: 'a', at: 0, vcpus: 1, ram: 1, runtime: 0 }, { at: 0, vcpus: 1, ram: 1, runtime: 0, after: ['a'] }] }, /^containers\[1\]\.after: only a runner's children can wait for siblings/],
      ['after naming no sibling', kids([{ id: 'x' }, { after: ['y'] }]), /^containers\[0\]\.children\[1\]\.after\[0\]: "y" is not the id of a child of the same runner/],
      ['after naming itself', kids([{ id: 'x', after: ['x'] }]), /^containers\[0\]\.children\[0\]\.after\[0\]: a child cannot wait for itself/],
      ['after naming one twice', kids([{ id: 'x' }, { after: ['x', 'x'] }]), /^containers\[0\]\.children\[1\]\.after\[1\]: "x" is named twice/],
      ['an empty after', kids([{ after: [] }]), /^containers\[0\]\.children\[0\]\.after: must name at least one sibling/],
      ['a circle behind children that do not wait', kids([{ id: 'a' }, { id: 'b', after: ['a'] }, { id: 'c', after: ['a', 'd'] }, { id: 'd', after: ['c'] }]), /^containers\[0\]\.children: children wait for one another in a circle: c -> d -> c$/],
      ['children waiting in a circle', kids([{ id: 'x', after: ['z'] }, { id: 'y', after: ['x'] }, { id: 'z', after: ['y'] }]), /^containers\[0\]\.children: children wait for one another in a circle: x -> z -> y -> x$/],
      ['a size beyond what the controller stores', { containers: [{ at: 0, vcpus: 1, ram: 2 ** 64, runtime: 0 }] }, /^containers\[0\]\.ram: must be at most 9223372036854775807 \(the 64-bit integer the controller stores\), got 18446744073709552000/],
      ['an empty id', { containers: [{ id: '', at: 0, vcpus: 1, ram: 1, runtime: 0 }] }, /^containers\[0\]\.id: must be a non-empty string$/],
      ['runtimeMs as a string', { containers: [{ at: 0, vcpus: 1, ram: 1, runtimeMs: '10m' }] }, /^containers\[0\]\.runtimeMs: must be a number of ms$/],
      ['a preemptible that is not true or false', { containers: [{ at: 0, vcpus: 1, ram: 1, runtime: 0, preemptible: 'yes' }] }, /^containers\[0\]\.preemptible: must be true or false$/],
      ['a name that is not a string', { name: 5, containers: [] }, /^name: must be a string$/],
      ['an unknown top-level key', { containers: [], colour: 'red' }, /^colour: unknown key/],
      ['an infinite runtime (1e999 in JSON)', { containers: [{ at: 0, vcpus: 1, ram: 1, runtimeMs: 1e999 }] }, /^containers\[0\]\.runtimeMs: must be a finite number$/],
      ['VCPUs beyond what the controller stores', { containers: [{ at: 0, vcpus: 2 ** 64, ram: 1, runtime: 0 }] }, /^containers\[0\]\.vcpus: must be at most 9223372036854775807 \(the 64-bit integer the controller stores\)/],
      ['neither format', { name: 'x' }, /expected a trace \(with "containers"\) or a generator spec/],
      ['both formats', { containers: [], groups: [] }, /has both/],
    ];
    for (const [what, json, re] of bad) {
      it(`rejects ${what}, naming the path`, () => {
        assert.throws(() => parseWorkload(json), (e: Error) => e.name === 'WorkloadError' && re.test(e.message));
      });
    }

    it('refuses a seed that is not a safe integer, from the file or the seed option', () => {
      const trace = { containers: [{ at: 0, vcpus: 1, ram: 1, runtime: 0 }] };
      assert.throws(() => parseWorkload({ ...trace, seed: 2 ** 60 }), /^WorkloadError: seed: must be an integer$/);
      assert.throws(() => parseWorkload(trace, { seed: 1.5 }), /^WorkloadError: the seed option: must be an integer$/);
      assert.throws(() => parseWorkload({ name: 'g', groups: [] }, { seed: 2 ** 60 }), /^WorkloadError: the seed option: must be an integer$/);
      assert.equal(parseWorkload(trace, { seed: 2 ** 53 - 1 }).seed, 2 ** 53 - 1);
    });

    it('prefixes errors with the source', () => {
      assert.throws(() => parseWorkload({ containers: [{}] }, { source: 'w.json' }), /^WorkloadError: w\.json: containers\[0\]\.at: required$/);
    });
  });

  describe('generator', () => {
    const day: GeneratorSpec = {
      name: 'day',
      seed: 5,
      groups: [
        { count: 200, arrival: { uniform: { until: '24h' } }, vcpus: { choice: [[1, 1], [4, 1]] }, ram: { perVCPU: '2GiB' }, runtime: { lognormal: { median: '10m', sigma: 0.8 } }, preemptible: 0.3 },
        { arrival: { poisson: { perHour: 10, until: '24h' } }, ram: '1GiB', runtime: '5m' },
      ],
    };

    it('gives an identical workload for the same seed, and another for another seed', () => {
      const a = generateWorkload(day, 5);
      assert.deepEqual(generateWorkload(day, 5), a);
      assert.notDeepEqual(generateWorkload(day, 6), a);
      assert.equal(a.seed, 5);
    });

    it("uses the file's seed unless opts.seed overrides it", () => {
      assert.deepEqual(parseWorkload(day), generateWorkload(day, 5));
      assert.deepEqual(parseWorkload(day, { seed: 6 }), generateWorkload(day, 6));
      assert.equal(parseWorkload({ ...day, seed: undefined }).seed, 0);
    });

    it('names containers g<group>-<n> and sorts them by at then id', () => {
      const w = generateWorkload(day, 5);
      assert.ok(all(w.containers).every((c) => /^g[01]-\d+$/.test(c.id)), 'ids g<group>-<n>');
      assert.equal(w.containers.filter((c) => c.id.startsWith('g0-')).length, 200);
      for (let i = 1; i < w.containers.length; i++) assert.ok(w.containers[i - 1].at <= w.containers[i].at, `sorted by at at ${i}`);
      const burst = generateWorkload(spec({ count: 12 }), 1);
      assert.deepEqual(burst.containers.slice(0, 3).map((c) => c.id), ['g0-0', 'g0-1', 'g0-2']);
      assert.equal(burst.containers[11].id, 'g0-11');
    });

    it("does not change one group's containers when another group is edited", () => {
      const a = generateWorkload(day, 5).containers.filter((c) => c.id.startsWith('g0-'));
      const edited = { ...day, groups: [day.groups[0], { ...day.groups[1], runtime: '7m' }] };
      assert.deepEqual(generateWorkload(edited, 5).containers.filter((c) => c.id.startsWith('g0-')), a);
    });

    it('keeps distributions within their bounds and near their parameters', () => {
      const N = 4000;
      const w = generateWorkload(
        spec({
          count: N,
          vcpus: { uniform: [2, 5] },
          ram: { perVCPU: { choice: [['1GiB', 3], ['2GiB', 1]] } },
          runtime: { lognormal: { median: '10m', sigma: 0.8 }, min: '2m', max: '1h' },
          priority: { normal: { mean: 500, stddev: 100 } },
          scratch: { exponential: { mean: '10GB' } },
          exitCode: { choice: [[0, 9], [1, 1]] },
          preemptible: 0.25,
        }),
        3,
      ).containers;
      const vcpus = w.map((c) => c.vcpus);
      assert.deepEqual([...new Set(vcpus)].sort(), [2, 3, 4, 5]);
      for (const v of [2, 3, 4, 5]) assert.ok(Math.abs(vcpus.filter((x) => x === v).length / N - 0.25) < 0.04, `vcpus ${v}`);
      const perVCPU = w.map((c) => c.ram / c.vcpus);
      assert.ok(perVCPU.every((r) => r === GiB || r === 2 * GiB), 'RAM per VCPU from the choice');
      assert.ok(Math.abs(perVCPU.filter((r) => r === GiB).length / N - 0.75) < 0.04, 'choice weights 3:1');
      const rt = w.map((c) => c.runtimeMs);
      assert.ok(rt.every((r) => r >= 2 * MINUTE && r <= HOUR && Number.isInteger(r)), 'runtimes whole ms within the clamps');
      assert.ok(Math.abs(median(rt) / (10 * MINUTE) - 1) < 0.1, `median runtime ${median(rt)}`);
      // Clamping piles the tails onto the bounds: P(X < 2m) = Phi(ln(0.2)/0.8) ~ 2.2%.
      assert.ok(Math.abs(rt.filter((r) => r === 2 * MINUTE).length / N - 0.022) < 0.01, 'the low tail piled on min');
      assert.ok(Math.abs(mean(w.map((c) => c.priority)) - 500) < 10, 'normal priority mean');
      assert.ok(Math.abs(mean(w.map((c) => c.scratch)) / 10e9 - 1) < 0.08, 'exponential scratch mean');
      assert.ok(Math.abs(w.filter((c) => c.exitCode === 1).length / N - 0.1) < 0.03, 'exit code 1 one time in ten');
      assert.ok(Math.abs(w.filter((c) => c.preemptible).length / N - 0.25) < 0.04, 'preemptible a quarter');
    });

    it('places arrivals: burst, uniform, poisson, diurnal', () => {
      const at = (arrival: GroupSpec['arrival'], count?: number) => generateWorkload(spec({ arrival, count }), 4).containers.map((c) => c.at);
      assert.ok(at({ burst: { at: '2h' } }, 100).every((t) => t === 2 * HOUR), 'burst at 2h');
      const u = at({ uniform: { from: '1h', until: '3h' } }, 2000);
      assert.ok(u.every((t) => t >= HOUR && t <= 3 * HOUR), 'uniform within its window');
      assert.ok(Math.abs(u.filter((t) => t < 2 * HOUR).length / u.length - 0.5) < 0.05, 'uniform: half in each half');
      const p = at({ poisson: { perHour: 100, from: '0s', until: '10h' } });
      assert.ok(Math.abs(p.length - 1000) < 100, `poisson count ${p.length}`);
      assert.ok(p.every((t) => t >= 0 && t < 10 * HOUR), 'poisson within its window');
      const d = at({ diurnal: { until: '24h', peak: '14h', trough: 0.2 } }, 4000);
      const near = (h: number) => d.filter((t) => Math.abs(t - h * HOUR) < HOUR).length;
      // Rate 1 at the peak, 0.2 twelve hours away.
      assert.ok(near(14) / near(2) > 3.5 && near(14) / near(2) < 7, `peak ${near(14)} trough ${near(2)}`);
    });

    it('makes supervisors whose children arrive in stages', () => {
      const w = generateWorkload(
        {
          name: 'wf',
          groups: [
            {
              count: 3,
              arrival: { uniform: { until: '1h' } },
              ram: '1GiB',
              supervisor: {
                children: [
                  { count: { uniform: [2, 4] }, arrival: { burst: { at: '30s' } }, ram: '2GiB', runtime: { uniform: ['5m', '10m'] } },
                  { count: 1, arrival: { afterPrevious: { gap: '1m' } }, vcpus: 8, ram: '16GiB', runtime: '20m' },
                ],
              },
            },
          ],
        },
        11,
      );
      assert.equal(w.containers.length, 3);
      for (const s of w.containers) {
        assert.equal(s.supervisor, true);
        const kids = s.children!;
        assert.ok(kids.length >= 3 && kids.length <= 5, `${kids.length} children`);
        assert.ok(kids.every((k, i) => k.id === `${s.id}/c${i}` && !k.supervisor), 'children named <runner>/c<n>');
        const stage1 = kids.filter((k) => k.vcpus === 1);
        const merge = kids.find((k) => k.vcpus === 8)!;
        assert.ok(stage1.every((k) => k.at === 30_000), 'the first stage at 30 s');
        assert.equal(merge.at, Math.max(...stage1.map((k) => k.at + k.runtimeMs)) + MINUTE);
        // No runtime given: until the last child would be done, plus a minute.
        assert.equal(s.runtimeMs, merge.at + merge.runtimeMs + MINUTE);
      }
      assert.equal(all(w.containers).length, 3 + w.containers.reduce((n, s) => n + s.children!.length, 0));
    });

    it('makes stages that wait for the earlier ones to end, with onEnd', () => {
      /** Two runners of three stages; the later two wait for the earlier ones to end, or go by the timetable. */
      const stages = (onEnd: boolean) =>
        generateWorkload(
          {
            name: 'wf',
            groups: [
              {
                count: 2,
                arrival: { uniform: { until: '1h' } },
                ram: '1GiB',
                supervisor: {
                  children: [
                    { count: 3, arrival: { burst: { at: '30s' } }, ram: '2GiB', runtime: { uniform: ['5m', '10m'] } },
                    { count: 2, arrival: { afterPrevious: { gap: '1m', ...(onEnd ? { onEnd } : {}) } }, vcpus: 4, ram: '8GiB', runtime: '20m' },
                    { count: 1, arrival: { afterPrevious: { gap: '10s', ...(onEnd ? { onEnd } : {}) } }, vcpus: 8, ram: '16GiB', runtime: '5m' },
                  ],
                },
              },
            ],
          },
          11,
        );
      const w = stages(true);
      for (const s of w.containers) {
        const kids = s.children!;
        const scatter = kids.filter((k) => k.vcpus === 1).map((k) => k.id);
        const process = kids.filter((k) => k.vcpus === 4);
        const merge = kids.find((k) => k.vcpus === 8)!;
        assert.ok(process.every((k) => k.at === MINUTE && JSON.stringify(k.after) === JSON.stringify(scatter)), 'process waits for scatter');
        assert.equal(merge.at, 10_000);
        assert.deepEqual(merge.after, [...scatter, ...process.map((k) => k.id)]);
        // Its runtime, as on a timetable: until the merge would be done, plus a minute.
        const scatterEnd = Math.max(...kids.filter((k) => k.vcpus === 1).map((k) => k.at + k.runtimeMs));
        assert.equal(s.runtimeMs, scatterEnd + MINUTE + 20 * MINUTE + 10_000 + 5 * MINUTE + MINUTE);
      }
      // The same draws as on a timetable: only when the later stages are submitted differs.
      const drawn = (x: Workload) => x.containers.map((s) => [s.runtimeMs, s.children!.map((k) => [k.id, k.runtimeMs]).sort()]);
      assert.deepEqual(drawn(stages(false)), drawn(w));
      assert.ok(stages(false).containers.every((s) => s.children!.every((k) => k.after === undefined)), 'no after without onEnd');
    });

    const bad: Array<[string, Partial<GroupSpec>, RegExp]> = [
      ['a non-positive sigma', { runtime: { lognormal: { median: '10m', sigma: 0 } } }, /^groups\[0\]\.runtime\.lognormal\.sigma: must be a positive number$/],
      ['an unknown group key', { colour: 'red' } as Partial<GroupSpec>, /^groups\[0\]\.colour: unknown key/],
      ['an unknown distribution', { vcpus: { gamma: 2 } } as unknown as Partial<GroupSpec>, /^groups\[0\]\.vcpus\.gamma: unknown key/],
      ['a distribution of no kind', { vcpus: {} } as unknown as Partial<GroupSpec>, /^groups\[0\]\.vcpus: must have exactly one of /],
      ['an empty choice', { vcpus: { choice: [] } }, /^groups\[0\]\.vcpus\.choice: must list at least one \[value, weight\]$/],
      ['a choice of three', { vcpus: { choice: [[1, 1, 5]] } } as unknown as Partial<GroupSpec>, /^groups\[0\]\.vcpus\.choice\[0\]: must be \[value, weight\]$/],
      ['a bad choice weight', { vcpus: { choice: [[1, 0]] } }, /^groups\[0\]\.vcpus\.choice\[0\]\[1\]: must be a positive number$/],
      ['a choice value out of range', { priority: { choice: [[2000, 1]] } }, /^groups\[0\]\.priority\.choice\[0\]\[0\]: must be at most 1000/],
      ['uniform upside down', { runtime: { uniform: ['10m', '1m'] } }, /^groups\[0\]\.runtime\.uniform: low 600000 is above high 60000/],
      ['a count with poisson', { arrival: { poisson: { perHour: 1, until: '1h' } } }, /^groups\[0\]\.arrival\.poisson: the count of a poisson arrival follows from perHour/],
      ['a missing count', { count: undefined }, /^groups\[0\]\.count: required/],
      ['an empty window', { arrival: { uniform: { from: '2h', until: '1h' } } }, /^groups\[0\]\.arrival\.uniform\.until: must be after from/],
      ['a bad onEnd', { supervisor: { children: [{ count: 1, arrival: { burst: {} }, ram: '1GiB', runtime: '1m' }, { count: 1, arrival: { afterPrevious: { onEnd: 'yes' } }, ram: '1GiB', runtime: '1m' } as unknown as GroupSpec] } }, /^groups\[0\]\.supervisor\.children\[1\]\.arrival\.afterPrevious\.onEnd: must be true or false/],
      ['afterPrevious first', { arrival: { afterPrevious: {} } }, /^groups\[0\]\.arrival\.afterPrevious: the first group has no previous group/],
      ['a bad probability', { preemptible: 2 }, /^groups\[0\]\.preemptible: must be a probability/],
      ['a missing runtime', { runtime: undefined }, /^groups\[0\]\.runtime: required \(except for supervisors\)/],
      ['a bad perVCPU', { ram: { perVCPU: '2QB' } }, /^groups\[0\]\.ram\.perVCPU: invalid byte size/],
      ['a bad child group', { supervisor: { children: [{ count: 1, arrival: { burst: {} }, ram: '1GiB', runtime: 'soon' }] } }, /^groups\[0\]\.supervisor\.children\[0\]\.runtime: invalid duration "soon"/],
      ['a count in the billions (more than an array holds)', { count: 1e12 }, /^groups\[0\]: the workload would have more than 2000000 containers/],
      ['a runaway poisson', { count: undefined, arrival: { poisson: { perHour: 1e9, until: '24h' } } }, /^groups\[0\]\.arrival\.poisson\.perHour: would make more than/],
    ];
    for (const [what, group, re] of bad) {
      it(`rejects ${what}, naming the path`, () => {
        assert.throws(() => generateWorkload(spec(group), 1), (e: Error) => e.name === 'WorkloadError' && re.test(e.message), String(re));
      });
    }

    it('takes preemptible 0 or false as none, 1 or true as all', () => {
      for (const [p, all] of [[0, false], [false, false], [1, true], [true, true]] as const) {
        assert.deepEqual(new Set(generateWorkload(spec({ preemptible: p }), 1).containers.map((c) => c.preemptible)), new Set([all]), String(p));
      }
    });

    it('rejects unknown top-level keys and a bad seed', () => {
      assert.throws(() => parseWorkload({ ...spec({}), extra: 1 }), /^WorkloadError: extra: unknown key/);
      assert.throws(() => parseWorkload({ ...spec({}), seed: 1.5 }), /^WorkloadError: seed: must be an integer/);
    });
  });

  describe('bench/workloads', () => {
    const { cluster } = loadConfigFile(join(ROOT, 'bench/sim-config.yml'));
    /** Containers there on purpose to be unsatisfiable. */
    const deliberatelyUnsatisfiable: Record<string, string[]> = { 'example-trace.json': ['too-big'] };
    const files = readdirSync(WORKLOADS).filter((f) => f.endsWith('.json'));

    it('has the benchmark workloads: a trickle, a burst of 5k, a mix, a workflow, a preemptible-heavy mix, a day of 10k, an example trace', () => {
      for (const f of ['trickle', 'burst-5000', 'mixed-64', 'workflow', 'preemptible-heavy', 'day-10k', 'example-trace']) assert.ok(files.includes(`${f}.json`), f);
    });

    for (const f of files) {
      it(`${f} loads, repeats, and fits bench/sim-config.yml`, () => {
        const w: Workload = loadWorkload(join(WORKLOADS, f));
        assert.equal(w.name, f.replace(/\.json$/, ''));
        assert.deepEqual(loadWorkload(join(WORKLOADS, f)), w);
        const unfit: string[] = [];
        for (const c of all(w.containers)) {
          try {
            chooseInstanceTypes(cluster, asContainer(c));
          } catch {
            unfit.push(c.id);
          }
        }
        assert.deepEqual(unfit, deliberatelyUnsatisfiable[f] ?? []);
        // Each file says what it is.
        assert.equal(typeof JSON.parse(readFileSync(join(WORKLOADS, f), 'utf8')).description, 'string');
      });
    }

    it('sizes the named workloads as their names say', () => {
      const load = (f: string) => all(loadWorkload(join(WORKLOADS, f)).containers);
      const burst = load('burst-5000.json');
      assert.equal(burst.length, 5000);
      assert.ok(burst.every((c) => c.at === 0 && c.vcpus === 1), 'one-VCPU burst at 0');
      const day = load('day-10k.json');
      assert.equal(day.length, 10_000);
      assert.ok(Math.max(...day.map((c) => c.at)) < 24 * HOUR, 'within the day');
      assert.ok(load('mixed-64.json').some((c) => c.vcpus === 64 && c.priority === 1000), 'a 64-VCPU top-priority container');
      assert.ok(load('workflow.json').some((c) => c.supervisor && c.children!.length > 0), 'a runner with children');
      const pre = load('preemptible-heavy.json');
      assert.ok(pre.filter((c) => c.preemptible).length / pre.length > 0.8, 'mostly preemptible');
      const trickle = loadWorkload(join(WORKLOADS, 'trickle.json')).containers;
      assert.ok(trickle[trickle.length - 1].at > 23 * HOUR && trickle[0].at < HOUR, 'spread over the day');
    });
  });

  describe('containerCountMax', () => {
    const spec: GeneratorSpec = { name: 'retries', seed: 1, groups: [{ count: 2, arrival: { uniform: { until: '1h' } }, ram: '1GiB', runtime: '5m' }] };
    const trace = { name: 'retries', containers: [{ id: 'a', at: 0, vcpus: 1, ram: '1GiB', runtime: '5m' }] };

    it('is read from a generator spec, also by generateWorkload, and from a trace', () => {
      assert.equal(generateWorkload({ ...spec, containerCountMax: 3 }, 1).containerCountMax, 3);
      assert.equal(parseWorkload({ ...spec, containerCountMax: 3 }).containerCountMax, 3);
      assert.equal(parseWorkload({ ...trace, containerCountMax: 2 }).containerCountMax, 2);
      assert.equal('containerCountMax' in parseWorkload(trace), false, 'absent: no retry, as before');
    });

    it('must be an integer from 1 to 100', () => {
      assert.throws(() => parseWorkload({ ...trace, containerCountMax: 0 }), /containerCountMax: must be an integer from 1 to 100/);
      assert.throws(() => generateWorkload({ ...spec, containerCountMax: 1.5 }, 1), /containerCountMax: must be an integer from 1 to 100/);
      assert.throws(() => parseWorkload({ ...trace, containerCountMax: 101 }), /containerCountMax: must be an integer from 1 to 100/);
      assert.equal(parseWorkload({ ...trace, containerCountMax: 100 }).containerCountMax, 100);
    });
  });
});
