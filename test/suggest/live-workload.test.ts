import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { BootTimes } from '../../src/estimate/boot.js';
import { RuntimeHistory } from '../../src/estimate/history.js';
import { liveWorkload, MAX_AHEAD, TARGET_ID } from '../../src/suggest/live-workload.js';
import { simConfig } from '../sim/helpers.js';

const MIN = 60_000;
const cluster = simConfig();

function container(n: number, over: Partial<Container> = {}): Container {
  return {
    uuid: `zzzzz-dz642-${String(n).padStart(15, '0')}`,
    state: 'Queued',
    priority: 5,
    runtime_constraints: { vcpus: 2, ram: 4 << 30 },
    scheduling_parameters: {},
    container_image: 'img',
    created_at: '2026-01-01T00:00:00Z',
    ...over,
  };
}

describe('live workload', () => {
  const runtimes = new RuntimeHistory({ defaultRuntimeMs: 10 * MIN });
  const boots = new BootTimes(3 * MIN);
  boots.record('small', 2 * MIN);
  boots.record('medium', 4 * MIN);
  const now = Date.UTC(2026, 0, 1, 12);
  const small = [cluster.InstanceTypes.small];
  const medium = [cluster.InstanceTypes.medium];

  const live = liveWorkload({
    now,
    cluster,
    ahead: [
      { container: container(1, { priority: 7 }), instanceTypes: small },
      { container: container(2, { scheduling_parameters: { preemptible: true }, mounts: { '/tmp': { kind: 'tmp', capacity: 5e9 } } }), instanceTypes: small },
    ],
    target: { container: container(3, { runtime_constraints: { vcpus: 4, ram: 8 << 30, gpu: { stack: 'cuda', driver_version: '0', hardware_target: ['0'], device_count: 1, vram: 1 << 30 } } }), instanceTypes: medium },
    running: [
      { uuid: 'r1', container: container(4, { state: 'Running' }), startedAt: now - 4 * MIN },
      { uuid: 'r2', container: undefined, startedAt: now - 30 * MIN },
    ],
    runtimes,
    boots,
    atCapacity: ['m5.large'],
  });

  it('starts everything at once: running first with a priority above all, then those ahead in order, then the target', () => {
    const c = live.workload.containers;
    // Priorities by rank (5 -> 1, 7 -> 2), the running above them.
    assert.deepEqual(
      c.map((x) => [x.id, x.at, x.priority]),
      [
        ['running-0', 0, 3],
        ['running-1', 0, 3],
        ['ahead-0', 0, 2],
        ['ahead-1', 0, 1],
        [TARGET_ID, 0, 1],
      ],
    );
  });

  it("keeps the order of a current controller's priorities (request x 2^50 - created_at ms), the running above them", () => {
    const p = (request: number, createdAt: number) => request * 2 ** 50 - createdAt;
    const w = liveWorkload({
      now,
      cluster,
      ahead: [
        { container: container(1, { priority: p(900, now) }), instanceTypes: small },
        { container: container(2, { priority: p(500, now - 60_000) }), instanceTypes: small },
      ],
      target: { container: container(3, { priority: p(500, now) }), instanceTypes: small },
      running: [{ uuid: 'r1', container: container(4, { state: 'Running', priority: p(1000, now) }), startedAt: now - MIN }],
      runtimes,
      boots,
      atCapacity: [],
    });
    assert.deepEqual(
      w.workload.containers.map((x) => [x.id, x.priority]),
      [
        ['running-0', 4],
        ['ahead-0', 3],
        ['ahead-1', 2],
        [TARGET_ID, 1],
      ],
    );
  });

  it('gives running containers their remaining time and waiting ones their typical runtime', () => {
    const byId = new Map(live.workload.containers.map((x) => [x.id, x]));
    // 10 min typical, 4 min done.
    assert.equal(byId.get('running-0')!.runtimeMs, 6 * MIN);
    // Overran: a tenth of the estimate is left.
    assert.equal(byId.get('running-1')!.runtimeMs, 1 * MIN);
    assert.equal(byId.get('ahead-0')!.runtimeMs, 10 * MIN);
  });

  it('keeps each container size, scratch, GPUs and preemptible flag', () => {
    const byId = new Map(live.workload.containers.map((x) => [x.id, x]));
    assert.equal(byId.get('ahead-1')!.preemptible, true);
    assert.equal(byId.get('ahead-1')!.scratch, 5e9);
    const t = byId.get(TARGET_ID)!;
    assert.deepEqual([t.vcpus, t.ram, t.gpus, t.gpuVRAM, t.preemptible], [4, 8 << 30, 1, 1 << 30, false]);
    // A running container the queue no longer has takes the smallest size.
    assert.equal(byId.get('running-1')!.vcpus, 1);
  });

  it('runs the lame cloud with the learnt boot times of the types involved and the types at capacity', () => {
    const vms = live.cluster.Containers.CloudVMs;
    assert.equal(vms.Driver, 'lame');
    assert.deepEqual(vms.DriverParameters, { MinBootTime: 2 * MIN, MaxBootTime: 4 * MIN, CapacityErrorTypes: ['m5.large'] });
    assert.equal(vms.MaxInstances, cluster.Containers.CloudVMs.MaxInstances);
    assert.equal(live.cluster.InstanceTypes, cluster.InstanceTypes);
  });

  it(`keeps at most ${MAX_AHEAD} containers ahead`, () => {
    const many = Array.from({ length: MAX_AHEAD + 5 }, (_, i) => ({ container: container(100 + i), instanceTypes: small }));
    const w = liveWorkload({ now, cluster, ahead: many, target: { container: container(9), instanceTypes: small }, running: [], runtimes, boots, atCapacity: [] });
    assert.equal(w.workload.containers.length, MAX_AHEAD + 1);
    assert.equal(w.workload.containers.at(-1)!.id, TARGET_ID);
  });
});
