/**
 * The spending cap's rules, one by one, on object literals: the soft and
 * hard levels, preemptible only at the soft level, deferral by priority,
 * money going to the higher priority first, and the per-owner levels.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/manual.js';
import type { InstanceType } from '../../src/config/types.js';
import { capDetail, SpendingCap, type SpendingCapSettings, type SpendSource } from '../../src/placement/spending-cap.js';

function type(name: string, price: number, preemptible = false): InstanceType {
  return { Name: name, ProviderType: name, VCPUs: 4, RAM: 4 * 2 ** 30, Scratch: 0, IncludedScratch: 0, AddedScratch: 0, Price: price, Preemptible: preemptible, GPU: {} } as unknown as InstanceType;
}

const ON_DEMAND = type('m4', 4);
const SPOT = type('m4.spot', 1.5, true);
const BIG = type('m16', 16);

/** The cheapest type of a list, as the pass's availableType picks it (nothing at capacity). */
const cheapest = (types: InstanceType[]): InstanceType | undefined => [...types].sort((a, b) => a.Price - b.Price)[0];

interface LiveVm {
  id: string;
  price: number;
  containers: string[];
  shares: number[];
}

/** A ledger of `vms` as an object literal; `vms` may be changed between passes. */
function source(vms: LiveVm[], total = { dollars: 0 }): SpendSource & { fresh(): ReturnType<SpendSource['fresh']> } {
  return {
    fresh: () => ({
      costPerHour: () => vms.reduce((s, v) => s + v.price, 0),
      totalDollars: () => total.dollars,
      eachLive: (visit) => {
        for (const v of vms) visit(v.id, v.price, v.containers, v.shares);
      },
    }),
  };
}

function settings(over: Partial<SpendingCapSettings>): SpendingCapSettings {
  return { Enable: true, Soft: 0, Hard: 0, DeferBelowPriority: 0, PerOwnerBy: 'owner', PerOwnerSoft: 0, PerOwnerHard: 0, HighPriorityFirst: true, ...over };
}

function cap(over: Partial<SpendingCapSettings>, vms: LiveVm[] = [], owners?: Record<string, string>): SpendingCap {
  const o = owners && { ownerOf: (u: string) => owners[u], update: () => undefined };
  return new SpendingCap(settings(over), source(vms), new ManualClock(), o);
}

const vm = (id: string, price: number, containers: string[] = [], shares: number[] = containers.map(() => 1 / containers.length)): LiveVm => ({ id, price, containers, shares });

describe('spending cap: the rules', () => {
  it('below the soft level, the cheapest type is created, on demand included', () => {
    const c = cap({ Soft: 30, Hard: 40 }, [vm('a', 20)]);
    c.beginPass();
    assert.equal(c.decide('c1', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
  });

  it('a VM that would take the burn over the soft level is preemptible only: the spot variant of an eligible type is chosen', () => {
    const c = cap({ Soft: 30, Hard: 40 }, [vm('a', 28)]);
    c.beginPass();
    assert.equal(c.decide('c1', 1, [ON_DEMAND, SPOT], (ts) => ts.find((t) => !t.Preemptible) ?? ts[0])?.type, SPOT);
  });

  it('at the soft level, a container that may not run on a preemptible VM is held, at level soft', () => {
    const c = cap({ Soft: 30, Hard: 40 }, [vm('a', 28)]);
    c.beginPass();
    assert.deepEqual(c.decide('c1', 1, [ON_DEMAND], cheapest)?.hold, { level: 'soft', scope: 'cluster', burn: 28, cap: 30 });
  });

  it('at the soft level, work below DeferBelowPriority is deferred; work at or above it gets a preemptible VM', () => {
    const c = cap({ Soft: 30, Hard: 40, DeferBelowPriority: 500 }, [vm('a', 29)]);
    c.beginPass();
    assert.equal(c.decide('low', 499, [SPOT], cheapest)?.hold?.level, 'soft');
    assert.equal(c.decide('high', 500, [SPOT], cheapest)?.type, SPOT);
  });

  it("reads DeferBelowPriority against the request priority in a current controller's container priority (request x 2^50 - created_at ms)", () => {
    const c = cap({ Soft: 30, Hard: 40, DeferBelowPriority: 500 }, [vm('a', 29)]);
    c.beginPass();
    const at = Date.parse('2026-12-05T10:00:00Z');
    assert.equal(c.decide('low', 499 * 2 ** 50 - at, [SPOT], cheapest)?.hold?.level, 'soft');
    assert.equal(c.decide('high', 500 * 2 ** 50 - at, [SPOT], cheapest)?.type, SPOT);
  });

  it('no VM takes the burn over the hard level, preemptible or not', () => {
    const c = cap({ Soft: 30, Hard: 40 }, [vm('a', 39)]);
    c.beginPass();
    assert.deepEqual(c.decide('c1', 1, [SPOT], cheapest)?.hold, { level: 'hard', scope: 'cluster', burn: 39, cap: 40 });
  });

  it('exactly at the level is within it', () => {
    const c = cap({ Hard: 40 }, [vm('a', 36)]);
    c.beginPass();
    assert.equal(c.decide('c1', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
  });

  it('with only Hard set, it is the level for every VM, and a hold says hard', () => {
    const c = cap({ Hard: 10 }, [vm('a', 8)]);
    c.beginPass();
    assert.equal(c.decide('c1', 1, [ON_DEMAND], cheapest)?.hold?.level, 'hard');
    c.beginPass();
    assert.equal(c.decide('c2', 1, [SPOT], cheapest)?.type, SPOT);
  });

  it('VMs the pass creates count at once: the burn is kept up to date within the pass, not re-read', () => {
    const src = source([vm('a', 30)]);
    let reads = 0;
    const counted: SpendSource = { fresh: () => (reads++, src.fresh()) };
    const c = new SpendingCap(settings({ Hard: 40 }), counted, new ManualClock());
    c.beginPass();
    assert.equal(c.decide('c1', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
    c.created('c1', 'pending-1');
    assert.equal(c.burn, 34);
    assert.equal(c.decide('c2', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
    c.created('c2', 'pending-2');
    assert.equal(c.decide('c3', 1, [ON_DEMAND], cheapest)?.hold?.burn, 38);
    assert.equal(reads, 1);
  });

  it('once a container is held by the hard level, those after it get no new VM: the money goes to the higher priority first', () => {
    const c = cap({ Hard: 40 }, [vm('a', 30)]);
    c.beginPass();
    assert.equal(c.decide('high', 9, [BIG], cheapest)?.hold?.level, 'hard');
    // 4 $/h would fit, but it waits behind the big one.
    assert.deepEqual(c.decide('low', 1, [ON_DEMAND], cheapest)?.hold, { level: 'hard', scope: 'cluster', burn: 30, cap: 40, behindHigher: true });
    // The next pass starts afresh.
    c.beginPass();
    assert.equal(c.decide('low', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
  });

  it('a container whose VM costs more than the hard level on its own holds nobody back', () => {
    const c = cap({ Hard: 10 }, [vm('a', 2)]);
    c.beginPass();
    assert.equal(c.decide('huge', 9, [BIG], cheapest)?.hold?.level, 'hard');
    assert.equal(c.decide('small', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
  });

  it('no type available: undefined, so the pass says why as it did before', () => {
    const c = cap({ Hard: 40 });
    c.beginPass();
    assert.equal(c.decide('c1', 1, [ON_DEMAND], () => undefined), undefined);
  });

  it('a hold is said in the timeline on the first pass of each hold, not on every pass', () => {
    const vms = [vm('a', 39)];
    const c = new SpendingCap(settings({ Hard: 40 }), source(vms), new ManualClock());
    c.beginPass();
    c.decide('c1', 1, [ON_DEMAND], cheapest);
    assert.equal(c.firstHeld('c1'), true);
    c.beginPass();
    c.decide('c1', 1, [ON_DEMAND], cheapest);
    assert.equal(c.firstHeld('c1'), false);
    vms.length = 0;
    c.beginPass();
    assert.equal(c.decide('c1', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
    vms.push(vm('a', 39));
    c.beginPass();
    c.decide('c1', 1, [ON_DEMAND], cheapest);
    assert.equal(c.firstHeld('c1'), true);
  });

  it("view: the levels (0 for one not set), the burn read afresh, the day's spend and forecast, and the containers held in the pass", () => {
    const vms = [vm('a', 38)];
    const total = { dollars: 0 };
    const c = new SpendingCap(settings({ Soft: 30 }), source(vms, total), new ManualClock(Date.UTC(2026, 0, 1, 12)));
    c.beginPass();
    c.decide('c1', 1, [ON_DEMAND], cheapest);
    c.decide('c2', 1, [ON_DEMAND], cheapest);
    vms.push(vm('b', 2));
    total.dollars = 50;
    // 12 hours left in the UTC day at $40/h on top of the $50 spent since start-up.
    assert.deepEqual(c.view(), { soft: 30, hard: 0, burn: 40, spentToday: 50, forecastToday: 50 + 40 * 12, held: 2 });
  });

  it('capDetail: what the timeline records of a hold', () => {
    assert.deepEqual(capDetail({ level: 'hard', scope: 'owner', owner: 'u1', burn: 12.345, cap: 12, behindHigher: true }), {
      level: 'hard',
      scope: 'owner',
      owner: 'u1',
      burn_per_hour: 12.35,
      cap_per_hour: 12,
      behind_higher_priority: 1,
    });
  });
});

describe('spending cap: per owner', () => {
  const owners = { a1: 'alice', a2: 'alice', a3: 'alice', b1: 'bob' };

  it("an owner's burn is its containers' shares of their VMs plus the VMs being created for it; another owner is not held", () => {
    // alice: half of an 8 $/h VM shared with bob, and a whole 4 $/h VM.
    const vms = [vm('v1', 8, ['a1', 'b1'], [0.5, 0.5]), vm('v2', 4, ['a2'])];
    const c = cap({ PerOwnerHard: 10 }, vms, owners);
    c.beginPass();
    assert.deepEqual(c.decide('a3', 1, [ON_DEMAND], cheapest)?.hold, { level: 'hard', scope: 'owner', owner: 'alice', burn: 8, cap: 10 });
    assert.equal(c.decide('b2', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
  });

  it('a VM created for an owner counts as the owner\'s while it runs nothing, under its real id once the cloud answers', () => {
    const vms: LiveVm[] = [];
    const c = cap({ PerOwnerHard: 6 }, vms, owners);
    c.beginPass();
    assert.equal(c.decide('a1', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
    c.created('a1', 'pending-1');
    assert.equal(c.decide('a2', 1, [ON_DEMAND], cheapest)?.hold?.burn, 4);
    // Next pass: the ledger has the placeholder, then the real VM, still running nothing.
    vms.push(vm('pending-1', 4));
    c.beginPass();
    assert.equal(c.decide('a2', 1, [ON_DEMAND], cheapest)?.hold?.burn, 4);
    c.renamed('pending-1', 'i-1');
    vms[0] = vm('i-1', 4);
    c.beginPass();
    assert.equal(c.decide('a2', 1, [ON_DEMAND], cheapest)?.hold?.burn, 4);
    // Gone: alice burns nothing.
    vms.length = 0;
    c.beginPass();
    assert.equal(c.decide('a2', 1, [ON_DEMAND], cheapest)?.type, ON_DEMAND);
  });

  it("an owner's soft level: preemptible only, and a hold names the owner", () => {
    const c = cap({ PerOwnerSoft: 5, PerOwnerHard: 10 }, [vm('v2', 4, ['a2'])], owners);
    c.beginPass();
    assert.deepEqual(c.decide('a1', 1, [ON_DEMAND], cheapest)?.hold, { level: 'soft', scope: 'owner', owner: 'alice', burn: 4, cap: 5 });
    assert.equal(c.decide('a3', 1, [SPOT], cheapest)?.type, SPOT);
  });

  it("over an owner's soft level, a preemptible VM that would take the owner over its hard level is held at the owner's hard level", () => {
    // alice burns 9 $/h: over her soft level; a 1.5 $/h spot VM would take her to 10.5, over her hard one. The cluster has no level.
    const c = cap({ PerOwnerSoft: 5, PerOwnerHard: 10 }, [vm('v2', 9, ['a2'])], owners);
    c.beginPass();
    assert.deepEqual(c.decide('a1', 1, [SPOT], cheapest)?.hold, { level: 'hard', scope: 'owner', owner: 'alice', burn: 9, cap: 10 });
    assert.equal(c.decide('b1', 1, [SPOT], cheapest)?.type, SPOT);
  });

  it('containers whose owner is not known yet share the owner "unknown"', () => {
    const c = cap({ PerOwnerHard: 5 }, [vm('v', 4, ['x1'])], {});
    c.beginPass();
    assert.equal(c.decide('x2', 1, [ON_DEMAND], cheapest)?.hold?.owner, 'unknown');
  });
});
