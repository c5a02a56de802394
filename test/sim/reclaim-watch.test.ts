/**
 * The simulator's account of spot reclaims (src/sim/reclaims.ts), with a
 * hand-made cloud and controller: which containers count as lost with a
 * reclaimed VM, how much of their work, and when the report has a section.
 */
import assert from 'node:assert/strict';
import type { LameCloud, LameVM } from '../../drivers/lame/index.js';
import type { ReclaimPlan } from '../../src/placement/reclaim-plan.js';
import { ReclaimWatch } from '../../src/sim/reclaims.js';
import type { TestController } from '../../src/testcontroller/index.js';

const HOUR = 3_600_000;

function world(states: Record<string, { state: string; running?: number[] }>) {
  const listeners = new Set<(vm: LameVM) => void>();
  const cloud = {
    onReclaim: (fn: (vm: LameVM) => void) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  } as unknown as Pick<LameCloud, 'onReclaim'>;
  const controller = {
    get: (uuid: string) => (states[uuid] ? { uuid, state: states[uuid].state } : undefined),
    // Each start of Running, with a Locked between (a retry on the same container).
    history: (uuid: string) => (states[uuid]?.running ?? []).flatMap((at) => [{ state: 'Locked', at: at - 1 }, { state: 'Running', at }]),
  } as unknown as Pick<TestController, 'get' | 'history'>;
  const reclaim = (...uuids: string[]) => {
    const vm = { processes: new Map(uuids.map((u) => [u, {}])) } as unknown as LameVM;
    for (const fn of [...listeners]) fn(vm);
  };
  return { cloud, controller, reclaim };
}

const plan = (reclaims: number, longRuntime: number) => ({ counts: { reclaims, 'long runtime': longRuntime } }) as unknown as ReclaimPlan;

describe('simulator reclaim account', () => {
  it('counts the Running and Locked containers of a reclaimed VM, and the work of the Running ones since their last start', () => {
    let now = 10 * HOUR;
    const { cloud, controller, reclaim } = world({
      running: { state: 'Running', running: [1 * HOUR, 8 * HOUR] },
      locked: { state: 'Locked', running: [2 * HOUR] },
      done: { state: 'Complete', running: [3 * HOUR] },
      queued: { state: 'Queued' },
    });
    const watch = new ReclaimWatch(cloud, controller, () => now);
    assert.equal(watch.summary(), undefined, 'nothing reclaimed and no plan: no section');
    reclaim('running', 'locked', 'done', 'queued', 'gone');
    now = 11 * HOUR;
    reclaim();
    assert.deepEqual(watch.summary(), { vms: 2, containers: 2, containerHoursLost: 2, escalations: 0, longRuntimeOnDemand: 0 });
    watch.stop();
    reclaim('running');
    assert.equal(watch.summary()!.vms, 2, 'stopped: no longer counting');
  });

  it('rounds the hours lost to the thousandth', () => {
    const { cloud, controller, reclaim } = world({ r: { state: 'Running', running: [0] } });
    const watch = new ReclaimWatch(cloud, controller, () => 1234567);
    reclaim('r');
    assert.equal(watch.summary()!.containerHoursLost, 0.343);
  });

  it("sums each dispatcher's plan: on demand after reclaims, and for their runtime; a plan alone makes a section", () => {
    const { cloud, controller } = world({});
    const watch = new ReclaimWatch(cloud, controller, () => 0);
    watch.addPlan(undefined);
    assert.equal(watch.summary(), undefined);
    watch.addPlan(plan(3, 1));
    watch.addPlan(plan(2, 5));
    assert.deepEqual(watch.summary(), { vms: 0, containers: 0, containerHoursLost: 0, escalations: 5, longRuntimeOnDemand: 6 });
  });
});
