import assert from 'node:assert/strict';
import { forecast, type ForecastContainer, type ForecastInput, type ForecastInstance, type Need } from '../../src/estimate/forecast.js';
import { remaining, remainingAt } from '../../src/estimate/history.js';

const NOW = 1_000_000;
const MIN = 60_000;
const one: Need = { vcpus: 1, ram: 1, gpus: 0 };
/** The room the estimator gives an instance that takes no new work (on hold, drained). */
const NONE: Need = { vcpus: 0, ram: 0, gpus: 0 };
const ten = { typical: 10 * MIN, low: 5 * MIN, high: 20 * MIN };

function flat(ms: number): { typical: number; low: number; high: number } {
  return { typical: ms, low: ms, high: ms };
}

function ctr(types: string[], runtime = ten, need = one): ForecastContainer {
  return { types, need, runtime };
}

function input(over: Partial<ForecastInput>): ForecastInput {
  return {
    now: NOW,
    containers: [],
    instances: [],
    limits: { maxContainers: 0, maxInstances: 0, atQuota: false, atCapacity: new Set(), capacityRetryMs: MIN, idleTimeoutMs: MIN, leavingMs: flat(0) },
    capacities: new Map([
      ['a', one],
      ['b', one],
    ]),
    bootMs: (t) => flat(t === 'b' ? 4 * MIN : 3 * MIN),
    ...over,
  };
}

/** An instance of `type` (1 VCPU) running one container that has `left` ms to go on the typical band. */
function busy(type: string, left: number): ForecastInstance {
  return { type, capacity: one, state: 'running', running: [{ startedAt: NOW - MIN, runtime: { typical: MIN + left, low: MIN + left, high: MIN + left }, need: one }] };
}

describe('forecast', () => {
  it('starts a container on an idle instance now, in every band', () => {
    const r = forecast(input({ containers: [ctr(['a'])], instances: [{ type: 'a', capacity: one, state: 'idle', running: [] }] }));
    assert.deepEqual([r.low[0], r.typical[0], r.high[0]], [NOW, NOW, NOW]);
  });

  it('waits for the running containers to end when no instance may be added, in order', () => {
    const limits = { ...input({}).limits, maxInstances: 2, idleTimeoutMs: 10 * MIN };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a']), ctr(['a'])], instances: [busy('a', 5 * MIN), busy('a', 2 * MIN)], limits }));
    assert.deepEqual([...r.typical], [NOW + 2 * MIN, NOW + 5 * MIN, NOW + 12 * MIN]);
    // The band: the third waits for the first of them to run its low or high runtime.
    assert.equal(r.low[2], NOW + 2 * MIN + 5 * MIN);
    assert.equal(r.high[2], NOW + 2 * MIN + 20 * MIN);
  });

  it('boots a new instance when none is free and more are allowed', () => {
    const r = forecast(input({ containers: [ctr(['a']), ctr(['b'])], instances: [busy('a', 30 * MIN)] }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + 4 * MIN]);
  });

  it('counts a booting instance from its create call', () => {
    const r = forecast(input({ containers: [ctr(['a'])], instances: [{ type: 'a', capacity: one, state: 'booting', bootStartedAt: NOW - MIN, running: [] }] }));
    assert.equal(r.typical[0], NOW + 2 * MIN);
  });

  it('at MaxInstances, replaces the instance that empties first: shut down then, no longer counted a listing later, then a boot', () => {
    const limits = { ...input({}).limits, maxInstances: 1, leavingMs: { low: 0, typical: MIN / 2, high: MIN } };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [busy('b', 4 * MIN)], limits }));
    assert.equal(r.typical[0], NOW + 4 * MIN + MIN / 2 + 3 * MIN);
    assert.deepEqual([r.low[0], r.high[0]], [NOW + 4 * MIN + 3 * MIN, NOW + 4 * MIN + MIN + 3 * MIN], 'each band with its own time to leave');
  });

  it('counts an instance already shut down against MaxInstances until it leaves, and replaces it first', () => {
    const leaving: ForecastInstance = { type: 'b', capacity: NONE, state: 'leaving', shutdownAt: NOW - 20_000, running: [] };
    const limits = { ...input({}).limits, maxInstances: 2, leavingMs: flat(MIN) };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a'])], instances: [leaving, busy('b', 4 * MIN)], limits }));
    // The first waits for the listing 40 s from now; the second for the other to empty and leave.
    assert.deepEqual([...r.typical], [NOW + 40_000 + 3 * MIN, NOW + 4 * MIN + MIN + 3 * MIN]);
    // Overdue: its listing is any moment now.
    const late = forecast(input({ containers: [ctr(['a'])], instances: [{ ...leaving, shutdownAt: NOW - 5 * MIN }], limits: { ...limits, maxInstances: 1 } }));
    assert.equal(late.typical[0], NOW + 3 * MIN);
  });

  it('at MaxInstances, replaces one instance at a time (the next once the last has left, or TimeoutIdle after it empties); under a quota error, all at once', () => {
    const limits = { ...input({}).limits, maxInstances: 2, leavingMs: flat(MIN), idleTimeoutMs: 10 * MIN };
    const two = { containers: [ctr(['a']), ctr(['a'])], instances: [busy('b', 4 * MIN), busy('b', 4 * MIN)] };
    assert.deepEqual([...forecast(input({ ...two, limits })).typical], [NOW + 8 * MIN, NOW + 9 * MIN]);
    const soon = forecast(input({ ...two, limits: { ...limits, idleTimeoutMs: 20_000 } }));
    assert.deepEqual([...soon.typical], [NOW + 8 * MIN, NOW + 4 * MIN + 20_000 + MIN + 3 * MIN], 'TimeoutIdle first');
    const quota = forecast(input({ ...two, limits: { ...limits, maxInstances: 0, atQuota: true, quotaError: true } }));
    assert.deepEqual([...quota.typical], [NOW + 8 * MIN, NOW + 8 * MIN]);
  });

  it('at quota, adds no instance', () => {
    const limits = { ...input({}).limits, atQuota: true };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [busy('a', 7 * MIN)], limits }));
    assert.equal(r.typical[0], NOW + 7 * MIN);
  });

  it('tries a type at capacity only after the retry, so a dearer type may come first', () => {
    const limits = { ...input({}).limits, atCapacity: new Set(['a']), capacityRetryMs: 2 * MIN };
    const r = forecast(input({ containers: [ctr(['a', 'b']), ctr(['a'])], limits }));
    assert.deepEqual([...r.typical], [NOW + 4 * MIN, NOW + 5 * MIN]);
  });

  it('holds starts back under the concurrency limit', () => {
    const limits = { ...input({}).limits, maxContainers: 1 };
    const idle: ForecastInstance = { type: 'a', capacity: one, state: 'idle', running: [] };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a'])], instances: [idle, { ...idle }], limits }));
    assert.deepEqual([...r.typical], [NOW, NOW + 10 * MIN]);
  });

  it('under a concurrency limit that grows, lets a container in once those ahead have started, then boots its instance', () => {
    const idle: ForecastInstance = { type: 'a', capacity: one, state: 'idle', running: [] };
    const cs = Array.from({ length: 6 }, () => ctr(['a'], flat(10 * MIN)));
    const fixed = { ...input({}).limits, maxContainers: 2 };
    const instances = [idle, { ...idle }];
    // A fixed limit: the third waits for the first to end.
    assert.equal(forecast(input({ containers: cs, instances, limits: fixed })).typical[2], NOW + 10 * MIN);
    // Growing: each waits for the one before it to start, then for a boot (3 min), until
    // waiting for an end is sooner.
    const r = forecast(input({ containers: cs, instances, limits: { ...fixed, maxContainersGrows: true } }));
    assert.deepEqual([...r.typical], [NOW, NOW, NOW + 3 * MIN, NOW + 6 * MIN, NOW + 9 * MIN, NOW + 10 * MIN]);
    // A rise lets in a tenth more, all locked at the same moment: with a limit of 20, the
    // 21st and 22nd both wait for the first 20 to start, then boot.
    const many = Array.from({ length: 23 }, () => ctr(['a'], flat(30 * MIN)));
    const g = forecast(input({ containers: many, limits: { ...fixed, maxContainers: 20, maxContainersGrows: true } }));
    assert.deepEqual([g.typical[19], g.typical[20], g.typical[21], g.typical[22]], [NOW + 3 * MIN, NOW + 6 * MIN, NOW + 6 * MIN, NOW + 6 * MIN]);
  });

  it('packs containers onto an instance with room', () => {
    const two: Need = { vcpus: 2, ram: 2, gpus: 0 };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a']), ctr(['a'])], instances: [{ type: 'a', capacity: two, state: 'idle', running: [] }], limits: { ...input({}).limits, atQuota: true } }));
    assert.deepEqual([...r.typical], [NOW, NOW, NOW + 10 * MIN]);
  });

  it('gives Infinity to a container no type fits', () => {
    const r = forecast(input({ containers: [ctr([])] }));
    assert.equal(r.typical[0], Infinity);
  });

  it('beyond the exact limit, works through the backlog by the fleet VCPUs', () => {
    const limits = { ...input({}).limits, maxInstances: 1 };
    const cs = [ctr(['a']), ctr(['a']), ctr(['a']), ctr(['a'])];
    const r = forecast(input({ containers: cs, instances: [{ type: 'a', capacity: one, state: 'idle', running: [] }], limits, exactLimit: 1 }));
    assert.equal(r.exact, 1);
    assert.deepEqual([...r.typical], [NOW, NOW + 10 * MIN, NOW + 20 * MIN, NOW + 30 * MIN]);
  });

  it('beyond the exact limit, gives the instances still allowed a boot each', () => {
    const limits = { ...input({}).limits, maxInstances: 2 };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a']), ctr(['a'])], limits, exactLimit: 0 }));
    // Two new instances, then the third waits for the fleet (2 VCPUs) to work through 2 x (boot + 10 min).
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + 3 * MIN, NOW + 13 * MIN]);
  });

  it('at equal times puts a container on an instance already booting rather than a new one', () => {
    // One VM may still be added. A type-b VM created a minute ago is ready in 3 min, as a new
    // type-a VM would be: the first container takes the booting one, so the second (type a only)
    // gets the new VM instead of waiting for a replacement.
    const limits = { ...input({}).limits, maxInstances: 2 };
    const booting: ForecastInstance = { type: 'b', capacity: one, state: 'booting', bootStartedAt: NOW - MIN, running: [] };
    const r = forecast(input({ containers: [ctr(['a', 'b']), ctr(['a'])], instances: [booting], limits }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + 3 * MIN]);
  });

  it('boots a new instance in the band of the boot time: short for the earliest start, long for the latest', () => {
    const r = forecast(input({ containers: [ctr(['a'])], bootMs: () => ({ low: 2 * MIN, typical: 3 * MIN, high: 5 * MIN }) }));
    assert.deepEqual([r.low[0], r.typical[0], r.high[0]], [NOW + 2 * MIN, NOW + 3 * MIN, NOW + 5 * MIN]);
  });

  it('waits for a GPU to be free, not only VCPUs and RAM', () => {
    const gpuType: Need = { vcpus: 4, ram: 4, gpus: 1 };
    const gpu1: Need = { vcpus: 1, ram: 1, gpus: 1 };
    const inst: ForecastInstance = { type: 'g', capacity: gpuType, state: 'running', running: [{ startedAt: NOW, runtime: flat(10 * MIN), need: gpu1 }] };
    const limits = { ...input({}).limits, atQuota: true };
    const r = forecast(input({ containers: [ctr(['g'], ten, gpu1)], instances: [inst], limits, capacities: new Map([['g', gpuType]]) }));
    assert.equal(r.typical[0], NOW + 10 * MIN);
  });

  it('creates the cheapest eligible type when several would be ready at the same time', () => {
    // a (1 VCPU) and b (2 VCPUs) boot alike; one VM may be added. The first container gets an
    // a, so the second waits for it rather than sharing a b.
    const two: Need = { vcpus: 2, ram: 2, gpus: 0 };
    const limits = { ...input({}).limits, maxInstances: 1 };
    const capacities = new Map([
      ['a', one],
      ['b', two],
    ]);
    const r = forecast(input({ containers: [ctr(['a', 'b']), ctr(['a', 'b'])], limits, capacities, bootMs: () => flat(3 * MIN) }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + 13 * MIN]);
  });

  it('under a concurrency limit that grows, waits for the latest start admitted so far, not the last placed', () => {
    // Limit 2, growing. The first needs a new b (4 min), the second starts now on the idle a; the
    // third finds the limit full and is let in once everything admitted has started (4 min,
    // the first), then boots a new a (3 min).
    const idle: ForecastInstance = { type: 'a', capacity: one, state: 'idle', running: [] };
    const limits = { ...input({}).limits, maxContainers: 2, maxContainersGrows: true };
    const cs = [ctr(['b'], flat(10 * MIN)), ctr(['a'], flat(10 * MIN)), ctr(['a'], flat(10 * MIN))];
    const r = forecast(input({ containers: cs, instances: [idle], limits }));
    assert.deepEqual([...r.typical], [NOW + 4 * MIN, NOW, NOW + 7 * MIN]);
  });

  it('beyond the exact limit, counts the boot still to come of a booting instance as work ahead', () => {
    const booting: ForecastInstance = { type: 'a', capacity: one, state: 'booting', bootStartedAt: NOW, running: [] };
    const limits = { ...input({}).limits, atQuota: true };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [booting], limits, exactLimit: 0 }));
    assert.equal(r.typical[0], NOW + 3 * MIN);
  });

  it('beyond the exact limit, holds the backlog to the concurrency limit even with VCPUs to spare', () => {
    // Four idle VMs, no more allowed, one container at a time: each waits for the one before.
    const idle: ForecastInstance = { type: 'a', capacity: one, state: 'idle', running: [] };
    const limits = { ...input({}).limits, atQuota: true, maxContainers: 1 };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a']), ctr(['a'])], instances: [idle, { ...idle }, { ...idle }, { ...idle }], limits, exactLimit: 0 }));
    assert.deepEqual([...r.typical], [NOW, NOW + 10 * MIN, NOW + 20 * MIN]);
  });

  it('beyond the exact limit, gives a new instance only to as many as the concurrency limit lets in', () => {
    // No MaxInstances, a limit of 1: the first gets a new VM, the second waits for its boot and run.
    const limits = { ...input({}).limits, maxContainers: 1 };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a'])], limits, exactLimit: 0 }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + 13 * MIN]);
  });

  it('at MaxInstances, boots the cheapest eligible type in place of the instance that goes idle first', () => {
    // The only instance is a c, which it cannot use: it goes idle in 4 min, is shut down then
    // (and leaves the count at once here), and an a, first of its types (3 min boot, b takes 4), boots.
    const limits = { ...input({}).limits, maxInstances: 1 };
    const r = forecast(input({ containers: [ctr(['a', 'b'])], instances: [busy('c', 4 * MIN)], limits }));
    assert.equal(r.typical[0], NOW + 4 * MIN + 3 * MIN);
  });

  it('at MaxInstances, never counts on an instance on hold being replaced: the pool never shuts one down', () => {
    // The estimator gives a held instance no room, so nothing starts on it either.
    const held: ForecastInstance = { type: 'b', capacity: NONE, state: 'idle', idleBehavior: 'hold', running: [] };
    const limits = { ...input({}).limits, maxInstances: 1 };
    const alone = forecast(input({ containers: [ctr(['a']), ctr(['b'])], instances: [held], limits }));
    assert.deepEqual([...alone.typical], [Infinity, Infinity]);
    assert.deepEqual([...alone.low, ...alone.high], [Infinity, Infinity, Infinity, Infinity]);
    // Beside it, an instance that runs work goes idle in 4 min: that one is replaced (then a boot).
    const both = forecast(input({ containers: [ctr(['a'])], instances: [held, busy('b', 4 * MIN)], limits: { ...limits, maxInstances: 2 } }));
    assert.equal(both.typical[0], NOW + 4 * MIN + 3 * MIN);
  });

  it('at MaxInstances, replaces a drained instance once it is empty, without waiting TimeoutIdle', () => {
    // The pool shuts a drained instance down as soon as nothing runs on it, idle or booting (no
    // TimeoutIdle); one still running goes when its last container ends.
    const limits = { ...input({}).limits, maxInstances: 1, idleTimeoutMs: 10 * MIN };
    const drained = (i: ForecastInstance): ForecastInstance => ({ ...i, capacity: NONE, idleBehavior: 'drain' });
    const idle = forecast(input({ containers: [ctr(['a'])], instances: [drained({ type: 'b', capacity: one, state: 'idle', running: [] })], limits }));
    assert.equal(idle.typical[0], NOW + 3 * MIN);
    const booting = drained({ type: 'b', capacity: one, state: 'booting', bootStartedAt: NOW, running: [] });
    assert.equal(forecast(input({ containers: [ctr(['a'])], instances: [booting], limits })).typical[0], NOW + 3 * MIN);
    const running = forecast(input({ containers: [ctr(['a'])], instances: [drained(busy('b', 4 * MIN))], limits }));
    assert.equal(running.typical[0], NOW + 4 * MIN + 3 * MIN);
    // Beside an instance that runs work and empties sooner, the one that empties first goes first.
    const two = forecast(input({ containers: [ctr(['a'])], instances: [busy('b', 2 * MIN), drained(busy('b', 4 * MIN))], limits: { ...limits, maxInstances: 2 } }));
    assert.equal(two.typical[0], NOW + 2 * MIN + 3 * MIN);
  });

  it('at the limit, waits for many running containers in the order their time left spreads them, not all at their median', () => {
    const run: ForecastInstance = { type: 'a', capacity: one, state: 'running', running: [{ startedAt: NOW, runtime: ten, need: one }] };
    const three = { containers: [ctr(['a']), ctr(['a']), ctr(['a'])], instances: [run, run, run] };
    const r = forecast(input({ ...three, limits: { ...input({}).limits, maxInstances: 3 } }));
    // The first played at its median, the others at quantiles spread around it (the golden ratio's).
    const ends = [0.5, 0.118033988749895, 0.736067977499790].map((q) => NOW + remainingAt(ten, 0, q)).sort((a, b) => a - b);
    assert.deepEqual([...r.typical].map(Math.round), ends.map(Math.round));
    assert.ok(r.typical[0] < NOW + 10 * MIN && r.typical[2] > NOW + 10 * MIN, 'one before the median, one after');
    // The other bands, and a forecast that may add instances, keep each at its own estimate.
    assert.deepEqual([...r.low], [NOW + 5 * MIN, NOW + 5 * MIN, NOW + 5 * MIN]);
    assert.deepEqual([...forecast(input(three)).typical], [NOW + 3 * MIN, NOW + 3 * MIN, NOW + 3 * MIN]);
  });

  it('at the limit, counts a running container past its median as having more to go; below it, as about to end', () => {
    const long: ForecastInstance = { type: 'a', capacity: one, state: 'running', running: [{ startedAt: NOW - 15 * MIN, runtime: ten, need: one }] };
    const atLimit = forecast(input({ containers: [ctr(['a'])], instances: [long], limits: { ...input({}).limits, maxInstances: 1 } }));
    assert.equal(Math.round(atLimit.typical[0]), Math.round(NOW + remainingAt(ten, 15 * MIN, 0.5)));
    assert.ok(atLimit.typical[0] > NOW + 4 * MIN, 'about 4 min left, where alone it was a minute');
    // With a new instance 3 min away, its likeliest end (a tenth of its estimate) is sooner.
    const free = forecast(input({ containers: [ctr(['a'])], instances: [long] }));
    assert.equal(free.typical[0], NOW + remaining(ten, 15 * MIN).typical);
  });

  it('counts the containers already running against the concurrency limit', () => {
    const limits = { ...input({}).limits, maxContainers: 1 };
    const idle: ForecastInstance = { type: 'a', capacity: one, state: 'idle', running: [] };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [busy('a', 5 * MIN), idle], limits }));
    assert.equal(r.typical[0], NOW + 5 * MIN);
  });

  it('under a fixed concurrency limit, lets in one container per end', () => {
    const limits = { ...input({}).limits, maxContainers: 1 };
    const idle: ForecastInstance = { type: 'a', capacity: one, state: 'idle', running: [] };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a']), ctr(['a'])], instances: [idle, { ...idle }, { ...idle }], limits }));
    assert.deepEqual([...r.typical], [NOW, NOW + 10 * MIN, NOW + 20 * MIN]);
  });

  it('at MaxInstances, gives Infinity to a container no type fits rather than a replacement', () => {
    const limits = { ...input({}).limits, maxInstances: 1 };
    const r = forecast(input({ containers: [ctr([]), ctr(['a'])], instances: [busy('b', 4 * MIN)], limits }));
    assert.deepEqual([...r.typical], [Infinity, NOW + 4 * MIN + 3 * MIN]);
  });

  it('at MaxInstances, waits for an instance that frees up as soon as a replacement would be ready rather than shut another down', () => {
    // The a frees up in 3 min, when a new a would be ready in place of the idle b: the first waits
    // for the a, and the b is left for the second.
    const limits = { ...input({}).limits, maxInstances: 2 };
    const idleB: ForecastInstance = { type: 'b', capacity: one, state: 'idle', running: [] };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['b'])], instances: [busy('a', 3 * MIN), idleB], limits }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW]);
  });

  it('at equal times takes the booting instance and creates for the next, rather than replace the booting one later', () => {
    // As above, but a replaced instance counts for a minute after its shutdown: a replacement is
    // later than the new VM the first container leaves for the second.
    const limits = { ...input({}).limits, maxInstances: 2, leavingMs: flat(MIN) };
    const booting: ForecastInstance = { type: 'b', capacity: one, state: 'booting', bootStartedAt: NOW - MIN, running: [] };
    const r = forecast(input({ containers: [ctr(['a', 'b']), ctr(['a'])], instances: [booting], limits }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + 3 * MIN]);
  });

  it('at MaxInstances, replaces every drained instance as it empties, not one at a time', () => {
    const limits = { ...input({}).limits, maxInstances: 2, leavingMs: flat(MIN), idleTimeoutMs: 10 * MIN };
    const drained: ForecastInstance = { type: 'b', capacity: NONE, state: 'idle', idleBehavior: 'drain', running: [] };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a'])], instances: [drained, { ...drained }], limits }));
    assert.deepEqual([...r.typical], [NOW + MIN + 3 * MIN, NOW + MIN + 3 * MIN]);
  });

  it('while instances may be added, creates one rather than count on shutting down an idle one of another type', () => {
    // The a is at capacity (retried in 2 min): a new a is ready in 5 min, though the idle b could go now.
    const limits = { ...input({}).limits, atCapacity: new Set(['a']), capacityRetryMs: 2 * MIN };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [{ type: 'b', capacity: one, state: 'idle', running: [] }], limits }));
    assert.equal(r.typical[0], NOW + 5 * MIN);
  });

  it('starts a container at once on an instance with a VCPU free beside a running one', () => {
    const two: Need = { vcpus: 2, ram: 2, gpus: 0 };
    const half: ForecastInstance = { type: 'a', capacity: two, state: 'running', running: [{ startedAt: NOW, runtime: flat(10 * MIN), need: one }] };
    const limits = { ...input({}).limits, atQuota: true };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [busy('a', 5 * MIN), half], limits }));
    assert.equal(r.typical[0], NOW);
  });

  it('beyond the exact limit, leaves no new instance to a container the concurrency limit holds back behind running ones', () => {
    // A limit of 2 with one running (5 min to go): one new VM; the second waits for the fluid.
    const limits = { ...input({}).limits, maxContainers: 2 };
    const r = forecast(input({ containers: [ctr(['a'], flat(10 * MIN)), ctr(['a'], flat(10 * MIN))], instances: [busy('a', 5 * MIN)], limits, exactLimit: 0 }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + 9 * MIN]);
  });

  it('beyond the exact limit, counts a new instance by the VCPUs of its type', () => {
    // One c (4 VCPUs) may be added: its boot and first container (13 VCPU-min) over 4 VCPUs.
    const limits = { ...input({}).limits, maxInstances: 1 };
    const capacities = new Map([['c', { vcpus: 4, ram: 4, gpus: 0 }]]);
    const r = forecast(input({ containers: [ctr(['c'], flat(10 * MIN)), ctr(['c'], flat(10 * MIN))], limits, capacities, exactLimit: 0 }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + (13 * MIN) / 4]);
  });

  it('beyond the exact limit, counts the boot of an instance the exact part created once', () => {
    // The first gets the only VM allowed (ready in 3 min, busy 10): the second waits for 13 min of work.
    const limits = { ...input({}).limits, maxInstances: 1 };
    const r = forecast(input({ containers: [ctr(['a'], flat(10 * MIN)), ctr(['a'], flat(10 * MIN))], limits, exactLimit: 1 }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + 13 * MIN]);
  });

  it('beyond the exact limit, leaves an instance replaced in the exact part out of the fleet', () => {
    // The b empties in 4 min and is replaced by an a, ready at 7 min and busy 10: the second waits for it.
    const limits = { ...input({}).limits, maxInstances: 1 };
    const r = forecast(input({ containers: [ctr(['a'], flat(10 * MIN)), ctr(['a'], flat(10 * MIN))], instances: [busy('b', 4 * MIN)], limits, exactLimit: 1 }));
    assert.deepEqual([...r.typical], [NOW + 7 * MIN, NOW + 17 * MIN]);
  });

  it('beyond the exact limit, gives Infinity to a container no type fits, and it takes nothing from those after it', () => {
    const atQuota = { ...input({}).limits, atQuota: true };
    const r = forecast(input({ containers: [ctr(['a']), ctr([]), ctr(['a'])], instances: [busy('a', 5 * MIN)], limits: atQuota, exactLimit: 0 }));
    assert.deepEqual([...r.typical], [NOW + 5 * MIN, Infinity, NOW + 15 * MIN]);
    // The one VM still allowed goes to the next that fits.
    const oneMore = forecast(input({ containers: [ctr([]), ctr(['a'])], limits: { ...atQuota, atQuota: false, maxInstances: 1 }, exactLimit: 0 }));
    assert.deepEqual([...oneMore.typical], [Infinity, NOW + 3 * MIN]);
  });

  it('once the last instance allowed is added, finds the running container likeliest to end first by the spread of ends', () => {
    // Two running: one at its median (10 min), one, longer (12 min), at a quantile that ends it
    // sooner. The first container takes the one new VM allowed; the second the sooner end.
    const run = (runtime: typeof ten): ForecastInstance => ({ type: 'a', capacity: one, state: 'running', running: [{ startedAt: NOW, runtime, need: one }] });
    const twelve = { typical: 12 * MIN, low: 6 * MIN, high: 24 * MIN };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a'])], instances: [run(ten), run(twelve)], limits: { ...input({}).limits, maxInstances: 3 } }));
    assert.equal(r.typical[0], NOW + 3 * MIN);
    assert.equal(Math.round(r.typical[1]), Math.round(NOW + remainingAt(twelve, 0, 0.118033988749895)));
  });

  it('at the limit, frees room on an instance running several containers in the order the spread ends them', () => {
    // One VM, 2 VCPUs: a 10-min container at its median, a 12-min one at a quantile that ends it
    // sooner. A container waits for the sooner of the two, not the one with the sooner median.
    const two: Need = { vcpus: 2, ram: 2, gpus: 0 };
    const twelve = { typical: 12 * MIN, low: 6 * MIN, high: 24 * MIN };
    const inst: ForecastInstance = { type: 'a', capacity: two, state: 'running', running: [{ startedAt: NOW, runtime: ten, need: one }, { startedAt: NOW, runtime: twelve, need: one }] };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [inst], limits: { ...input({}).limits, atQuota: true }, capacities: new Map([['a', two]]) }));
    assert.equal(Math.round(r.typical[0]), Math.round(NOW + remainingAt(twelve, 0, 0.118033988749895)));
  });

  it('counts a booting instance ready in the band of the boot time', () => {
    const booting: ForecastInstance = { type: 'a', capacity: one, state: 'booting', bootStartedAt: NOW, running: [] };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [booting], limits: { ...input({}).limits, atQuota: true }, bootMs: () => ({ low: 2 * MIN, typical: 3 * MIN, high: 5 * MIN }) }));
    assert.deepEqual([r.low[0], r.typical[0], r.high[0]], [NOW + 2 * MIN, NOW + 3 * MIN, NOW + 5 * MIN]);
  });

  it('at MaxInstances, boots the replacement in the band of the boot time', () => {
    const limits = { ...input({}).limits, maxInstances: 1 };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [busy('b', 4 * MIN)], limits, bootMs: () => ({ low: 2 * MIN, typical: 3 * MIN, high: 5 * MIN }) }));
    assert.deepEqual([r.low[0], r.typical[0], r.high[0]], [NOW + 6 * MIN, NOW + 7 * MIN, NOW + 9 * MIN]);
  });

  it('at the limit, keeps each running container at its own p90 in the high band', () => {
    const run: ForecastInstance = { type: 'a', capacity: one, state: 'running', running: [{ startedAt: NOW, runtime: ten, need: one }] };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['a']), ctr(['a'])], instances: [run, run, run], limits: { ...input({}).limits, maxInstances: 3 } }));
    assert.deepEqual([...r.high], [NOW + 20 * MIN, NOW + 20 * MIN, NOW + 20 * MIN]);
  });

  it('beyond the exact limit, counts a new instance of a type of unknown size as one VCPU', () => {
    // No capacities known: the exact part takes the one VM allowed to fit anything; the fluid
    // does not take it for infinitely many VCPUs.
    const limits = { ...input({}).limits, maxInstances: 1 };
    const r = forecast(input({ containers: [ctr(['a'], flat(10 * MIN)), ctr(['a'], flat(10 * MIN))], limits, capacities: new Map(), exactLimit: 1 }));
    assert.deepEqual([...r.typical], [NOW + 3 * MIN, NOW + 13 * MIN]);
  });

  it('at the limit, keeps a running container on its instance until its spread end, though its median has passed', () => {
    // Two on held VMs take the first two quantiles; the one on the a (2 VCPUs) ends late in the
    // spread. The first container takes its free VCPU, the second the first's; the third waits
    // for the running one, though its median (10 min) is before the second's start (11 min).
    const held: ForecastInstance = { type: 'b', capacity: NONE, state: 'running', idleBehavior: 'hold', running: [{ startedAt: NOW, runtime: ten, need: one }] };
    const two: Need = { vcpus: 2, ram: 2, gpus: 0 };
    const a: ForecastInstance = { type: 'a', capacity: two, state: 'running', running: [{ startedAt: NOW, runtime: ten, need: one }] };
    const cs = [ctr(['a'], flat(11 * MIN)), ctr(['a']), ctr(['a'])];
    const r = forecast(input({ containers: cs, instances: [held, held, a], limits: { ...input({}).limits, atQuota: true }, capacities: new Map([['a', two]]) }));
    assert.deepEqual([r.typical[0], r.typical[1]], [NOW, NOW + 11 * MIN]);
    assert.equal(Math.round(r.typical[2]), Math.round(NOW + remainingAt(ten, 0, 0.7360679774997898)));
  });

  it('looks past an instance with some room but not enough to one of the same type that frees up sooner', () => {
    // Two a VMs (2 VCPUs): one with a VCPU free till 10 min, one full till 5 min. A 2-VCPU
    // container waits for the second.
    const two: Need = { vcpus: 2, ram: 2, gpus: 0 };
    const part: ForecastInstance = { type: 'a', capacity: two, state: 'running', running: [{ startedAt: NOW, runtime: flat(10 * MIN), need: one }] };
    const full: ForecastInstance = { type: 'a', capacity: two, state: 'running', running: [{ startedAt: NOW, runtime: flat(5 * MIN), need: two }] };
    const r = forecast(input({ containers: [ctr(['a'], ten, two)], instances: [part, full], limits: { ...input({}).limits, atQuota: true }, capacities: new Map([['a', two]]) }));
    assert.equal(r.typical[0], NOW + 5 * MIN);
  });

  it('beyond the exact limit, holds the backlog to the concurrency limit as it has grown in the exact part', () => {
    // Two idle VMs, two more allowed, a limit of 2 that grows: the first four start at 0, 0, 3
    // and 6 min (the limit rose to 4 on the way). The fifth: 49 VCPU-min of work ahead over 4
    // VCPUs, and as much container time over a limit of 4, not 2.
    const idle: ForecastInstance = { type: 'a', capacity: one, state: 'idle', running: [] };
    const limits = { ...input({}).limits, maxInstances: 4, maxContainers: 2, maxContainersGrows: true };
    const cs = Array.from({ length: 5 }, () => ctr(['a'], flat(10 * MIN)));
    const r = forecast(input({ containers: cs, instances: [idle, { ...idle }], limits, exactLimit: 4 }));
    assert.deepEqual([...r.typical], [NOW, NOW, NOW + 3 * MIN, NOW + 6 * MIN, NOW + (49 * MIN) / 4]);
  });

  it('keeps a running container on its instance past its median while instances may still be added, for when none may', () => {
    // Two on held VMs take the first two quantiles, so the ten-minute one on the a ends late in
    // the spread. The first container takes its VCPU at its median (10 min; a new a is 12 min
    // away); the second takes the last VM allowed (a c); the third then waits for the spread end.
    const held: ForecastInstance = { type: 'b', capacity: NONE, state: 'running', idleBehavior: 'hold', running: [{ startedAt: NOW, runtime: ten, need: one }] };
    const two: Need = { vcpus: 2, ram: 2, gpus: 0 };
    const running = [{ startedAt: NOW, runtime: ten, need: one }, { startedAt: NOW, runtime: flat(10.5 * MIN), need: one }];
    const a: ForecastInstance = { type: 'a', capacity: two, state: 'running', running };
    const limits = { ...input({}).limits, maxInstances: 4 };
    const r = forecast(input({ containers: [ctr(['a']), ctr(['c']), ctr(['a'])], instances: [held, held, a], limits, capacities: new Map([['a', two]]), bootMs: (t) => flat(t === 'a' ? 12 * MIN : 3 * MIN) }));
    assert.deepEqual([r.typical[0], r.typical[1]], [NOW + 10 * MIN, NOW + 3 * MIN]);
    assert.equal(Math.round(r.typical[2]), Math.round(NOW + remainingAt(ten, 0, 0.7360679774997898)));
  });

  it('at MaxInstances, boots a replacement of a type at capacity only after the capacity retry, or another type sooner', () => {
    const limits = { ...input({}).limits, maxInstances: 1, atCapacity: new Set(['a']), capacityRetryMs: 10 * MIN };
    const r = forecast(input({ containers: [ctr(['a'])], instances: [busy('b', MIN)], limits }));
    assert.equal(r.typical[0], NOW + 10 * MIN + 3 * MIN);
    const either = forecast(input({ containers: [ctr(['a', 'c'])], instances: [busy('b', MIN)], limits }));
    assert.equal(either.typical[0], NOW + MIN + 3 * MIN, 'c is not at capacity: it replaces b as soon as b is gone');
  });

  it('at MaxInstances, replaces an instance already shut down first, whatever the order of the listing', () => {
    const limits = { ...input({}).limits, maxInstances: 2, leavingMs: flat(MIN), idleTimeoutMs: 10 * MIN };
    const idleB: ForecastInstance = { type: 'b', capacity: one, state: 'idle', running: [] };
    const leaving: ForecastInstance = { type: 'b', capacity: NONE, state: 'leaving', shutdownAt: NOW, running: [] };
    for (const instances of [[idleB, leaving], [leaving, idleB]]) {
      const r = forecast(input({ containers: [ctr(['a'])], instances, limits }));
      assert.equal(r.typical[0], NOW + MIN + 3 * MIN, instances.map((i) => i.state).join(', '));
    }
  });

  it('beyond the exact limit, gives Infinity when there is no instance and none may be added, as within it', () => {
    const limits = { ...input({}).limits, atQuota: true };
    assert.equal(forecast(input({ containers: [ctr(['a'])], limits })).typical[0], Infinity);
    assert.equal(forecast(input({ containers: [ctr(['a'])], limits, exactLimit: 0 })).typical[0], Infinity);
  });
});
