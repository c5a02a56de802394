/**
 * The Reclaims rules, each pinned with object-literal fakes: the ranking of
 * spot types by price over survival, the escalation of a request's retry to
 * on demand after N losses (linked through the request), the long-runtime
 * rule, and nothing at all while they are off.
 */
import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import type { Cluster, InstanceType } from '../../src/config/types.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { chooseInstanceTypes } from '../../src/queue/instance-types.js';
import { rankByReclaims, ReclaimPlan, type ReclaimRates } from '../../src/placement/reclaim-plan.js';
import type { LostWork } from '../../src/placement/reclaims.js';
import type { QueueEntry } from '../../src/scheduler/interfaces.js';
import { spotTypesCluster } from './spot-types.js';

const HOUR = 3_600_000;

const cluster = spotTypesCluster;

function container(uuid: string, preemptible: boolean, image = 'img'): Container {
  return {
    uuid,
    state: 'Queued',
    priority: 1,
    created_at: '2026-01-01T00:00:00Z',
    container_image: image,
    runtime_constraints: { vcpus: 1, ram: 1 << 30 },
    scheduling_parameters: { preemptible },
    mounts: {},
  } as unknown as Container;
}

/** Queue entries as the queue makes them: like containers share one type list. */
function entries(c: Cluster, ctrs: Container[]): Map<string, QueueEntry> {
  const lists = new Map<string, InstanceType[]>();
  const out = new Map<string, QueueEntry>();
  for (const ctr of ctrs) {
    const key = String(ctr.scheduling_parameters?.preemptible);
    if (!lists.has(key)) lists.set(key, chooseInstanceTypes(c, ctr));
    out.set(ctr.uuid, { container: ctr, instanceTypes: lists.get(key)!, instanceResources: { vcpus: 1, ram: 1 << 30, scratch: 0, gpus: 0, gpuVRAM: 0 }, firstSeenAt: 0 });
  }
  return out;
}

function rates(r: Record<string, number> = {}): ReclaimRates & { lose(l: LostWork): void } {
  const listeners: Array<(l: LostWork) => void> = [];
  return {
    rate: (name) => r[name] ?? 0,
    onLost: (fn) => listeners.push(fn),
    lose: (l) => listeners.forEach((fn) => fn(l)),
  };
}

function settings(over: Partial<Settings['Reclaims']>): Settings['Reclaims'] {
  return { ...defaultSettings().Reclaims, ...over };
}

const logger = createLogger({ stream: new LineCollector(), level: 'debug' });
const names = (types: readonly InstanceType[]): string[] => types.map((t) => t.Name);

describe('reclaim plan', () => {
  describe('ranking (AvoidReclaimedTypes)', () => {
    const c = cluster();
    const spot = chooseInstanceTypes(c, container('x', true));

    it('orders by price over survival: a cheap type reclaimed often goes after dearer ones', () => {
      assert.deepEqual(names(spot), ['c5.large.preemptible', 'm5.large.preemptible', 'r5.large.preemptible']);
      const ranked = rankByReclaims(spot, (t) => ({ 'c5.large.preemptible': 0.5, 'm5.large.preemptible': 0.1 })[t.Name] ?? 0, () => undefined);
      // c5: 0.034/0.5 = 0.068; m5: 0.0384/0.9 = 0.0427; r5: 0.0504.
      assert.deepEqual(names(ranked), ['m5.large.preemptible', 'r5.large.preemptible', 'c5.large.preemptible']);
    });

    it('uses the spot quote within the configured price, and leaves the list alone when nothing was reclaimed', () => {
      const quote = (t: InstanceType): number | undefined => (t.Name === 'r5.large.preemptible' ? 0.02 : undefined);
      const ranked = rankByReclaims(spot, (t) => (t.Name === 'r5.large.preemptible' ? 0.2 : 0), quote);
      // r5 quoted 0.02 / 0.8 = 0.025: cheapest even with its reclaims.
      assert.equal(names(ranked)[0], 'r5.large.preemptible');
      assert.equal(rankByReclaims(spot, () => 0, quote), spot);
    });

    it('keeps the given order between types that cost the same over their survival', () => {
      // c5 and m5 both quoted at 0.03 and never reclaimed; r5 reclaimed half the time.
      const quote = (t: InstanceType): number | undefined => (t.Name === 'r5.large.preemptible' ? undefined : 0.03);
      const rate = (t: InstanceType): number => (t.Name === 'r5.large.preemptible' ? 0.5 : 0);
      assert.deepEqual(names(rankByReclaims(spot, rate, quote)), ['c5.large.preemptible', 'm5.large.preemptible', 'r5.large.preemptible']);
      const [c5, m5, r5] = spot;
      assert.deepEqual(names(rankByReclaims([m5, c5, r5], rate, quote)), ['m5.large.preemptible', 'c5.large.preemptible', 'r5.large.preemptible']);
    });

    it('off: the pass keeps its price order function as it is', () => {
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAfter: 1 }), cluster: c, logger, rates: rates({ 'c5.large.preemptible': 0.9 }) });
      const byPrice = (t: InstanceType[]): readonly InstanceType[] => t;
      assert.equal(plan.orderTypes(byPrice, () => undefined), byPrice);
    });

    it('on: each list is ranked once per pass, from the rates of that moment', () => {
      const r = { 'c5.large.preemptible': 0.5 };
      const plan = new ReclaimPlan({ settings: settings({ AvoidReclaimedTypes: true }), cluster: c, logger, rates: rates(r) });
      const order = plan.orderTypes((t) => t, () => undefined);
      const first = order(spot);
      assert.equal(names(first).at(-1), 'c5.large.preemptible');
      r['c5.large.preemptible'] = 0;
      assert.equal(order(spot), first, 'cached for the pass');
      assert.equal(names(plan.orderTypes((t) => t, () => undefined)(spot))[0], 'c5.large.preemptible', 'the next pass reads the rates again');
    });

    it('believes a reclaim rate only up to 0.9: types reclaimed (nearly) every time keep their price order among themselves', () => {
      const plan = new ReclaimPlan({ settings: settings({ AvoidReclaimedTypes: true }), cluster: c, logger, rates: rates({ 'c5.large.preemptible': 1, 'm5.large.preemptible': 0.95 }) });
      // c5: 0.034/0.1 = 0.34; m5: 0.0384/0.1 = 0.384; r5: 0.0504.
      assert.deepEqual(names(plan.orderTypes((t) => t, () => undefined)(spot)), ['r5.large.preemptible', 'c5.large.preemptible', 'm5.large.preemptible']);
    });

    it('ignores a spot quote above the configured price: the type is ranked at its price', () => {
      const quote = (t: InstanceType): number | undefined => (t.Name === 'r5.large.preemptible' ? 1 : undefined);
      const ranked = rankByReclaims(spot, (t) => ({ 'c5.large.preemptible': 0.5, 'r5.large.preemptible': 0.2 })[t.Name] ?? 0, quote);
      // m5: 0.0384; r5 at its price: 0.0504/0.8 = 0.063; c5: 0.034/0.5 = 0.068.
      assert.deepEqual(names(ranked), ['m5.large.preemptible', 'r5.large.preemptible', 'c5.large.preemptible']);
    });
  });

  describe('escalation (OnDemandAfter)', () => {
    const c = cluster();

    /** Request links as the lookup gives them: known once `answer` is called. */
    function links(): { parentOf(u: string): string | null | undefined; version: number; answer(u: string, req: string | null): void } {
      const known = new Map<string, string | null>();
      const l = {
        version: 0,
        parentOf: (u: string) => known.get(u),
        answer(u: string, req: string | null) {
          known.set(u, req);
          l.version++;
        },
      };
      return l;
    }

    it("after N losses of a request's work, its next container runs on the on-demand equivalent, and its timeline says so", () => {
      const r = rates();
      const req = links();
      const said: Array<[string, Record<string, string | number>]> = [];
      const timeline = { vmRequested() {}, unlocking() {}, cancelling() {}, onDemand: (u: string, d: Record<string, string | number>) => said.push([u, d]) };
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAfter: 2 }), cluster: c, logger, rates: r, requests: req });
      assert.equal(plan.adjusts, true);

      const first = entries(c, [container('a1', true), container('other', false)]);
      assert.equal(plan.adjust(first, timeline), first, 'nothing to change');
      req.answer('a1', 'req-A');
      r.lose({ instanceId: 'i-1', instanceType: 'c5.large.preemptible', containers: ['a1'] });

      // The controller's retry: a new container of the same request. One loss is not enough.
      const second = entries(c, [container('a2', true), container('other', false)]);
      assert.equal(plan.adjust(second, timeline), second, 'not yet linked');
      req.answer('a2', 'req-A');
      assert.equal(plan.adjust(second, timeline), second, 'one loss < 2');
      r.lose({ instanceId: 'i-2', instanceType: 'c5.large.preemptible', containers: ['a2'] });

      const third = entries(c, [container('a3', true), container('b1', true), container('other', false)]);
      req.answer('a3', 'req-A');
      req.answer('b1', 'req-B');
      const out = plan.adjust(third, timeline);
      assert.notEqual(out, third);
      assert.deepEqual(names(out.get('a3')!.instanceTypes), ['c5.large', 'm5.large', 'r5.large']);
      assert.equal(out.get('b1'), third.get('b1'), 'another request keeps its spot types');
      assert.equal(out.get('other'), third.get('other'));
      assert.equal(third.get('a3')!.instanceTypes[0].Preemptible, true, 'the queue snapshot itself is left alone');
      assert.deepEqual(said, [['a3', { reason: 'earlier attempts of its request were lost to spot reclaims', losses: 2, request: 'req-A' }]]);
      assert.equal(plan.counts.reclaims, 1);
      plan.adjust(third, timeline);
      assert.equal(said.length, 1, 'said once');
    });

    it('a loss whose request was not known yet counts once the lookup answers', () => {
      const r = rates();
      const req = links();
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAfter: 1 }), cluster: c, logger, rates: r, requests: req });
      r.lose({ instanceId: 'i-1', instanceType: 'c5.large.preemptible', containers: ['a1'] });
      req.answer('a1', 'req-A');
      const next = entries(c, [container('a2', true)]);
      req.answer('a2', 'req-A');
      assert.equal(plan.adjust(next).get('a2')!.instanceTypes[0].Preemptible, false);
    });

    it('a retry decided before its request\'s loss was counted is decided again once it is', () => {
      const r = rates();
      const req = links();
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAfter: 1 }), cluster: c, logger, rates: r, requests: req });
      req.answer('a1', 'req-A');
      req.answer('a2', 'req-A');
      // The controller's retry is in the queue before the dispatcher has seen the first attempt's VM go.
      const retry = entries(c, [container('a2', true)]);
      assert.equal(plan.adjust(retry), retry, 'no loss yet');
      r.lose({ instanceId: 'i-1', instanceType: 'c5.large.preemptible', containers: ['a1'] });
      assert.equal(plan.adjust(retry).get('a2')!.instanceTypes[0].Preemptible, false);
    });

    it('a retry already Locked goes on demand too: it has not been placed yet', () => {
      const r = rates();
      const req = links();
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAfter: 1 }), cluster: c, logger, rates: r, requests: req });
      req.answer('a1', 'req-A');
      r.lose({ instanceId: 'i-1', instanceType: 'c5.large.preemptible', containers: ['a1'] });
      const locked = { ...container('a2', true), state: 'Locked' } as Container;
      req.answer('a2', 'req-A');
      assert.equal(plan.adjust(entries(c, [locked])).get('a2')!.instanceTypes[0].Preemptible, false);
    });

    it('a container whose own work was lost is not sent on demand: it is on its way to Cancelled, and its retry will be', () => {
      const r = rates();
      const req = links();
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAfter: 1 }), cluster: c, logger, rates: r, requests: req });
      req.answer('a1', 'req-A');
      r.lose({ instanceId: 'i-1', instanceType: 'c5.large.preemptible', containers: ['a1'] });
      const still = entries(c, [container('a1', true)]);
      assert.equal(plan.adjust(still), still);
      assert.equal(plan.counts.reclaims, 0);
    });
  });

  describe('long runtime (OnDemandAboveRuntime)', () => {
    it('sends preemptible containers expected to run longer than the setting on demand from the start', () => {
      const c = cluster();
      const said: string[] = [];
      const runtimes = { estimate: (k: { image: string }) => ({ typical: k.image === 'long' ? 5 * HOUR : 10 * 60_000, low: 0, high: 0 }) };
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAboveRuntime: 2 * HOUR }), cluster: c, logger, rates: rates(), runtimes });
      const e = entries(c, [container('long', true, 'long'), container('short', true, 'short')]);
      const out = plan.adjust(e, { vmRequested() {}, unlocking() {}, cancelling() {}, onDemand: (u, d) => said.push(`${u} ${d.reason} ${d.expected_runtime_ms}`) });
      assert.equal(out.get('long')!.instanceTypes[0].Preemptible, false);
      assert.equal(out.get('short'), e.get('short'));
      assert.deepEqual(said, [`long expected to run longer than Reclaims.OnDemandAboveRuntime ${5 * HOUR}`]);
      assert.equal(plan.counts['long runtime'], 1);
    });

    it('leaves a container that did not ask for preemptible alone, however long it runs: it is on demand already', () => {
      const c = cluster();
      const said: string[] = [];
      const runtimes = { estimate: () => ({ typical: 5 * HOUR, low: 0, high: 0 }) };
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAboveRuntime: 2 * HOUR }), cluster: c, logger, rates: rates(), runtimes });
      const e = entries(c, [container('od', false, 'long')]);
      assert.equal(plan.adjust(e, { vmRequested() {}, unlocking() {}, cancelling() {}, onDemand: (u) => said.push(u) }), e);
      assert.deepEqual(said, [], 'no timeline event saying it was sent on demand');
      assert.equal(plan.counts['long runtime'], 0);
    });

    it('keeps the spot types of a container no on-demand type fits, rather than leave it none', () => {
      const c = cluster();
      c.InstanceTypes = Object.fromEntries(Object.entries(c.InstanceTypes).filter(([, t]) => t.Preemptible));
      const runtimes = { estimate: () => ({ typical: 5 * HOUR, low: 0, high: 0 }) };
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAboveRuntime: 2 * HOUR }), cluster: c, logger, rates: rates(), runtimes });
      const e = entries(c, [container('long', true, 'long')]);
      assert.ok(e.get('long')!.instanceTypes.length > 0);
      assert.equal(plan.adjust(e).get('long'), e.get('long'));
    });

    it('neither tells the timeline nor counts a container as sent on demand when no on-demand type fits it', () => {
      const c = cluster();
      c.InstanceTypes = Object.fromEntries(Object.entries(c.InstanceTypes).filter(([, t]) => t.Preemptible));
      const said: string[] = [];
      const runtimes = { estimate: () => ({ typical: 5 * HOUR, low: 0, high: 0 }) };
      const plan = new ReclaimPlan({ settings: settings({ OnDemandAboveRuntime: 2 * HOUR }), cluster: c, logger, rates: rates(), runtimes });
      const e = entries(c, [container('long', true, 'long')]);
      plan.adjust(e, { vmRequested() {}, unlocking() {}, cancelling() {}, onDemand: (u) => said.push(u) });
      assert.deepEqual(said, [], 'it stays on its spot types');
      assert.equal(plan.counts['long runtime'], 0);
    });
  });

  it('off: adjusts is false, so the pass never calls adjust', () => {
    const plan = new ReclaimPlan({ settings: settings({ AvoidReclaimedTypes: true }), cluster: cluster(), logger, rates: rates() });
    assert.equal(plan.adjusts, false);
  });
});
