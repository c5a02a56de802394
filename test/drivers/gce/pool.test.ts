/**
 * The worker pool over the gce driver and the local Compute endpoint: what
 * the pool does with VMs that powered off, were stopped by someone else,
 * are being deleted, or are in a zone that does not answer the listing. The
 * pool runs on a manual clock; the driver and the endpoint on real time
 * (their operations are real HTTP calls). Each VM's executor answers like
 * the VM would: every command succeeds while the guest is powered on, and
 * the connection is refused once it is off.
 */
import assert from 'node:assert/strict';
import { ManualClock, settle } from '../../../src/clock/index.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import { SshConnectError } from '../../../src/ssh/errors.js';
import type { Executor } from '../../../src/ssh/executor.js';
import { WorkerPoolImpl } from '../../../src/worker/pool.js';
import type { GceInstanceSet } from '../../../drivers/gce/index.js';
import { POWERED_OFF } from '../../fixtures/gce/model.js';
import type { FakeGCE } from '../../fixtures/gce/server.js';
import { waitFor } from '../../cloud/conformance.js';
import { DISPATCH_KEY, gceCluster, makeDriver, N2, PROJECT, startFake } from './helpers.js';

describe('gce driver under the worker pool: stopped and deleting VMs', function () {
  this.timeout(30_000);
  let fake: FakeGCE;
  let driver: GceInstanceSet;
  let pool: WorkerPoolImpl;
  let clock: ManualClock;
  let logs: LineCollector;
  let cluster = gceCluster();
  let vms = cluster.Containers.CloudVMs;

  async function setUp(fakeOpts: Parameters<typeof startFake>[0] = {}, maxInstances = 64): Promise<void> {
    cluster = gceCluster();
    vms = cluster.Containers.CloudVMs;
    vms.MaxInstances = maxInstances;
    fake = await startFake(fakeOpts);
    const h = await makeDriver(fake, { cluster });
    driver = h.driver;
    clock = new ManualClock();
    logs = new LineCollector();
    pool = new WorkerPoolImpl({
      cluster,
      instanceSet: driver,
      newExecutor: (inst) => executorFor(inst.id),
      clock,
      logger: createLogger({ stream: logs, level: 'debug', clock }),
      instanceSetId: h.ctx.instanceSetId,
      publicKey: DISPATCH_KEY.public,
    });
  }

  before(async function () {
    // The client library takes seconds to load and warm up on a busy machine: not any one test's time.
    this.timeout(120_000);
    await setUp();
    await driver.instances({});
    driver.stop();
    await fake.stop();
  });

  afterEach(async () => {
    pool?.stop();
    driver?.stop();
    await fake?.stop();
  });

  function vm(name: string) {
    return fake.instances().find((i) => i.name === name);
  }

  function executorFor(name: string): Executor {
    return {
      execute: async () => {
        const v = vm(name);
        if (!v || v.deleted || POWERED_OFF.has(v.status)) throw new SshConnectError(`${name}:22`, 'refused', 'the guest is powered off');
        return { stdout: Buffer.from(''), stderr: Buffer.from(''), exitCode: 0 };
      },
      setTarget: () => undefined,
      close: () => undefined,
    };
  }

  /** Creates a VM through the pool and probes it until it is idle; returns its name. */
  async function createIdle(): Promise<string> {
    assert.ok(pool.create(N2), 'create declined');
    await waitFor('the create to return', () => pool.instances().some((v) => !v.instance.startsWith('pending-')));
    const name = pool.instances()[0].instance;
    await probe();
    assert.equal(pool.detail(name)?.workerState, 'idle');
    return name;
  }

  /** One probe round, run to the end (the executors answer without I/O). */
  async function probe(): Promise<void> {
    await pool.probeNow();
    await settle(8);
  }

  /** Probes (failing), moves the clock past `ms`, probes again: the pool gives up on the VM. */
  async function probeFailuresFor(ms: number): Promise<void> {
    await probe();
    await clock.advance(ms + 1000);
    await probe();
  }

  it('keeps a TERMINATED instance of ours in the list, so the pool destroys it (a VM that halts at boot)', async () => {
    await setUp();
    assert.ok(pool.create(N2));
    await waitFor('the create to return', () => pool.instances().some((v) => !v.instance.startsWith('pending-')));
    const name = pool.instances()[0].instance;
    await fake.halt(name);
    assert.equal(vm(name)?.status, 'TERMINATED');
    await pool.syncNow();
    assert.equal(pool.detail(name)?.workerState, 'booting', 'the halted VM is still a worker after the listing');
    await probeFailuresFor(vms.TimeoutBooting);
    assert.ok(logs.records().some((r) => r.msg === 'new instance unresponsive, shutting down' && r.Instance === name));
    await waitFor('the halted VM to be deleted', () => vm(name)?.deleted === true);
  });

  for (const [how, status] of [
    ['stopped', 'TERMINATED'],
    ['suspended', 'SUSPENDED'],
  ] as const) {
    it(`keeps a VM someone else ${how} (${status}) in the list, so the pool destroys it`, async () => {
      await setUp();
      const name = await createIdle();
      const at = { project: PROJECT, zone: vm(name)!.zone, instance: name };
      await (how === 'stopped' ? driver.clients.instances.stop(at) : driver.clients.instances.suspend(at));
      await waitFor(`the VM to be ${how}`, () => vm(name)?.status === status);
      await pool.syncNow();
      assert.ok(pool.detail(name), `the ${how} VM is still a worker after the listing`);
      await probeFailuresFor(vms.TimeoutProbe);
      await waitFor(`the ${how} VM to be deleted`, () => vm(name)?.deleted === true);
    });
  }

  it('counts a VM being deleted until it is gone: not re-created, not counted twice, re-destroyed quietly', async () => {
    await setUp({ deleteDelayMs: 1500 }, 1);
    const name = await createIdle();
    assert.ok(pool.shutdown(name));
    await waitFor('the delete to start', () => vm(name)?.status === 'STOPPING');
    await pool.syncNow();
    assert.deepEqual(
      pool.details().map((v) => [v.instance, v.workerState]),
      [[name, 'shutdown']],
      'one worker, shutting down, while GCE deletes it',
    );
    assert.deepEqual(pool.countWorkers(), { unknown: 0, booting: 0, idle: 0, running: 0, shutdown: 1 });
    assert.equal(pool.createBlocker(N2), 'at MaxInstances', 'the deleting VM still counts against MaxInstances');
    // Past TimeoutShutdown the pool asks again; GCE says the VM is not ready (a delete is running): not a failure.
    await clock.advance(vms.TimeoutShutdown + 1000);
    await pool.syncNow();
    await waitFor('the second delete', () => fake.calls().filter((c) => c.kind === 'delete').length === 2);
    await waitFor('the delete to finish', () => vm(name)?.deleted === true, 5000);
    assert.equal(pool.details().length, 1, 'still counted until a listing shows it gone');
    await pool.syncNow();
    assert.deepEqual(pool.details(), []);
    assert.equal(pool.createBlocker(N2), undefined);
    assert.ok(!logs.records().some((r) => r.msg === 'shutdown failed'), 'a second delete during the first is not a failure');
  });

  it('a zone of ours that does not answer the listing: the pool keeps its workers; a zone outside Zone does not hold listings up', async () => {
    await setUp();
    const name = await createIdle();
    fake.unreachableZone(vm(name)!.zone);
    await pool.syncNow();
    assert.equal(pool.detail(name)?.workerState, 'idle', 'still a worker: the listing failed rather than leave it out');
    assert.ok(logs.records().some((r) => r.msg === 'sync failed: cannot list cloud instances'));
    fake.clearFaults();
    fake.unreachableZone('europe-west1-b');
    // Listed without that zone: a VM gone meanwhile is noticed although a zone of the project is down.
    assert.ok(pool.shutdown(name));
    await waitFor('the delete to finish', () => vm(name)?.deleted === true, 5000);
    await pool.syncNow();
    assert.deepEqual(pool.details(), []);
  });

  it('a VM being deleted keeps the pool paused on a quota error until it is gone, then creates resume at once', async () => {
    await setUp({ deleteDelayMs: 1500 });
    const name = await createIdle();
    assert.ok(pool.shutdown(name));
    await waitFor('the delete to start', () => vm(name)?.status === 'STOPPING');
    // The deleting VM still holds the quota: the next create fails.
    fake.failNext('insert', { asyncError: 'QUOTA_EXCEEDED' });
    assert.ok(pool.create(N2));
    await waitFor('the create to fail', () => pool.atQuota());
    await pool.syncNow();
    assert.ok(pool.atQuota(), 'the deleting VM is counted, so the quota pause holds');
    await waitFor('the delete to finish', () => vm(name)?.deleted === true, 5000);
    await pool.syncNow();
    assert.equal(pool.atQuota(), false, 'gone from the list: the quota it held is free, no need to wait out the pause');
  });
});
