/**
 * The workload player (src/sim/player.ts) on its own: a manual clock, the
 * test controller, and a stand-in for the lame cloud's crunch-runs, with no
 * dispatcher. Each test moves containers through their states by hand and
 * checks what the player submits, when, what it cancels and finishes, and
 * what it records of each container for the report.
 */
import assert from 'node:assert/strict';
import type { LameCloud } from '../../drivers/lame/index.js';
import type { Cluster } from '../../src/config/types.js';
import { ManualClock } from '../../src/clock/manual.js';
import { containerSeed, type SimPriorities, WorkloadPlayer } from '../../src/sim/player.js';
import type { ContainerOutcome } from '../../src/sim/result.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { type ControllerContainerRequest, TestController } from '../../src/testcontroller/index.js';
import { simConfig } from './helpers.js';

const ROOT_TOKEN = 'playerTestRootTokenXXXXXXXXXXXXXXXXXXXXXXXXXXXX';
const MINUTE = 60_000;

/** A player on a trace, and the hands that move its containers. */
class Stage {
  readonly clock = new ManualClock(0);
  readonly controller = new TestController({ clock: this.clock, rootToken: ROOT_TOKEN });
  /** Containers whose crunch-run is alive, and those the player asked to finish (runners), in order. */
  readonly alive = new Set<string>();
  readonly finishedNow: string[] = [];
  readonly notes: string[] = [];
  readonly player: WorkloadPlayer;

  constructor(trace: Record<string, unknown>, cluster: Cluster = simConfig(), priorities: SimPriorities = '2.6') {
    const w = parseWorkload({ name: 'player-test', ...trace });
    const processes = () => new Map([...this.alive].map((uuid) => [uuid, { alive: true, finishNow: () => this.finishedNow.push(uuid) }]));
    const cloud = { listVMs: () => [{ processes: processes() }] } as unknown as LameCloud;
    this.player = new WorkloadPlayer(this.clock, this.controller, cluster, cloud, w.containers, this.notes, w.containerCountMax, priorities);
    this.player.play();
  }

  outcome(id: string): ContainerOutcome {
    const t = this.player.tracked.find((x) => x.outcome.id === id);
    assert.ok(t, `no container ${id}`);
    return t.outcome;
  }

  uuid(id: string): string {
    const uuid = this.outcome(id).uuid;
    assert.ok(uuid, `${id} was not submitted`);
    return uuid;
  }

  run(id: string): void {
    this.controller.setFields(this.uuid(id), { state: 'Running' });
    this.alive.add(this.uuid(id));
  }

  complete(id: string, exitCode = 0): void {
    this.alive.delete(this.uuid(id));
    this.controller.setFields(this.uuid(id), { state: 'Complete', exit_code: exitCode });
  }

  cancel(id: string, reason?: string): void {
    this.alive.delete(this.uuid(id));
    this.controller.cancel(this.uuid(id), reason);
  }

  async to(ms: number): Promise<void> {
    await this.clock.advanceTo(ms);
  }

  /** The controller's container requests, as the dispatcher lists them. */
  async requests(): Promise<ControllerContainerRequest[]> {
    const res = await this.controller.inProcessTransport().send({
      method: 'GET',
      url: new URL('http://controller.invalid/arvados/v1/container_requests?limit=1000'),
      headers: { Authorization: `Bearer ${ROOT_TOKEN}` },
      timeoutMs: 1000,
    });
    assert.equal(res.status, 200, res.text);
    return (JSON.parse(res.text) as { items: ControllerContainerRequest[] }).items;
  }
}

const job = (id: string, at: number | string, runtime: string, more: Record<string, unknown> = {}) => ({ id, at, vcpus: 1, ram: '1GiB', runtime, ...more });

describe('workload player', () => {
  it('submits each container at its time with a request of its owner and priority; children under their runner, by its owner', async () => {
    const s = new Stage({
      containers: [
        job('a', '1m', '5m', { owner: 'zzzzz-tpzed-00000000000000a', priority: 7 }),
        job('r', 0, '1m', { owner: 'zzzzz-tpzed-00000000000000r', supervisor: true, children: [job('k', '30s', '1m', { owner: 'zzzzz-tpzed-00000000000000k', priority: 3 })] }),
      ],
    });
    await s.to(MINUTE - 1);
    assert.equal(s.outcome('a').submittedAt, undefined);
    await s.to(MINUTE);
    assert.equal(s.outcome('a').submittedAt, MINUTE);
    s.run('r');
    await s.to(MINUTE + 30_000);
    assert.equal(s.outcome('k').submittedAt, MINUTE + 30_000, 'a child is submitted its `at` after its runner starts');
    // The child's request is made by its runner: the runner's owner, whatever the child says, and the child's own priority.
    assert.equal(s.outcome('k').owner, 'zzzzz-tpzed-00000000000000r');
    const reqs = new Map((await s.requests()).map((r) => [r.container_uuid, r]));
    const pick = (id: string) => {
      const r = reqs.get(s.uuid(id))!;
      return [r.owner_uuid, r.priority, r.requesting_container_uuid];
    };
    assert.deepEqual(pick('a'), ['zzzzz-tpzed-00000000000000a', 7, null]);
    assert.deepEqual(pick('r'), ['zzzzz-tpzed-00000000000000r', 1, null]);
    assert.deepEqual(pick('k'), ['zzzzz-tpzed-00000000000000r', 3, s.uuid('r')]);
    assert.equal(s.controller.get(s.uuid('a'))!.priority, 7);
  });

  it('finishes a runner once its children are final and its own runtime has passed, whichever comes later', async () => {
    const s = new Stage({
      containers: [
        job('long', 0, '10m', { supervisor: true, children: [job('l1', 0, '1m')] }),
        job('short', 0, '1m', { supervisor: true, children: [job('s1', 0, '5m')] }),
      ],
    });
    await s.to(0);
    s.run('long');
    s.run('short');
    await s.to(1);
    s.run('l1');
    s.run('s1');
    s.complete('l1');
    // A change that is not a state change (a priority) arms nothing again.
    s.controller.setFields(s.uuid('long'), { priority: 9 });
    await s.to(2 * MINUTE);
    assert.deepEqual(s.finishedNow, [], 'the long runner still has its own work; the short one a child');
    await s.to(5 * MINUTE);
    s.complete('s1');
    assert.deepEqual(s.finishedNow, [s.uuid('short')], 'the short runner finishes with its last child');
    await s.to(10 * MINUTE - 1);
    assert.deepEqual(s.finishedNow, [s.uuid('short')]);
    await s.to(10 * MINUTE);
    assert.deepEqual(s.finishedNow, [s.uuid('short'), s.uuid('long')], 'the long runner finishes when its runtime is up');
    s.complete('short');
    s.complete('long');
    assert.equal(s.player.done, true);
    assert.equal(s.player.submitted, 4);
    assert.deepEqual(s.notes, [], 'every runner was found and finished');
  });

  it('cancels the children of a runner cancelled mid-run, and never submits those whose time comes later', async () => {
    const s = new Stage({
      containers: [
        job('r', 0, '1m', {
          supervisor: true,
          children: [job('queued', 0, '5m'), job('running', 0, '5m'), job('later', '10m', '1m'), job('after', 0, '1m', { after: ['running'] }), job('afterLater', 0, '1m', { after: ['later'] })],
        }),
      ],
    });
    await s.to(0);
    s.run('r');
    await s.to(1);
    s.run('running');
    await s.to(2 * MINUTE);
    s.cancel('r', 'user cancelled the workflow');
    for (const id of ['queued', 'running']) {
      assert.equal(s.outcome(id).state, 'Cancelled', id);
      assert.equal(s.outcome(id).reason, `workflow runner ${s.uuid('r')} was cancelled`, id);
    }
    assert.equal(s.outcome('r').reason, 'user cancelled the workflow');
    assert.equal(s.player.done, false, "'later' is still to come");
    await s.to(10 * MINUTE);
    assert.equal(s.outcome('later').submittedAt, undefined, 'not submitted once its runner is gone');
    assert.equal(s.outcome('after').submittedAt, undefined, 'its sibling was cancelled');
    assert.equal(s.outcome('afterLater').submittedAt, undefined, 'its sibling never ran');
    assert.equal(s.player.done, true);
    assert.equal(s.player.submitted, 3);
    assert.deepEqual(s.finishedNow, [], 'a cancelled runner is not finished');
    assert.deepEqual(s.notes, [], 'nor looked for when its own time is up');
  });

  it('settles a runner cancelled before it ran with all its descendants, nested runners included', async () => {
    const s = new Stage({
      containers: [job('outer', 0, '1m', { supervisor: true, children: [job('inner', 0, '1m', { supervisor: true, children: [job('leaf', 0, '1m')] })] })],
    });
    await s.to(0);
    s.cancel('outer');
    assert.equal(s.player.settled, 3);
    assert.equal(s.player.done, true);
    assert.equal(s.outcome('outer').reason, 'no reason recorded');
  });

  it('retries a cancelled container as a new one of the same request, up to containerCountMax, but not runners nor children', async () => {
    const s = new Stage({
      containerCountMax: 2,
      containers: [job('a', 0, '5m'), job('done', 0, '1m'), job('r', 0, '5m', { supervisor: true, children: [job('k', 0, '1m')] })],
    });
    await s.to(0);
    s.run('done');
    s.complete('done');
    assert.deepEqual([s.outcome('done').state, s.outcome('done').attempts], ['Complete', undefined], 'a completed container is not run again');
    const first = s.uuid('a');
    s.run('a');
    await s.to(MINUTE);
    s.cancel('a', 'VM reclaimed');
    const second = s.uuid('a');
    assert.notEqual(second, first);
    assert.equal(s.outcome('a').state, 'Queued');
    assert.equal(s.outcome('a').attempts, 2);
    assert.equal(s.outcome('a').finalAt, undefined);
    const reqs = await s.requests();
    assert.deepEqual(
      reqs.filter((r) => r.container_uuid === first || r.container_uuid === second).map((r) => r.container_uuid),
      [second],
      'the request now names the new container',
    );
    await s.to(2 * MINUTE);
    s.run('a');
    assert.equal(s.outcome('a').runningAt, 0, 'the wait runs to the first start');
    s.cancel('a', 'VM reclaimed again');
    assert.equal(s.uuid('a'), second, 'no third container');
    assert.deepEqual([s.outcome('a').state, s.outcome('a').attempts, s.outcome('a').reason], ['Cancelled', 2, 'VM reclaimed again']);
    s.run('r');
    await s.to(2 * MINUTE + 1);
    s.cancel('k');
    assert.deepEqual([s.outcome('k').state, s.outcome('k').attempts], ['Cancelled', undefined], 'a child is not retried');
    s.cancel('r');
    assert.deepEqual([s.outcome('r').state, s.outcome('r').attempts], ['Cancelled', undefined], 'a runner is not retried');
    assert.equal(s.player.done, true);
  });

  it('states priorities as Arvados 2.7+ does when asked: request priority x 2^50 less the request time, kept by a retry', async () => {
    const s = new Stage({ containerCountMax: 2, containers: [job('a', '1m', '5m', { priority: 7 })] }, simConfig(), '2.7');
    await s.to(2 * MINUTE);
    const first = s.uuid('a');
    assert.equal(s.controller.get(first)!.priority, 7 * 2 ** 50 - MINUTE);
    s.run('a');
    await s.to(3 * MINUTE);
    s.cancel('a', 'VM reclaimed');
    assert.notEqual(s.uuid('a'), first, 'retried');
    assert.equal(s.controller.get(s.uuid('a'))!.priority, 7 * 2 ** 50 - MINUTE, "the retry's container keeps its request's time");
    const req = (await s.requests()).find((r) => r.container_uuid === s.uuid('a'))!;
    assert.equal(req.priority, 7, 'the request keeps its own priority');
  });

  it("gives a cancelled container's reason: its runtime error, else the reason in its history, else the dispatcher's cancel", async () => {
    const s = new Stage({ containers: [job('err', 0, '1m'), job('hist', 0, '1m'), job('disp', 0, '1m')] });
    await s.to(0);
    s.controller.setFields(s.uuid('err'), { runtime_status: { error: 'out of memory' } });
    s.cancel('err');
    assert.equal(s.outcome('err').reason, 'out of memory');
    s.cancel('hist', 'user cancelled');
    assert.equal(s.outcome('hist').reason, 'user cancelled');
    const res = await s.controller.inProcessTransport().send({
      method: 'PUT',
      url: new URL(`http://controller.invalid/arvados/v1/containers/${s.uuid('disp')}`),
      headers: { Authorization: `Bearer ${ROOT_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ container: { state: 'Cancelled' } }),
      timeoutMs: 1000,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(s.outcome('disp').reason, 'cancelled by the dispatcher (its log says why)');
  });

  it('counts containers by state as they move', async () => {
    const s = new Stage({ containers: [job('a', 0, '1m'), job('b', 0, '1m'), job('c', '1m', '1m')] });
    await s.to(0);
    assert.deepEqual(s.player.stateCounts, { Queued: 2, Locked: 0, Running: 0, Complete: 0, Cancelled: 0 });
    s.run('a');
    s.controller.setFields(s.uuid('b'), { state: 'Locked' });
    assert.deepEqual(s.player.stateCounts, { Queued: 0, Locked: 1, Running: 1, Complete: 0, Cancelled: 0 });
    s.complete('a');
    s.cancel('b');
    await s.to(MINUTE);
    assert.deepEqual(s.player.stateCounts, { Queued: 1, Locked: 0, Running: 0, Complete: 1, Cancelled: 1 });
  });

  it("records the cheapest fitting type as the lower bound, and a runner's ideal time through nested runners", () => {
    // Price factor 2.5: "medium" is eligible for a container "small" fits, but the bound stays "small".
    const s = new Stage(
      {
        containers: [
          job('a', 0, '1m'),
          job('outer', 0, '1m', { supervisor: true, children: [job('inner', '1m', '1m', { supervisor: true, children: [job('leaf', '2m', '10m')] })] }),
        ],
      },
      simConfig({}, '      MaximumPriceFactor: 2.5'),
    );
    assert.deepEqual([s.outcome('a').lowerBoundType, s.outcome('a').lowerBoundPrice], ['small', 0.1]);
    assert.equal(s.outcome('inner').idealMs, 12 * MINUTE);
    assert.equal(s.outcome('outer').idealMs, 13 * MINUTE);
  });
});

describe('workload player: controller records', () => {
  it('asks for a GPU of the cheapest GPU type\'s stack: for ROCm every configured target, VRAM in whole bytes', () => {
    const base = simConfig();
    const cuda = base.InstanceTypes.gpu;
    const rocm = (name: string, price: number, target: string) => ({ ...cuda, Name: name, ProviderType: name, Price: price, GPU: { ...cuda.GPU, Stack: 'rocm', HardwareTarget: target } });
    const mixed: Cluster = {
      ...base,
      InstanceTypes: { gpu: cuda, r1: rocm('r1', 0.3, 'gfx90a'), r2: rocm('r2', 0.4, 'gfx1100'), r3: rocm('r3', 0.45, 'gfx90a') },
    };
    const w = parseWorkload({ containers: [job('g', 0, '1m', { gpus: 2, gpuVRAM: 1000.5 })] });
    assert.deepEqual(containerSeed(mixed, w.containers[0]).runtime_constraints?.gpu, {
      stack: 'rocm',
      driver_version: '0',
      hardware_target: ['gfx90a', 'gfx1100'],
      device_count: 2,
      vram: 1001,
    });
    assert.deepEqual(containerSeed(base, w.containers[0]).runtime_constraints?.gpu, { stack: 'cuda', driver_version: '0', hardware_target: ['0'], device_count: 2, vram: 1001 });
  });
});
