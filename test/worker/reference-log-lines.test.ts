/**
 * The worker pool's log lines that operators grep and alert on carry the
 * reference's message (at least its start), level and fields, so a site's
 * log alerts written for the reference keep working.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CapacityError, QuotaError } from '../../src/cloud/errors.js';
import { initCommandForSecret } from '../../src/arvados/crunch-run.js';
import { createLogger, LineCollector } from '../../src/log.js';
import type { ExecuteResult } from '../../src/ssh/executor.js';
import { FakeCloud } from './fake-cloud.js';
import { Harness, LARGE, SMALL } from './helpers.js';

describe('worker pool: log lines as the reference writes them', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  const records = (msg: string | RegExp) => h.logs.records().filter((r) => (typeof msg === 'string' ? r.msg === msg : msg.test(String(r.msg))));

  it('every failed create is an error, with isCapacityError and isQuotaError', async () => {
    h = await Harness.start({ controller: false });
    h.pool.start();
    await h.tick(0);
    h.cloud.failNextCreate(new CapacityError('no room', { instanceType: 'small' }));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    h.cloud.failNextCreate(new QuotaError('too many instances'));
    assert.ok(h.pool.create(LARGE));
    await h.tick(0);
    const failed = records(/^create failed/).map((r) => [r.level, r.InstanceType, r.isCapacityError, r.isQuotaError]);
    assert.deepEqual(failed, [
      ['error', 'small', true, false],
      ['error', 'large', false, true],
    ]);
    // And the reference's info line for each hold.
    const capacity = records('capacity error -- pausing instance create calls');
    assert.deepEqual(
      capacity.map((r) => [r.level, r.InstanceType, r.capKey, r.atCapacityUntil, r.capacityErrorTTL, r.isInstanceTypeSpecific, r.isInstanceQuotaGroupSpecific]),
      [['info', 'small', `type:${SMALL.ProviderType}:on-demand`, new Date(h.clock.now() + 60_000).toISOString(), 60e9, true, false]],
    );
    const quota = records('quota error with 0 running -- waiting for quotaErrorTTL');
    assert.deepEqual(
      quota.map((r) => [r.level, r.InstanceType, r.atQuotaUntil]),
      [['info', 'large', new Date(h.clock.now() + 60_000).toISOString()]],
    );
  });

  it('a quota error with instances running waits for one to go, and says so', async () => {
    h = await Harness.start({ controller: false, cloudVMs: { TimeoutIdle: 3_600_000 } });
    h.pool.start();
    await h.tick(0);
    await h.createIdle();
    await h.createIdle();
    h.cloud.failNextCreate(new QuotaError('too many instances'));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    assert.deepEqual(
      records('quota error -- waiting for next instance shutdown').map((r) => [r.level, r.atQuotaUntilFewerInstances]),
      [['info', 2]],
    );
  });

  async function appearsTagged(idleBehavior: string): Promise<string> {
    const secret = randomBytes(20).toString('hex');
    const tags = { ArvadosInstanceSetID: h.instanceSetId, ArvadosInstanceType: 'retired-type', ArvadosIdleBehavior: idleBehavior, ArvadosInstanceSecret: secret };
    const inst = await h.instanceSet.create(SMALL, 'img', tags, initCommandForSecret(secret), '');
    return inst.id;
  }

  it('an instance of a type no longer configured: drained (or held) and logged at info in the reference\'s words, with Address', async () => {
    h = await Harness.start({ controller: false, params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: 3_600_000 } });
    const run = await appearsTagged('run');
    const hold = await appearsTagged('hold');
    h.pool.start();
    await h.tick(0);
    const byInstance = new Map(records(/instance that was tagged with an unrecognized InstanceType/).map((r) => [r.Instance, r]));
    assert.equal(byInstance.get(run)?.msg, 'draining instance that was tagged with an unrecognized InstanceType and IdleBehavior = run');
    assert.equal(byInstance.get(hold)?.msg, 'holding instance that was tagged with an unrecognized InstanceType and IdleBehavior = hold');
    for (const r of byInstance.values()) {
      assert.equal(r.level, 'info');
      assert.equal(r.InstanceTypeTag, 'retired-type');
      assert.equal(r.Address, h.cloud.vm(String(r.Instance))?.address, 'the worker lines carry Address');
      assert.ok(typeof r.Address === 'string' && r.Address !== '', `an address: ${String(r.Address)}`);
    }
    assert.equal(h.pool.detail(run)?.idleBehavior, 'drain');
    assert.equal(h.pool.detail(hold)?.idleBehavior, 'hold');
  });

  it('an instance of ours with no InstanceType nor IdleBehavior tag: drained, and logged with both tags empty, as the reference does', async () => {
    h = await Harness.start({ controller: false, params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: 3_600_000 } });
    const secret = randomBytes(20).toString('hex');
    const tags = { ArvadosInstanceSetID: h.instanceSetId, ArvadosInstanceSecret: secret };
    const untagged = (await h.instanceSet.create(SMALL, 'img', tags, initCommandForSecret(secret), '')).id;
    h.pool.start();
    await h.tick(0);
    const lines = records(/instance that was tagged with an unrecognized InstanceType/);
    assert.deepEqual(
      lines.map((r) => [r.Instance, r.level, r.msg, r.InstanceTypeTag]),
      [[untagged, 'info', 'draining instance that was tagged with an unrecognized InstanceType and IdleBehavior = ', '']],
    );
    assert.equal(h.pool.detail(untagged)?.idleBehavior, 'drain');
    assert.equal(h.pool.detail(untagged)?.arvadosInstanceType, '');
  });

  it('boot failed: Duration in nanoseconds and the last boot probe error, as the reference logs it', async () => {
    h = await Harness.withVMThatNeverBoots();
    await h.tick(60_000);
    const [failed] = records('boot failed');
    assert.ok(failed, 'a VM that never boots is logged when given up on');
    assert.equal(failed.level, 'info');
    assert.equal(failed.Duration, Number(failed.DurationMs) * 1e6);
    assert.ok(typeof failed.error === 'string' && failed.error !== '', `the last boot probe error: ${String(failed.error)}`);
  });

  it('boot failed for a VM that never answers SSH: the connect error in error, nothing in stderr (no command ran)', async () => {
    h = await Harness.withVMThatNeverBoots();
    await h.tick(0);
    h.unreachable.add(h.only().instance);
    await h.tick(60_000);
    const [failed] = records('boot failed');
    assert.ok(failed, 'given up on, and logged');
    assert.match(String(failed.error), /cut off by the test/);
    assert.equal(failed.stderr, '');
  });

  it('shutdown requested (info when honoured, debug when refused), shutdown worker with IdleDuration in nanoseconds, instance disappeared with WorkerState', async () => {
    h = await Harness.start({ controller: false, params: { DestroyDelay: 0 }, cloudVMs: { TimeoutIdle: 60_000 } });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    await h.pool.setIdleBehavior(id, 'hold');
    assert.equal(h.pool.shutdown(id), false, 'held: refused');
    const honoured = await h.createIdle();
    assert.equal(h.pool.shutdown(honoured), true);
    assert.deepEqual(
      records('shutdown requested').map((r) => [r.Instance, r.level]),
      [
        [id, 'debug'],
        [honoured, 'info'],
      ],
      'the scheduler asks again every pass at quota: a refusal is not an info line each time',
    );
    await h.pool.setIdleBehavior(id, 'run');
    await h.tick(60_000 + h.cluster.Containers.CloudVMs.ProbeInterval);
    const [idle] = records('shutdown worker');
    assert.ok(idle, 'idled out');
    assert.equal(idle.IdleDuration, Number(idle.IdleDurationMs) * 1e6);
    assert.ok(Number(idle.IdleDurationMs) >= 60_000, `idle ${String(idle.IdleDurationMs)} ms`);

    const other = await h.createIdle();
    const vm = h.cloud.vm(other)!;
    await h.cloud.destroyVM(vm);
    await h.tick(h.cluster.Containers.CloudVMs.SyncInterval);
    const gone = records('instance disappeared in cloud').find((r) => r.Instance === other);
    assert.equal(gone?.WorkerState, 'idle');
  });

  it('set idle behavior is logged at info for every request, even one that changes nothing, as the reference does', async () => {
    h = await Harness.start({ controller: false, cloudVMs: { TimeoutIdle: 3_600_000 } });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    await h.pool.setIdleBehavior(id, 'hold');
    await h.pool.setIdleBehavior(id, 'hold');
    assert.deepEqual(
      records('set idle behavior').map((r) => [r.Instance, r.level, r.IdleBehavior]),
      [
        [id, 'info', 'hold'],
        [id, 'info', 'hold'],
      ],
    );
  });

  it('boot probe succeeded (info) and probe succeeded (debug) carry the command and its output', async () => {
    h = await Harness.start({ controller: false, cloudVMs: { TimeoutIdle: 3_600_000 } });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    const [booted] = records('boot probe succeeded').filter((r) => r.Instance === id);
    assert.ok(booted, 'the boot probe is logged');
    assert.equal(booted.level, 'info');
    assert.equal(booted.Command, h.cluster.Containers.CloudVMs.BootProbeCommand.trim() || 'true');
    assert.equal(typeof booted.stdout, 'string', 'stdout logged');
    assert.equal(typeof booted.stderr, 'string', 'stderr logged');
    const [inService] = records('probes succeeded, instance is in service').filter((r) => r.Instance === id);
    assert.ok(inService, 'the worker went in service');
    assert.ok(typeof inService.ProbeStart === 'string' && Date.parse(inService.ProbeStart) <= h.clock.now(), `ProbeStart: ${String(inService.ProbeStart)}`);
    const listed = records('probe succeeded').filter((r) => r.Instance === id);
    assert.ok(listed.length > 0, 'the --list probe is logged');
    assert.equal(listed[0].level, 'debug');
    assert.match(String(listed[0].Command), / --list/);
    assert.equal(typeof listed[0].stdout, 'string', 'stdout logged');
    assert.equal(typeof listed[0].stderr, 'string', 'stderr logged');
  });

  it('a probe round that finds the last probe of a worker still running skips it, with the reference\'s debug line', async () => {
    const logs = new LineCollector();
    const f = new FakeCloud({}, { logger: createLogger({ stream: logs, level: 'debug' }) });
    const id = await f.idleWorker();
    let answer: (() => void) | undefined;
    f.script(id, { list: () => new Promise<ExecuteResult>((resolve) => (answer = () => resolve({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }))) });
    void f.pool.probeNow();
    await f.tick(0);
    assert.ok(answer, 'the first --list is in flight');
    await f.probe();
    const waiting = logs.records().filter((r) => r.msg === 'still waiting for last probe to finish');
    assert.deepEqual(
      waiting.map((r) => [r.Instance, r.level]),
      [[id, 'debug']],
    );
    answer();
    await f.tick(0);
  });

  it('a cloud listing is logged at debug in the reference\'s three lines, the middle one with the count', async () => {
    const logs = new LineCollector();
    const f = new FakeCloud({}, { logger: createLogger({ stream: logs, level: 'debug' }) });
    f.seed();
    f.seed();
    await f.pool.syncNow();
    const lines = logs.records().filter((r) => ['getting instance list', 'sync instances', 'sync done'].includes(String(r.msg)));
    assert.deepEqual(
      lines.map((r) => [r.msg, r.level, r.Instances]),
      [
        ['getting instance list', 'debug', undefined],
        ['sync instances', 'debug', 2],
        ['sync done', 'debug', undefined],
      ],
    );
  });
});
