/**
 * The placement features built from the settings file (`placementFeatures`),
 * with object-literal collaborators: each rule that needs the container
 * requests gets its lookup.
 */
import assert from 'node:assert/strict';
import type { ListParams } from '../../src/arvados/client.js';
import { ManualClock, settle } from '../../src/clock/manual.js';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import { RateLimitedLog, silentLogger } from '../../src/log.js';
import { placementFeatures, type PlacementDeps } from '../../src/placement/features.js';
import type { InstanceView, QueueEntry } from '../../src/scheduler/interfaces.js';
import { PassView } from '../../src/scheduler/pass-view.js';
import { containerCharge } from '../../src/scheduler/resources.js';
import { SlotIndex } from '../../src/scheduler/slots.js';
import { testCluster } from '../scheduler/fakes.js';

/** Deps whose controller records the container-request lookups, and whose reclaim counts record who listens for losses. */
function deps(settings: Settings) {
  const lookups: unknown[] = [];
  const lossListeners: unknown[] = [];
  const d = {
    settings,
    cluster: testCluster({ types: [2] }),
    client: {
      listContainerRequests: (p: ListParams) => {
        lookups.push(p.filters);
        return Promise.resolve({ items: [] });
      },
    },
    pool: {},
    estimator: { runtimes: {}, boots: {} },
    clock: new ManualClock(),
    logger: silentLogger(),
    reclaims: { rate: () => 0, onLost: (fn: unknown) => lossListeners.push(fn) },
    cost: { sync() {}, ledger: { costPerHour: () => 0, totalDollars: () => 0, eachLive: () => undefined } },
  } as unknown as PlacementDeps;
  return { d, lookups, lossListeners };
}

describe('placement features from the settings', () => {
  it('Reclaims.OnDemandAfter alone: the plan escalates, listening for losses with a request lookup', () => {
    const s = defaultSettings();
    s.Reclaims = { ...s.Reclaims, OnDemandAfter: 2 };
    const { d, lossListeners } = deps(s);
    const f = placementFeatures(d);
    assert.equal(f.reclaimPlan?.adjusts, true);
    assert.equal(lossListeners.length, 1);
  });

  it('SpendingCap.PerOwnerSoft alone: the cap reads the owners of the queue\'s containers', async () => {
    const s = defaultSettings();
    s.SpendingCap = { ...s.SpendingCap, Enable: true, PerOwnerSoft: 5 };
    const { d, lookups } = deps(s);
    const cap = placementFeatures(d).spendingCap!;
    assert.equal(cap.perOwner, true);
    cap.beginPass(() => ['zzzzz-dz642-000000000000001']);
    await settle(10);
    assert.deepEqual(lookups, [[['container_uuid', 'in', ['zzzzz-dz642-000000000000001']]]]);
  });

  it('Reclaims.OnDemandAboveRuntime alone: a plan that sends long containers on demand', () => {
    const s = defaultSettings();
    s.Reclaims = { ...s.Reclaims, OnDemandAboveRuntime: 2 * 3_600_000 };
    const f = placementFeatures(deps(s).d);
    assert.equal(f.reclaimPlan?.adjusts, true);
  });

  it('FairShare.By owner: a request in a project is charged to the user who made it', async () => {
    const s = defaultSettings();
    s.FairShare = { ...s.FairShare, Enable: true, By: 'owner' };
    const { d } = deps(s);
    const USER = 'zzzzz-tpzed-000000000000001';
    const PROJECT = 'zzzzz-j7d0g-000000000000001';
    const uuid = 'zzzzz-dz642-000000000000001';
    (d.client as unknown as { listContainerRequests: unknown }).listContainerRequests = () =>
      Promise.resolve({ items: [{ uuid: 'zzzzz-xvhdp-000000000000001', owner_uuid: PROJECT, container_uuid: uuid, requesting_container_uuid: null, modified_by_user_uuid: USER }] });
    const fair = placementFeatures(d).fairShare!;
    const entry = {
      container: { uuid, state: 'Locked', priority: 1, runtime_constraints: { vcpus: 2 }, scheduling_parameters: {} },
      instanceTypes: [],
      instanceResources: { vcpus: 2, ram: 0, scratch: 0, gpus: 0, gpuVRAM: 0 },
      firstSeenAt: 0,
    } as unknown as QueueEntry;
    const records = new Map([[uuid, {}]]);
    const source = new Map([[uuid, entry]]);
    fair.reorder(new PassView(source, records), records);
    await settle(10);
    fair.reorder(new PassView(source, records), records);
    assert.equal(fair.usage.running(USER), 2);
  });

  it("Locality: the planner knows each type's boot time, so a container sent to a booting VM stops counting ahead once it is expected ready", () => {
    const s = defaultSettings();
    s.Locality = { ...s.Locality, Enable: true, CacheTimeout: 120_000, DepsTimeout: 0 };
    const { d } = deps(s);
    Object.assign(d.estimator, {
      boots: { estimate: () => ({ typical: 20_000, low: 20_000, high: 20_000 }) },
      runtimes: { estimate: () => ({ typical: 31_000, low: 30_500, high: 31_500 }) },
    });
    const locality = placementFeatures(d).locality!;
    const t2 = d.cluster.InstanceTypes.type2;
    const need = { vcpus: 2, ram: t2.RAM, scratch: 0, gpus: 0, gpuVRAM: 0 };
    const entry = (uuid: string): QueueEntry =>
      ({ container: { uuid, state: 'Locked', priority: 1, container_image: 'img-a', runtime_constraints: { vcpus: 2, ram: t2.RAM }, scheduling_parameters: {}, mounts: {} }, instanceTypes: [t2], instanceResources: need, firstSeenAt: 0 }) as unknown as QueueEntry;
    const view = (id: string, workerState: InstanceView['workerState'], running: string[] = []): InstanceView => ({
      instance: id, address: '', price: t2.Price, arvadosInstanceType: 'type2', providerInstanceType: 'type2', lastContainerUUID: '', lastBusy: 1_000, runningContainerUUIDs: running, workerState, idleBehavior: 'run',
    });
    const [r1, c1, c2] = [entry('r1'), entry('c1'), entry('c2')];
    // r1 started at 0 and takes about 31 s; the VM created at 1 s is expected ready at 21 s.
    const views = [view('i-warm', 'running', ['r1']), view('i-boot', 'booting'), view('i-cold', 'idle')];
    const byUuid = new Map([r1, c1, c2].map((e) => [e.container.uuid, e]));
    const idx = SlotIndex.build(views, (n) => d.cluster.InstanceTypes[n], (u) => (byUuid.has(u) ? containerCharge(need) : undefined), 0, new RateLimitedLog(silentLogger(), new ManualClock()));
    locality.beginPass(1_000, views, byUuid, new Map([['r1', 0]]));
    assert.equal(locality.place(c1, idx.slotOf('i-boot'), idx).slot?.view.instance, 'i-boot');
    assert.equal(locality.place(c2, idx.slotOf('i-cold'), idx).hold?.instance, 'i-warm', 'c1 has its own VM before the warm one frees');
  });
});
