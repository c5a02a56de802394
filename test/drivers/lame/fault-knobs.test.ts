/**
 * The lame cloud's chaos knobs beyond plain create/destroy errors: list and
 * tag failures, quota and capacity errors as a fraction of creates, and VMs
 * the provider takes back while they run. Each is seeded: the same Seed
 * fails the same calls.
 */
import assert from 'node:assert/strict';
import { isCapacityError, isQuotaError } from '../../../src/cloud/errors.js';
import type { DriverContext } from '../../../src/cloud/types.js';
import { ManualClock } from '../../../src/clock/index.js';
import { type LameInstance, lameDriver, type LameInstanceSet, LameParamsError, parseLameParams, resetLameClouds } from '../../../drivers/lame/index.js';
import { crunchRunDetachCommand, withSudo } from '../../../src/arvados/crunch-run.js';
import { crunchRunConfigJSON } from '../../../src/worker/runner.js';
import { TestController } from '../../fixtures/controller.js';
import { createArgs, DISPATCH_KEY, makeCluster, makeContext, ROOT_TOKEN, SMALL, waitFor } from './helpers.js';

/** The controller crunch-run reaches in-process (the cloud's controllerTransports), as in the simulator. */
const CONTROLLER_URL = 'http://controller.lame-test.invalid';

describe('lame cloud fault knobs', function () {
  this.timeout(20_000);
  let clock: ManualClock;
  let ctx: DriverContext;

  const driver = async (params: Record<string, unknown>, c: DriverContext = ctx): Promise<LameInstanceSet> =>
    (await lameDriver({ Transport: 'inprocess', MinBootTime: '10s', MaxBootTime: '10s', ...params }, c)) as LameInstanceSet;

  const create = async (set: LameInstanceSet, c: DriverContext = ctx): Promise<LameInstance> => {
    const { tags, init } = createArgs(c.instanceSetId, SMALL.Name);
    return (await set.create(SMALL, 'lame-image', tags, init, DISPATCH_KEY.public)) as LameInstance;
  };

  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'ok',
      (e: unknown) => (isQuotaError(e) ? 'quota' : isCapacityError(e) ? 'capacity' : 'error'),
    );

  beforeEach(() => {
    clock = new ManualClock();
    ctx = makeContext({ clock });
  });

  afterEach(async () => {
    await resetLameClouds();
  });

  it('validates the new rates, and QuotaErrorRate plus CapacityErrorRate at most 1', () => {
    for (const key of ['ErrorRateList', 'ErrorRateSetTags', 'QuotaErrorRate', 'CapacityErrorRate', 'ReclaimRate']) {
      assert.throws(() => parseLameParams({ [key]: 2 }), (e: unknown) => e instanceof LameParamsError && e.message.startsWith(`DriverParameters.${key}: expected a number from 0 to 1`));
    }
    assert.throws(() => parseLameParams({ ReclaimAfter: 'later' }), /DriverParameters\.ReclaimAfter/);
    assert.throws(() => parseLameParams({ QuotaErrorRate: 0.6, CapacityErrorRate: 0.5 }), /must not exceed 1/);
    assert.equal(parseLameParams({ ReclaimAfter: '2h' }).ReclaimAfter, 7_200_000);
  });

  it('QuotaErrorRate and CapacityErrorRate fail about their fraction of creates, the same ones for the same Seed', async () => {
    const pattern = async (seed: number): Promise<string[]> => {
      const c = makeContext({ clock });
      const set = await driver({ QuotaErrorRate: 0.2, CapacityErrorRate: 0.3, Seed: seed }, c);
      const out: string[] = [];
      for (let i = 0; i < 200; i++) out.push(await outcome(create(set, c)));
      return out;
    };
    const a = await pattern(7);
    assert.deepEqual(await pattern(7), a);
    assert.notDeepEqual(await pattern(8), a);
    const count = (k: string): number => a.filter((o) => o === k).length;
    assert.ok(count('quota') >= 20 && count('quota') <= 60, `quota ${count('quota')} of 200`);
    assert.ok(count('capacity') >= 35 && count('capacity') <= 85, `capacity ${count('capacity')} of 200`);
    assert.equal(count('error'), 0);
  });

  it('adding the new knobs leaves the earlier seeded draws (boot times, ErrorRateCreate) as they were', async () => {
    const run = async (extra: Record<string, unknown>): Promise<string[]> => {
      const c = makeContext({ clock });
      const set = await driver({ ErrorRateCreate: 0.3, MinBootTime: '1s', MaxBootTime: '100s', Seed: 5, ...extra }, c);
      const out: string[] = [];
      for (let i = 0; i < 30; i++) {
        out.push(await create(set, c).then((inst) => `boot ${inst.vm.bootAt}`, (e: Error) => (/ErrorRateCreate/.test(e.message) ? 'error' : 'other')));
      }
      await resetLameClouds();
      return out;
    };
    const plain = await run({});
    const withFaults = await run({ ErrorRateList: 0.5, ReclaimRate: 0.5 });
    assert.deepEqual(withFaults, plain);
  });

  it('ErrorRateList fails list calls with a plain Error; ErrorRateSetTags fails tag calls and keeps the old tags', async () => {
    const set = await driver({ ErrorRateList: 1, ErrorRateSetTags: 1 });
    const inst = await create(set);
    await assert.rejects(set.instances({}), (e: Error) => /ErrorRateList/.test(e.message) && !isQuotaError(e) && !isCapacityError(e));
    const before = { ...inst.vm.tags };
    await assert.rejects(inst.setTags({ ...before, extra: 'x' }), /ErrorRateSetTags/);
    assert.deepEqual(inst.vm.tags, before);
    set.cloud.configure({ ErrorRateList: 0, ErrorRateSetTags: 0 });
    await inst.setTags({ ...before, extra: 'x' });
    assert.equal((await set.instances({}))[0].tags.extra, 'x');
  });

  it('ReclaimRate: the VM vanishes between boot and boot + ReclaimAfter, its crunch-runs with it', async () => {
    const ctl = new TestController({ rootToken: ROOT_TOKEN, clock });
    const cluster = makeCluster({ controllerURL: CONTROLLER_URL });
    const set = await driver({ ReclaimRate: 1, ReclaimAfter: '1m', MinRunTime: '1h', MaxRunTime: '1h' }, makeContext({ cluster, clock }));
    set.cloud.controllerTransports.set(CONTROLLER_URL, ctl.inProcessTransport());
    const reclaims: string[] = [];
    set.cloud.onReclaim((vm) => reclaims.push(vm.id));
    const inst = await create(set);
    const vm = inst.vm;
    await clock.advance(10_000);
    assert.equal(vm.booted, true);
    const c = ctl.addContainer({ state: 'Locked' });
    const cfg = crunchRunConfigJSON({ cluster, instanceType: SMALL, instanceAddress: inst.address, uuid: c.uuid });
    const cmd = withSudo(crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: [], uuid: c.uuid }), inst.remoteUser);
    const detach = await vm.executor().execute(cmd, { stdin: cfg });
    assert.equal(detach.exitCode, 0, detach.stderr.toString());
    await waitFor('the container to run', () => vm.processes.get(c.uuid)?.phase === 'running');
    await clock.advance(60_000);
    assert.equal(vm.state, 'terminated');
    assert.equal(vm.processes.get(c.uuid)?.alive, false);
    // It died without a word: the container is still Running as far as the controller knows.
    assert.equal(ctl.get(c.uuid)?.state, 'Running');
    assert.deepEqual(await set.instances({}), []);
    assert.equal(set.cloud.reclaimed, 1);
    assert.deepEqual(reclaims, [inst.id]);
  });

  it('ReclaimRate never takes a VM back before it has booted', async () => {
    const set = await driver({ ReclaimRate: 1, ReclaimAfter: '1m', MinBootTime: '1h', MaxBootTime: '1h' });
    const inst = await create(set);
    await clock.advance(3_600_000);
    assert.equal(inst.vm.state, 'running', 'booted, not reclaimed');
    await clock.advance(60_000);
    assert.equal(inst.vm.state, 'terminated');
    assert.equal(set.cloud.reclaimed, 1);
  });

  it('a VM destroyed before its reclaim time is not reclaimed later', async () => {
    const set = await driver({ ReclaimRate: 1, ReclaimAfter: '1m' });
    const inst = await create(set);
    await inst.destroy();
    await clock.advance(120_000);
    assert.equal(set.cloud.reclaimed, 0);
  });
});
