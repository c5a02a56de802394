import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { instanceResourcesNeeded } from '../../src/queue/instance-types.js';
import type { Blocker } from '../../src/scheduler/blocker.js';
import { applyChange, candidatesFor, MAX_CANDIDATES } from '../../src/suggest/candidates.js';
import { simConfig } from '../sim/helpers.js';

const cluster = simConfig({}, '      MaximumPriceFactor: 1.5');

function container(vcpus: number, preemptible = false): Container {
  return {
    uuid: 'zzzzz-dz642-000000000000001',
    state: 'Queued',
    priority: 1,
    runtime_constraints: { vcpus, ram: 1 << 30 },
    scheduling_parameters: { preemptible },
    container_image: 'img',
    created_at: '2026-01-01T00:00:00Z',
  };
}

function input(blocker: Blocker, c = container(2)) {
  const types = [cluster.InstanceTypes.small, cluster.InstanceTypes.medium];
  return { blocker, cluster, container: c, instanceTypes: types, instanceResources: instanceResourcesNeeded(cluster, c) };
}

describe('suggestion candidates', () => {
  it('at MaxInstances: MaxInstances raised by the VMs the containers ahead and it need, and by half that', () => {
    // 10 containers ahead with 12 vCPUs pack onto 3 of the largest eligible type (medium, 4 vCPUs), plus one for it.
    const got = candidatesFor(input({ reason: 'quota', position: 10, bucket: 'MaxInstances', in_use: 50, limit: 50, ahead: { containers: 10, vcpus: 12, ram_bytes: 0 } }));
    assert.deepEqual(
      got.candidates.map((c) => c.text),
      ['MaxInstances 54 (+4)', 'MaxInstances 52 (+2)'],
    );
    assert.deepEqual(got.candidates[0].change, { kind: 'MaxInstances', value: 54, delta: 4 });
  });

  it('at MaxInstances with nothing ahead: one more instance, once', () => {
    const got = candidatesFor(input({ reason: 'quota', position: 0, bucket: 'MaxInstances', in_use: 50, limit: 50, ahead: { containers: 0, vcpus: 0, ram_bytes: 0 } }));
    assert.deepEqual(
      got.candidates.map((c) => c.text),
      ['MaxInstances 51 (+1)'],
    );
  });

  it('the cloud quota: no candidate, and says the provider must raise it', () => {
    const got = candidatesFor(input({ reason: 'quota', position: 0, bucket: 'cloud quota', in_use: 12, error: 'quota' }));
    assert.deepEqual(got.candidates, []);
    assert.match(got.none!, /cloud account quota/);
  });

  it('price_cap: MaximumPriceFactor just high enough for the cheapest left-out type', () => {
    const b: Blocker = {
      reason: 'types_at_capacity',
      position: 0,
      types: [],
      price_cap: { maximum_price_factor: 1.5, types: [{ name: 'large', price: 0.8, now: 'can be created' }, { name: 'gpu', price: 0.9, now: 'can be created' }] },
    };
    const got = candidatesFor(input(b, container(2, true)));
    // 0.8 / 0.10 (small, the cheapest eligible).
    assert.deepEqual(got.candidates, [{ change: { kind: 'MaximumPriceFactor', value: 8, type: 'large' }, text: 'MaximumPriceFactor 8' }]);
  });

  it('types at capacity: running it as preemptible when a preemptible type fits and it is not preemptible yet', () => {
    const b: Blocker = { reason: 'types_at_capacity', position: 0, types: [{ name: 'small', scope: 'type', error: 'no capacity' }] };
    assert.deepEqual(
      candidatesFor(input(b)).candidates.map((c) => c.change),
      [{ kind: 'preemptible' }],
    );
    const already = candidatesFor(input(b, container(2, true)));
    assert.deepEqual(already.candidates, []);
    assert.match(already.none!, /at capacity/);
  });

  it('the concurrency limit and the supervisor cap: no candidate, with the reason', () => {
    const cl = candidatesFor(input({ reason: 'concurrency_limit', position: 3, limit: 10, running: 10, controller: 'normal' }));
    assert.deepEqual(cl.candidates, []);
    assert.match(cl.none!, /concurrency limit/);
    const sc = candidatesFor(input({ reason: 'supervisor_cap', position: 1, cap: 2, running: 2 }));
    assert.deepEqual(sc.candidates, []);
    assert.match(sc.none!, /supervisor/);
  });

  it(`keeps at most ${MAX_CANDIDATES}`, () => {
    const b: Blocker = {
      reason: 'quota',
      position: 10,
      bucket: 'MaxInstances',
      in_use: 50,
      limit: 50,
      ahead: { containers: 10, vcpus: 12, ram_bytes: 0 },
      price_cap: { maximum_price_factor: 1.5, types: [{ name: 'large', price: 0.8, now: 'idle instance' }] },
    };
    assert.deepEqual(
      candidatesFor(input(b)).candidates.map((c) => c.change.kind),
      ['MaxInstances', 'MaxInstances', 'MaximumPriceFactor'],
    );
  });

  it('applies a change to a copy: the cluster or the target only', () => {
    const containers = [
      { id: 'a', preemptible: false },
      { id: 'target', preemptible: false },
    ] as never[];
    const m = applyChange({ kind: 'MaxInstances', value: 7, delta: 2 }, cluster, containers, 'target');
    assert.equal(m.cluster.Containers.CloudVMs.MaxInstances, 7);
    assert.equal(cluster.Containers.CloudVMs.MaxInstances, 50);
    const f = applyChange({ kind: 'MaximumPriceFactor', value: 3, type: 'large' }, cluster, containers, 'target');
    assert.equal(f.cluster.Containers.MaximumPriceFactor, 3);
    assert.equal(cluster.Containers.MaximumPriceFactor, 1.5);
    const p = applyChange({ kind: 'preemptible' }, cluster, containers, 'target');
    assert.deepEqual(
      p.containers.map((c) => (c as { preemptible: boolean }).preemptible),
      [false, true],
    );
    assert.equal((containers[1] as { preemptible: boolean }).preemptible, false);
  });

  it('price_cap: rounds the factor up to a hundredth, so the type is within it', () => {
    const b: Blocker = { reason: 'types_at_capacity', position: 0, types: [], price_cap: { maximum_price_factor: 1.5, types: [{ name: 'large', price: 0.1231, now: 'can be created' }] } };
    // 0.1231 / 0.10 = 1.231: 1.23 would still leave it out.
    assert.deepEqual(candidatesFor(input(b, container(2, true))).candidates.map((c) => c.text), ['MaximumPriceFactor 1.24']);
  });
});
