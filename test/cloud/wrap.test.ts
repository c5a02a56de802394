import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { asRateLimitError, RateLimitError, isRateLimitError } from '../../src/cloud/errors.js';
import type { Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import { type CloudOperation, wrapInstanceSet } from '../../src/cloud/wrap.js';
import type { InstanceType } from '../../src/config/types.js';
import { createLogger, LineCollector, silentLogger } from '../../src/log.js';

const TYPE: InstanceType = {
  Name: 'small',
  ProviderType: 'p.small',
  VCPUs: 1,
  RAM: 1 << 30,
  Scratch: 0,
  IncludedScratch: 0,
  AddedScratch: 0,
  Price: 0.1,
  Preemptible: false,
  GPU: { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 },
};

/** A minimal in-memory driver recording what reached it and when. */
function fakeDriver(clock: ManualClock) {
  const calls: Array<{ op: string; at: number; tags?: InstanceTags }> = [];
  const instances: Instance[] = [];
  let nextError: unknown;
  const make = (id: string, tags: InstanceTags): Instance => ({
    id,
    providerType: 'p.small',
    tags,
    address: '10.0.0.1',
    remoteUser: 'root',
    setTags: async (t) => {
      calls.push({ op: 'setTags', at: clock.now(), tags: t });
    },
    destroy: async () => {
      calls.push({ op: 'destroy', at: clock.now() });
    },
    verifyHostKey: async () => {},
  });
  const set: InstanceSet = {
    async create(_type, _image, tags) {
      calls.push({ op: 'create', at: clock.now(), tags });
      if (nextError) {
        const e = nextError;
        nextError = undefined;
        throw e;
      }
      const inst = make(`i-${instances.length}`, tags);
      instances.push(inst);
      return inst;
    },
    async instances() {
      calls.push({ op: 'list', at: clock.now() });
      return [...instances, ...instances]; // duplicates across "pages"
    },
    stop() {},
  };
  return {
    set,
    calls,
    instances,
    failNext(err: unknown) {
      nextError = err;
    },
    add(id: string, tags: InstanceTags) {
      instances.push(make(id, tags));
    },
  };
}

describe('wrapInstanceSet', () => {
  it('merges ResourceTags into create tags, the dispatcher tags winning', async () => {
    const clock = new ManualClock(0);
    const d = fakeDriver(clock);
    const set = wrapInstanceSet(d.set, {
      clock,
      logger: silentLogger(),
      maxCloudOpsPerSecond: 0,
      resourceTags: { team: 'genomics', ArvadosInstanceSetID: 'should-lose' },
    });
    const inst = await set.create(TYPE, 'img', { ArvadosInstanceSetID: 'abc' }, 'true', 'ssh-ed25519 AAAA');
    assert.deepEqual(d.calls[0].tags, { team: 'genomics', ArvadosInstanceSetID: 'abc' });
    assert.equal(inst.id, 'i-0');
  });

  it('filters listed instances by tag and de-duplicates them by id', async () => {
    const clock = new ManualClock(0);
    const d = fakeDriver(clock);
    d.add('mine', { ArvadosInstanceSetID: 'abc', x: '1' });
    d.add('theirs', { ArvadosInstanceSetID: 'other' });
    d.add('untagged', {});
    const set = wrapInstanceSet(d.set, { clock, logger: silentLogger(), maxCloudOpsPerSecond: 0, resourceTags: {} });
    const got = await set.instances({ ArvadosInstanceSetID: 'abc' });
    assert.deepEqual(
      got.map((i) => i.id),
      ['mine'],
    );
  });

  it('spaces calls at MaxCloudOpsPerSecond on the injected clock', async () => {
    const clock = new ManualClock(0);
    const d = fakeDriver(clock);
    const set = wrapInstanceSet(d.set, { clock, logger: silentLogger(), maxCloudOpsPerSecond: 4, resourceTags: {} });
    const creates = [1, 2, 3].map(() => set.create(TYPE, 'img', {}, '', ''));
    await clock.advance(0);
    assert.equal(d.calls.length, 1, 'only the first call goes at once');
    await clock.advance(250);
    assert.equal(d.calls.length, 2);
    await clock.advance(250);
    const made = await Promise.all(creates);
    assert.deepEqual(
      d.calls.map((c) => c.at),
      [0, 250, 500],
    );
    // Destroy and setTags share the same budget.
    const p = made[0].destroy();
    await clock.advance(250);
    await p;
    assert.equal(d.calls.at(-1)?.op, 'destroy');
    assert.equal(d.calls.at(-1)?.at, 750);
  });

  it('fails fast after a create RateLimitError until its retry time, then calls the driver again', async () => {
    const clock = new ManualClock(0);
    const d = fakeDriver(clock);
    const seen: Array<[CloudOperation, boolean]> = [];
    const set = wrapInstanceSet(d.set, {
      clock,
      logger: silentLogger(),
      maxCloudOpsPerSecond: 0,
      resourceTags: {},
      observe: (op, err) => seen.push([op, err !== undefined]),
    });
    d.failNext(new Error('provider said', { cause: new RateLimitError('RequestLimitExceeded', 10_000) }));
    await assert.rejects(set.create(TYPE, 'img', {}, '', ''), (e: unknown) => isRateLimitError(e));
    assert.equal(d.calls.length, 1);
    await assert.rejects(set.create(TYPE, 'img', {}, '', ''), (e: unknown) => asRateLimitError(e)?.earliestRetry === 10_000);
    assert.equal(d.calls.length, 1, 'no driver call while holding');
    assert.equal(set.throttle.heldUntil('Create'), 10_000);
    await clock.advance(10_000);
    await set.create(TYPE, 'img', {}, '', '');
    assert.equal(d.calls.length, 2);
    assert.deepEqual(seen, [
      ['Create', true],
      ['Create', false],
    ]);
  });

  it('a RateLimitError with an earlier retry time (a call that was already in flight) does not shorten a hold', async () => {
    const clock = new ManualClock(0);
    const set = wrapInstanceSet(fakeDriver(clock).set, { clock, logger: silentLogger(), maxCloudOpsPerSecond: 0, resourceTags: {} });
    set.throttle.noteError('Create', new RateLimitError('first', 10_000));
    set.throttle.noteError('Create', new RateLimitError('second, asked before the first answer', 5_000));
    assert.equal(set.throttle.heldUntil('Create'), 10_000);
    set.throttle.noteError('Create', new RateLimitError('later', 12_000));
    assert.equal(set.throttle.heldUntil('Create'), 12_000, 'a later retry time extends it');
  });

  it('a wrapped instance, created or listed, gives the driver\'s price history (crunch-run and the cost figures read it)', async () => {
    const clock = new ManualClock(0);
    const history = [{ startTime: 0, price: 0.02 }];
    const inner: Instance = {
      id: 'i-1', providerType: 'p.small', tags: { A: '1' }, address: '10.0.0.1', remoteUser: 'root',
      setTags: async () => {}, destroy: async () => {}, verifyHostKey: async () => {},
      priceHistory: (type) => (type.Preemptible ? history : []),
    };
    const driver: InstanceSet = { create: async () => inner, instances: async () => [inner], stop() {} };
    const set = wrapInstanceSet(driver, { clock, logger: silentLogger(), maxCloudOpsPerSecond: 0, resourceTags: {} });
    const spot = { ...TYPE, Preemptible: true };
    const created = await set.create(spot, 'img', {}, '', '');
    const [listed] = await set.instances({});
    for (const inst of [created, listed]) {
      assert.deepEqual(inst.priceHistory?.(spot), history);
      assert.deepEqual(inst.priceHistory?.(TYPE), []);
    }
  });

  it('a listed instance keeps the driver\'s reclaim notice and zone through the wrapper (the pool acts on both)', async () => {
    const clock = new ManualClock(0);
    const make = (id: string, extra: Partial<Instance>): Instance => ({
      id, providerType: 'p.small', tags: {}, address: '10.0.0.1', remoteUser: 'root',
      setTags: async () => {}, destroy: async () => {}, verifyHostKey: async () => {}, ...extra,
    });
    const driver: InstanceSet = { create: async () => make('i-0', {}), instances: async () => [make('i-1', { reclaimed: true, zone: 'z-a' }), make('i-2', {})], stop() {} };
    const set = wrapInstanceSet(driver, { clock, logger: silentLogger(), maxCloudOpsPerSecond: 0, resourceTags: {} });
    const [gone, fine] = await set.instances({});
    assert.equal(gone.reclaimed, true);
    assert.equal(gone.zone, 'z-a');
    assert.equal(fine.reclaimed, undefined);
    assert.equal(fine.zone, undefined);
  });

  it('a create rate limit does not hold destroy, SetTags or list', async () => {
    const clock = new ManualClock(0);
    const d = fakeDriver(clock);
    const set = wrapInstanceSet(d.set, { clock, logger: silentLogger(), maxCloudOpsPerSecond: 0, resourceTags: {} });
    const inst = await set.create(TYPE, 'img', { ArvadosInstanceSetID: 'abc' }, '', '');
    d.failNext(new RateLimitError('RequestLimitExceeded', 60_000));
    await assert.rejects(set.create(TYPE, 'img', {}, '', ''), (e: unknown) => isRateLimitError(e));
    await assert.rejects(set.create(TYPE, 'img', {}, '', ''), (e: unknown) => isRateLimitError(e));
    await inst.setTags({ ArvadosInstanceSetID: 'abc', ArvadosIdleBehavior: 'drain' });
    assert.equal((await set.instances({ ArvadosInstanceSetID: 'abc' })).length, 1);
    await inst.destroy();
    assert.deepEqual(
      d.calls.map((c) => c.op),
      ['create', 'create', 'setTags', 'list', 'destroy'],
    );
    assert.deepEqual(
      (['Create', 'List', 'Destroy', 'SetTags'] as const).map((op) => set.throttle.heldUntil(op)),
      [60_000, 0, 0, 0],
    );
  });

  it("logs each hold that starts or grows with the reference's line and fields, once (not for a call that fails fast in it)", async () => {
    const clock = new ManualClock(0);
    const d = fakeDriver(clock);
    const lines = new LineCollector();
    const set = wrapInstanceSet(d.set, { clock, logger: createLogger({ stream: lines, clock }), maxCloudOpsPerSecond: 0, resourceTags: {} });
    d.failNext(new RateLimitError('RequestLimitExceeded', 10_000));
    await assert.rejects(set.create(TYPE, 'img', {}, '', ''), (e: unknown) => isRateLimitError(e));
    await assert.rejects(set.create(TYPE, 'img', {}, '', ''), (e: unknown) => isRateLimitError(e));
    set.throttle.noteError('Create', new RateLimitError('shorter: no news', 5_000));
    set.throttle.noteError('List', new RateLimitError('lists too', 2_500));
    assert.deepEqual(
      lines
        .records()
        .filter((r) => r.msg === 'suspending remote calls due to rate-limit error')
        .map((r) => [r.level, r.CallType, r.Duration, r.ResumeAt]),
      [
        ['info', 'create instance', 10_000 * 1e6, new Date(10_000).toISOString()],
        ['info', 'list instances', 2_500 * 1e6, new Date(2_500).toISOString()],
      ],
    );
  });

  it('a list rate limit holds lists only', async () => {
    const clock = new ManualClock(0);
    const d = fakeDriver(clock);
    const set = wrapInstanceSet(d.set, { clock, logger: silentLogger(), maxCloudOpsPerSecond: 0, resourceTags: {} });
    const listOnce = d.set.instances.bind(d.set);
    let throttled = true;
    d.set.instances = async (filter) => {
      if (!throttled) return listOnce(filter);
      throttled = false;
      d.calls.push({ op: 'list', at: clock.now() });
      throw new RateLimitError('DescribeInstances throttled', 5_000);
    };
    await assert.rejects(set.instances({}), (e: unknown) => isRateLimitError(e));
    await assert.rejects(set.instances({}), (e: unknown) => asRateLimitError(e)?.earliestRetry === 5_000);
    const inst = await set.create(TYPE, 'img', {}, '', '');
    await inst.destroy();
    assert.deepEqual(
      d.calls.map((c) => c.op),
      ['list', 'create', 'destroy'],
    );
    await clock.advance(5_000);
    await set.instances({});
    assert.equal(d.calls.at(-1)?.op, 'list');
  });

  it('lists take their turn within MaxCloudOpsPerSecond', async () => {
    const clock = new ManualClock(0);
    const d = fakeDriver(clock);
    const set = wrapInstanceSet(d.set, { clock, logger: silentLogger(), maxCloudOpsPerSecond: 2, resourceTags: {} });
    const calls = [set.instances({}), set.create(TYPE, 'img', {}, '', ''), set.instances({})];
    await clock.advance(0);
    await clock.advance(500);
    await clock.advance(500);
    await Promise.all(calls);
    assert.deepEqual(
      d.calls.map((c) => [c.op, c.at]),
      [
        ['list', 0],
        ['create', 500],
        ['list', 1000],
      ],
    );
  });

  it('reports every driver call to observe, with its error', async () => {
    const clock = new ManualClock(0);
    const d = fakeDriver(clock);
    const seen: Array<[CloudOperation, boolean]> = [];
    const set = wrapInstanceSet(d.set, {
      clock,
      logger: silentLogger(),
      maxCloudOpsPerSecond: 0,
      resourceTags: {},
      observe: (op, err) => seen.push([op, err !== undefined]),
    });
    const inst = await set.create(TYPE, 'img', { a: 'b' }, '', '');
    await inst.setTags({ a: 'c' });
    await set.instances({});
    await inst.destroy();
    d.failNext(new Error('boom'));
    await assert.rejects(set.create(TYPE, 'img', {}, '', ''), /boom/);
    assert.deepEqual(seen, [
      ['Create', false],
      ['SetTags', false],
      ['List', false],
      ['Destroy', false],
      ['Create', true],
    ]);
  });
});
