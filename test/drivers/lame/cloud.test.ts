/**
 * The lame cloud's knobs and hooks: parameters, quota, capacity, seeded
 * error rates, destroy delay, held creates, and VMs that outlive an
 * instance set (a dispatcher restart in the same process). In-process
 * transport and a manual clock unless a test says otherwise.
 */
import assert from 'node:assert/strict';
import { asCapacityError, isCapacityError, isQuotaError, isRateLimitError } from '../../../src/cloud/errors.js';
import type { DriverContext } from '../../../src/cloud/types.js';
import { ManualClock } from '../../../src/clock/index.js';
import { CommandTimeoutError, SshConnectError } from '../../../src/ssh/errors.js';
import { INSTANCE_SECRET_PATH } from '../../../src/arvados/crunch-run.js';
import {
  DEFAULT_PARAMS,
  getLameCloud,
  type LameInstance,
  lameDriver,
  type LameInstanceSet,
  LameParamsError,
  parseDuration,
  parseLameParams,
  resetLameClouds,
} from '../../../drivers/lame/index.js';
import { createArgs, DISPATCH_KEY, LARGE, makeContext, SMALL } from './helpers.js';

describe('lame driver parameters', () => {
  it('defaults suit a demo', () => {
    const p = parseLameParams({});
    assert.deepEqual(p, { ...DEFAULT_PARAMS });
    assert.equal(p.MinBootTime, 1000);
    assert.equal(p.MaxRunTime, 20_000);
    assert.equal(p.Transport, 'ssh');
    assert.equal(p.AdminUsername, 'crunch');
  });

  it('injects no faults by default', () => {
    const p = parseLameParams({});
    const rates = ['ErrorRateCreate', 'ErrorRateDestroy', 'ErrorRateList', 'ErrorRateSetTags', 'QuotaErrorRate', 'CapacityErrorRate', 'CrunchRunCrashRate', 'NeverBootRate', 'BrokenRate', 'ReclaimRate'] as const;
    for (const k of rates) assert.equal(p[k], 0, k);
    assert.deepEqual([p.QuotaMaxInstances, p.CapacityErrorTypes, p.StaleLockTime, p.KillDelay, p.DestroyDelay], [0, [], 0, 0, 0]);
  });

  it('parses Go durations and numbers of ms', () => {
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration(42), 42);
    for (const bad of ['', '10', '1x', 's', '-1s', 'abc', '1s2']) assert.throws(() => parseDuration(bad), Error, bad);
    const p = parseLameParams({ MinBootTime: '2s', MaxBootTime: '1m', MinRunTime: 0, MaxRunTime: '0' });
    assert.deepEqual([p.MinBootTime, p.MaxBootTime, p.MinRunTime, p.MaxRunTime], [2000, 60_000, 0, 0]);
  });

  it('rejects bad values, naming the parameter', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ Bogus: 1 }, /DriverParameters\.Bogus: unknown parameter/],
      [{ ErrorRateCreate: 1.5 }, /DriverParameters\.ErrorRateCreate: expected a number from 0 to 1/],
      [{ ErrorRateDestroy: '0.1' }, /DriverParameters\.ErrorRateDestroy/],
      [{ MinBootTime: 'soon' }, /DriverParameters\.MinBootTime: invalid duration/],
      [{ MinRunTime: '10s', MaxRunTime: '5s' }, /DriverParameters\.MaxRunTime: must not be less than MinRunTime/],
      [{ QuotaMaxInstances: -1 }, /DriverParameters\.QuotaMaxInstances/],
      [{ CapacityErrorTypes: 'm5.large' }, /DriverParameters\.CapacityErrorTypes: expected a list of strings/],
      [{ Transport: 'carrier-pigeon' }, /DriverParameters\.Transport: expected "ssh" or "inprocess"/],
      [{ Seed: 1.5 }, /DriverParameters\.Seed/],
      [{ AdminUsername: 'Not A User' }, /DriverParameters\.AdminUsername/],
      [{ MinBootTime: -5 }, /DriverParameters\.MinBootTime: expected a non-negative duration/],
      [{ QuotaMaxInstances: 1.5 }, /DriverParameters\.QuotaMaxInstances: expected a non-negative integer/],
      [{ LocalCacheSize: 1.5 }, /DriverParameters\.LocalCacheSize: expected a non-negative integer/],
      [{ CrunchRunVersion: '3.2' }, /DriverParameters\.CrunchRunVersion: expected a release like "3\.2\.0"/],
      [{ RefuseStartsFrom: '2h', RefuseStartsUntil: '1h' }, /DriverParameters\.RefuseStartsUntil: must be after RefuseStartsFrom/],
      [{ RefuseStartsFrom: '1h', RefuseStartsUntil: '1h' }, /DriverParameters\.RefuseStartsUntil: must be after RefuseStartsFrom/],
    ];
    for (const [params, re] of cases) assert.throws(() => parseLameParams(params), (e: unknown) => e instanceof LameParamsError && re.test(e.message));
  });

  it('takes an empty value (YAML null) as the default, and refuses DriverParameters that are not a mapping', () => {
    const p = parseLameParams({ MaxBootTime: null, StaleLockTime: null, Transport: null });
    assert.deepEqual([p.MaxBootTime, p.StaleLockTime, p.Transport], [DEFAULT_PARAMS.MaxBootTime, 0, 'ssh']);
    assert.throws(() => parseLameParams([] as unknown as Record<string, unknown>), (e: unknown) => e instanceof LameParamsError && e.message === 'DriverParameters: expected a mapping');
  });

  it('lets one bound imply the other', () => {
    assert.deepEqual([parseLameParams({ MaxBootTime: 0 }).MinBootTime, parseLameParams({ MaxBootTime: 0 }).MaxBootTime], [0, 0]);
    assert.equal(parseLameParams({ MinRunTime: '1m' }).MaxRunTime, 60_000);
  });

  it('a null bound is not given: the other still implies it, as when it is left out', () => {
    const boot = parseLameParams({ MinBootTime: null, MaxBootTime: 0 });
    assert.deepEqual([boot.MinBootTime, boot.MaxBootTime], [0, 0]);
    const run = parseLameParams({ MinRunTime: '1m', MaxRunTime: null });
    assert.deepEqual([run.MinRunTime, run.MaxRunTime], [60_000, 60_000]);
  });

  it('the factory throws for bad parameters', () => {
    assert.throws(() => lameDriver({ Nope: true }, makeContext()), /DriverParameters\.Nope/);
  });
});

describe('lame cloud', function () {
  this.timeout(20_000);
  let clock: ManualClock;
  let ctx: DriverContext;

  const driver = async (params: Record<string, unknown> = {}, c: DriverContext = ctx): Promise<LameInstanceSet> =>
    (await lameDriver({ Transport: 'inprocess', MinBootTime: 0, MaxBootTime: 0, ...params }, c)) as LameInstanceSet;

  const create = async (set: LameInstanceSet, type = SMALL, id = ctx.instanceSetId): Promise<LameInstance> => {
    const { tags, init } = createArgs(id, type.Name);
    return (await set.create(type, 'lame-image', tags, init, DISPATCH_KEY.public)) as LameInstance;
  };

  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'ok',
      (e: unknown) => (isQuotaError(e) ? 'quota' : isCapacityError(e) ? 'capacity' : isRateLimitError(e) ? 'ratelimit' : 'error'),
    );

  beforeEach(() => {
    clock = new ManualClock();
    ctx = makeContext({ clock });
  });

  afterEach(async () => {
    await resetLameClouds();
  });

  it('gives ids lame-<n>, unique per cloud, and the admin user as remote user', async () => {
    const set = await driver({ AdminUsername: 'admin' });
    const a = await create(set);
    const b = await create(set);
    assert.deepEqual([a.id, b.id], ['lame-1', 'lame-2']);
    assert.equal(a.remoteUser, 'admin');
    assert.equal(a.providerType, 'lame.small');
  });

  it('QuotaMaxInstances: creates beyond it fail with QuotaError until an instance goes away', async () => {
    const set = await driver({ QuotaMaxInstances: 2 });
    const results = await Promise.all([0, 1, 2].map(() => outcome(create(set))));
    assert.deepEqual(results.sort(), ['ok', 'ok', 'quota']);
    const [first] = await set.instances({});
    await first.destroy();
    assert.equal(await outcome(create(set)), 'ok');
  });

  it('CapacityErrorTypes: that type always fails with CapacityError for it; others work', async () => {
    const set = await driver({ CapacityErrorTypes: ['lame.large'] });
    const err = await create(set, LARGE).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.equal(asCapacityError(err)?.instanceType, 'lame.large');
    assert.equal(await outcome(create(set, SMALL)), 'ok');
  });

  it('ErrorRateCreate with a Seed fails the same creates every run', async () => {
    const pattern = async (seed: number): Promise<string[]> => {
      const c = makeContext({ clock });
      const set = await driver({ ErrorRateCreate: 0.5, Seed: seed }, c);
      const out: string[] = [];
      for (let i = 0; i < 20; i++) out.push(await outcome(create(set, SMALL, c.instanceSetId)));
      return out;
    };
    const a = await pattern(42);
    const b = await pattern(42);
    const c = await pattern(43);
    assert.deepEqual(a, b);
    assert.ok(a.includes('ok') && a.includes('error'), `a mix of outcomes: ${a.join(',')}`);
    assert.notDeepEqual(a, c);
  });

  it('ErrorRateDestroy 1: destroy fails and the VM stays', async () => {
    const set = await driver({ ErrorRateDestroy: 1 });
    const inst = await create(set);
    await assert.rejects(inst.destroy(), /ErrorRateDestroy/);
    assert.equal((await set.instances({})).length, 1);
    assert.equal(inst.vm.state, 'running');
  });

  it('DestroyDelay: a destroyed VM stops answering at once and leaves the list later', async () => {
    const set = await driver({ DestroyDelay: '30s' });
    const inst = await create(set);
    const exec = set.executorFor(inst)!;
    assert.equal((await exec.execute('true')).exitCode, 0);
    await inst.destroy();
    await assert.rejects(exec.execute('true'), (e: unknown) => e instanceof SshConnectError && e.kind === 'refused');
    assert.deepEqual((await set.instances({})).map((i) => i.id), [inst.id]);
    await clock.advance(30_000);
    assert.deepEqual(await set.instances({}), []);
    await inst.destroy(); // already gone: not an error
  });

  it('a destroyed VM still listed during DestroyDelay no longer counts against QuotaMaxInstances', async () => {
    const set = await driver({ QuotaMaxInstances: 1, DestroyDelay: '30s' });
    const first = await create(set);
    assert.equal(await outcome(create(set)), 'quota');
    await first.destroy();
    assert.equal((await set.instances({})).length, 1, 'still listed');
    assert.equal(await outcome(create(set)), 'ok');
  });

  it('destroying a VM again is not an error, even with ErrorRateDestroy 1; tagging it fails once it has left the list', async () => {
    const set = await driver({ DestroyDelay: '30s' });
    const inst = await create(set);
    await inst.destroy();
    set.cloud.configure({ ErrorRateDestroy: 1 });
    await inst.destroy();
    await clock.advance(29_999);
    assert.deepEqual((await set.instances({})).map((i) => i.id), [inst.id], 'the second destroy did not restart DestroyDelay');
    await clock.advance(1);
    assert.deepEqual(await set.instances({}), []);
    await inst.destroy();
    await assert.rejects(inst.setTags({ a: 'b' }), new RegExp(`instance ${inst.id} not found`));
  });

  it('tags are copies: the objects given to create and setTags, and the tags of an Instance, are not the VM tags', async () => {
    const set = await driver();
    const { tags, init } = createArgs(ctx.instanceSetId);
    const inst = (await set.create(SMALL, 'lame-image', tags, init, DISPATCH_KEY.public)) as LameInstance;
    const before = { ...tags };
    tags.ArvadosIdleBehavior = 'changed';
    (inst.tags as Record<string, string>).Extra = 'x';
    assert.deepEqual(inst.vm.tags, before);
    const next = { ...before, Color: 'red' };
    await inst.setTags(next);
    next.Color = 'blue';
    assert.equal(inst.vm.tags.Color, 'red');
    assert.equal(inst.tags.Color, undefined, 'an Instance is a snapshot');
    const [listed] = await set.instances({});
    (listed.tags as Record<string, string>).Color = 'green';
    assert.equal(inst.vm.tags.Color, 'red');
  });

  it('BrokenAfter counts from the end of the boot', async () => {
    const set = await driver({ BrokenRate: 1, BrokenAfter: '1m', MinBootTime: '10s', MaxBootTime: '10s' });
    const inst = await create(set);
    await clock.advance(69_999);
    assert.equal(inst.vm.reportsBroken, false);
    await clock.advance(1);
    assert.equal(inst.vm.reportsBroken, true);
  });

  it('writes the instance secret from the init command, unless a line before it ends the script (exit, exec)', async () => {
    const set = await driver();
    const secretAfter = async (before: string): Promise<string | undefined> => {
      const { tags, init, secret } = createArgs(ctx.instanceSetId);
      const inst = (await set.create(SMALL, 'lame-image', tags, before + init, DISPATCH_KEY.public)) as LameInstance;
      const written = inst.vm.files.get(INSTANCE_SECRET_PATH)?.toString();
      return written === undefined ? undefined : written === secret ? 'secret' : `wrong: ${written}`;
    };
    assert.equal(await secretAfter(''), 'secret');
    assert.equal(await secretAfter('exiting=1\nexecutable=x\n'), 'secret', 'only the exit and exec commands end it');
    assert.equal(await secretAfter('exit 0\n'), undefined);
    assert.equal(await secretAfter('  exec /sbin/init\n'), undefined);
  });

  it('boots after a time drawn from [MinBootTime, MaxBootTime] on the clock', async () => {
    const set = await driver({ MinBootTime: '1s', MaxBootTime: '3s', Seed: 1 });
    const inst = await create(set);
    const exec = set.executorFor(inst)!;
    assert.equal((await exec.execute('systemctl is-system-running')).exitCode, 1);
    assert.ok(inst.vm.bootAt >= clock.now() + 1000 && inst.vm.bootAt <= clock.now() + 3000);
    await clock.advance(999);
    assert.equal((await exec.execute('systemctl is-system-running')).exitCode, 1);
    await clock.advance(2001);
    assert.equal((await exec.execute('systemctl is-system-running')).exitCode, 0);
  });

  it('NeverBootRate 1: the boot probe and crunch-run keep failing whatever the clock says, until setBooted', async () => {
    const set = await driver({ NeverBootRate: 1, MinBootTime: '1s', MaxBootTime: '1s' });
    const inst = await create(set);
    const exec = set.executorFor(inst)!;
    assert.equal(inst.vm.neverBoots, true);
    await clock.advance(3_600_000);
    assert.equal(inst.vm.booted, false);
    assert.equal((await exec.execute('systemctl is-system-running')).exitCode, 1);
    assert.equal((await exec.execute('sudo crunch-run --list')).exitCode, 1);
    inst.vm.setBooted();
    assert.equal((await exec.execute('systemctl is-system-running')).exitCode, 0);
    // It is still an ordinary VM for the cloud: listed, and destroyed normally.
    assert.deepEqual((await set.instances({})).map((i) => i.id), [inst.id]);
    await inst.destroy();
    assert.deepEqual(await set.instances({}), []);
  });

  it('NeverBootRate with a Seed hangs the same VMs every run, and some boot', async () => {
    const pattern = async (seed: number): Promise<boolean[]> => {
      const c = makeContext({ clock });
      const set = await driver({ NeverBootRate: 0.3, Seed: seed }, c);
      const out: boolean[] = [];
      for (let i = 0; i < 20; i++) out.push((await create(set, SMALL, c.instanceSetId)).vm.neverBoots);
      return out;
    };
    const a = await pattern(42);
    assert.deepEqual(a, await pattern(42));
    assert.ok(a.includes(true) && a.includes(false), `a mix of outcomes: ${a.join(',')}`);
    // The default is 0: every VM boots.
    const set = await driver();
    assert.equal((await create(set)).vm.neverBoots, false);
    assert.throws(() => parseLameParams({ NeverBootRate: 2 }), /DriverParameters\.NeverBootRate: expected a number from 0 to 1/);
  });

  it('test hooks: failNextCreate is one-shot, holdCreates holds, calls are counted', async () => {
    const set = await driver();
    const cloud = set.cloud;
    cloud.failNextCreate(new Error('boom'));
    await assert.rejects(create(set), /boom/);
    assert.equal(await outcome(create(set)), 'ok');
    cloud.failNextCreate(new Error('first'));
    cloud.failNextCreate(new Error('second'));
    await assert.rejects(create(set), /first/);
    await assert.rejects(create(set), /second/);

    cloud.holdCreates();
    let done = false;
    const held = create(set).then((i) => {
      done = true;
      return i;
    });
    await clock.advance(0);
    assert.equal(done, false);
    assert.equal(cloud.callCounts().create, 5, 'a held create is counted before it waits');
    cloud.releaseCreates();
    await held;
    assert.equal(done, true);

    const [inst] = await set.instances({});
    cloud.holdSetTags();
    let tagged = false;
    const tagging = inst.setTags({ a: 'b' }).then(() => (tagged = true));
    await clock.advance(0);
    assert.equal(tagged, false, 'held');
    assert.equal(cloud.vm(inst.id)?.tags.a, undefined);
    cloud.releaseSetTags();
    await tagging;
    assert.equal(cloud.vm(inst.id)?.tags.a, 'b');
    await inst.destroy();
    assert.deepEqual(cloud.callCounts(), { create: 5, instances: 1, destroy: 1, setTags: 1 });
    assert.deepEqual(cloud.listVMs().map((v) => v.id), ['lame-2']);
  });

  it('instances(filter) returns only VMs with every tag of the filter', async () => {
    const set = await driver();
    const a = await create(set);
    await a.setTags({ ...a.tags, Color: 'red' });
    await create(set);
    assert.deepEqual((await set.instances({ Color: 'red' })).map((i) => i.id), [a.id]);
    assert.equal((await set.instances({ ArvadosInstanceSetID: ctx.instanceSetId })).length, 2);
    assert.deepEqual(await set.instances({ ArvadosInstanceSetID: 'someone-else' }), []);
  });

  it('a second factory call with the same InstanceSetID sees the same VMs and tags; stop() leaves them running', async () => {
    const first = await driver();
    const inst = await create(first);
    await inst.setTags({ ...inst.tags, ArvadosIdleBehavior: 'hold' });
    first.stop();
    await assert.rejects(first.instances({}), /after stop/);
    await assert.rejects(create(first), /after stop/);
    assert.equal(inst.vm.state, 'running');

    const second = await driver();
    assert.equal(second.cloud, first.cloud);
    assert.equal(getLameCloud(ctx.instanceSetId), first.cloud);
    const listed = await second.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    assert.deepEqual(listed.map((i) => [i.id, i.tags.ArvadosIdleBehavior]), [[inst.id, 'hold']]);
    assert.equal((await second.executorFor(listed[0])!.execute('true')).exitCode, 0);
    // A different transport cannot adopt VMs built for this one.
    assert.throws(() => lameDriver({ Transport: 'ssh' }, ctx), /DriverParameters\.Transport/);
    assert.throws(() => first.cloud.configure({ Transport: 'ssh' }), /DriverParameters\.Transport: cloud .* already uses inprocess/);
    assert.equal(first.cloud.params.Transport, 'inprocess');
  });

  it('declares a billing rule only when BillingIncrement or BillingMinimum is set', async () => {
    assert.equal((await driver({ CloudName: 'exact' })).billingRule(), undefined);
    assert.deepEqual((await driver({ CloudName: 'hourly', BillingIncrement: '1h' })).billingRule(), { incrementMs: 3_600_000, minimumMs: 0 });
    assert.deepEqual((await driver({ CloudName: 'minimum', BillingMinimum: '1m' })).billingRule(), { incrementMs: 0, minimumMs: 60_000 });
  });

  it('a later factory call for the same cloud adopts its parameters and context, as a restarted dispatcher with a new config', async () => {
    const first = await driver({ DestroyDelay: '30s' });
    const restarted = makeContext({ clock, instanceSetId: ctx.instanceSetId });
    const second = await driver({ DestroyDelay: '5s', QuotaMaxInstances: 3 }, restarted);
    assert.equal(second.cloud, first.cloud);
    assert.deepEqual([second.cloud.params.DestroyDelay, second.cloud.params.QuotaMaxInstances], [5000, 3]);
    assert.equal(second.cloud.ctx, restarted);
  });

  it('CloudName lets two instance sets share a cloud', async () => {
    const a = await driver({ CloudName: 'shared' });
    const other = makeContext({ clock });
    const b = await driver({ CloudName: 'shared' }, other);
    await create(a);
    await create(b, SMALL, other.instanceSetId);
    assert.equal(a.cloud, b.cloud);
    assert.equal((await a.instances({ ArvadosInstanceSetID: ctx.instanceSetId })).length, 1);
    assert.equal((await a.instances({})).length, 2);
  });

  it('the in-process executor honours timeoutMs on the clock', async () => {
    const set = await driver({ KillDelay: '1h', MinRunTime: '1h', MaxRunTime: '1h' });
    const inst = await create(set);
    const exec = set.executorFor(inst)!;
    // A crunch-run with no reachable controller sits in its retry backoff; --kill then waits for it.
    const detached = await exec.execute("sudo crunch-run --detach --stdin-config 'zzzzz-dz642-000000000000001'", {
      stdin: JSON.stringify({ Env: { ARVADOS_API_HOST: 'http://127.0.0.1:1', ARVADOS_API_TOKEN: 'x' } }),
    });
    assert.equal(detached.exitCode, 0);
    const killing = assert.rejects(exec.execute('sudo crunch-run --kill 15 zzzzz-dz642-000000000000001', { timeoutMs: 500 }), CommandTimeoutError);
    await clock.advance(500);
    await killing;
  });
});
