/**
 * The worker pool over the gce driver and the local Compute endpoint when
 * creates run over GCE quotas: a family's (or a GPU model's, or local SSD) quota holds
 * back the types seen failing on it, for CAPACITY_ERROR_TTL_MS, and no
 * other; a shared quota pauses every create. The gce driver has no
 * `quotaGroup(type)`, so the pool learns each type's group from its own
 * errors. The pool runs on a manual clock; the driver and the endpoint on
 * real time.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/clock/index.js';
import type { InstanceType } from '../../../src/config/types.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import { CAPACITY_ERROR_TTL_MS } from '../../../src/worker/pool-config.js';
import { WorkerPoolImpl } from '../../../src/worker/pool.js';
import type { GceInstanceSet } from '../../../drivers/gce/index.js';
import type { FakeGCE } from '../../fixtures/gce/server.js';
import { waitFor } from '../../cloud/conformance.js';
import { instanceType } from '../lame/helpers.js';
import { DISPATCH_KEY, E2, fakeParams, gceCluster, makeDriver, N2, SPOT, startFake } from './helpers.js';

/** Two G2 types: L4 GPUs built in, so each counts against both G2_CPUS and NVIDIA_L4_GPUS. */
const G2_SMALL: InstanceType = { ...instanceType('g2small', 'g2-standard-4'), GPU: { Stack: 'cuda', DriverVersion: '', HardwareTarget: '', DeviceCount: 1, VRAM: 24 << 30 } };
const G2_LARGE: InstanceType = { ...G2_SMALL, Name: 'g2large', ProviderType: 'g2-standard-8' };
const AT_CAPACITY = 'at capacity for this instance type';
/** An N2 type with a local SSD (the LocalSSDs parameter below): it counts against LOCAL_SSD_TOTAL_GB too. */
const N2_LSSD: InstanceType = { ...instanceType('n2lssd', 'n2-standard-4'), IncludedScratch: 375 * 2 ** 30 };

describe('gce driver under the worker pool: quota groups', function () {
  this.timeout(30_000);
  let fake: FakeGCE;
  let driver: GceInstanceSet;
  let pool: WorkerPoolImpl;
  let clock: ManualClock;

  before(async function () {
    // The client library takes seconds to load and warm up on a busy machine: not any one test's time.
    this.timeout(120_000);
    const f = await startFake();
    const h = await makeDriver(f);
    await h.driver.instances({});
    h.driver.stop();
    await f.stop();
  });

  beforeEach(async () => {
    const cluster = gceCluster([N2, E2, SPOT, G2_SMALL, G2_LARGE, N2_LSSD]);
    fake = await startFake();
    const h = await makeDriver(fake, { cluster, params: fakeParams(fake, { LocalSSDs: { [N2_LSSD.Name]: 1 } }) });
    driver = h.driver;
    clock = new ManualClock();
    pool = new WorkerPoolImpl({
      cluster,
      instanceSet: driver,
      newExecutor: () => ({ execute: async () => ({ stdout: Buffer.from(''), stderr: Buffer.from(''), exitCode: 0 }), setTarget: () => undefined, close: () => undefined }),
      clock,
      logger: createLogger({ stream: new LineCollector(), level: 'debug', clock }),
      instanceSetId: h.ctx.instanceSetId,
      publicKey: DISPATCH_KEY.public,
    });
  });

  afterEach(async () => {
    pool?.stop();
    driver?.stop();
    await fake?.stop();
  });

  const live = (machineType: string) => fake.instances().filter((i) => !i.deleted && i.machineType === machineType);

  /** Asks the pool for a VM of `type` and waits until the create has settled, one way or the other. */
  async function createSettled(type: InstanceType): Promise<void> {
    assert.ok(pool.create(type), `create of ${type.Name} declined: ${pool.createBlocker(type)}`);
    await waitFor(`the create of ${type.Name} to settle`, () => !pool.instances().some((v) => v.instance.startsWith('pending-')));
  }

  it('an N2 type at its family quota is held back; an E2 type (and Spot N2) is still created, and creates are not paused', async () => {
    fake.failNext('insert', { quotaExceeded: 'N2_CPUS' });
    await createSettled(N2);
    assert.equal(live(N2.ProviderType).length, 0);
    assert.equal(pool.createBlocker(N2), AT_CAPACITY);
    assert.equal(pool.atQuota(), false, 'a family quota does not pause every create');
    const detail = pool.createLimits([N2]).capacity[N2.Name];
    assert.equal(detail?.scope, 'group');
    assert.match(detail?.error ?? '', /N2_CPUS/);
    assert.equal(pool.createBlocker(E2), undefined);
    await createSettled(E2);
    assert.equal(live(E2.ProviderType).length, 1, 'the E2 VM was created');
    // Spot VMs count against PREEMPTIBLE_CPUS, not N2_CPUS.
    assert.equal(pool.createBlocker(SPOT), undefined);
    // A minute later the family is tried again.
    await clock.advance(CAPACITY_ERROR_TTL_MS + 1000);
    assert.equal(pool.createBlocker(N2), undefined);
    await createSettled(N2);
    assert.equal(live(N2.ProviderType).length, 1);
  });

  it('a type with local SSDs at LOCAL_SSD_TOTAL_GB is held back; types without are still created, and creates are not paused', async () => {
    fake.failNext('insert', { quotaExceeded: 'LOCAL_SSD_TOTAL_GB' });
    await createSettled(N2_LSSD);
    assert.equal(pool.createBlocker(N2_LSSD), AT_CAPACITY);
    assert.equal(pool.atQuota(), false, 'the local SSD quota does not pause every create');
    assert.match(pool.createLimits([N2_LSSD]).capacity[N2_LSSD.Name]?.error ?? '', /LOCAL_SSD_TOTAL_GB/);
    assert.equal(pool.createBlocker(N2), undefined);
    await createSettled(N2);
    assert.equal(live(N2.ProviderType).length, 1, 'the N2 VM without local SSDs was created');
  });

  it('the region-wide CPUS quota pauses every create, E2 included', async () => {
    fake.failNext('insert', { quotaExceeded: 'CPUS', synchronous: true });
    await createSettled(N2);
    assert.equal(pool.atQuota(), true);
    assert.equal(pool.createBlocker(E2), 'at cloud quota');
  });

  it('a type that later fails on another quota is held under that one; a type is held only by quotas it was seen failing on', async () => {
    fake.failNext('insert', { quotaExceeded: 'NVIDIA_L4_GPUS' });
    await createSettled(G2_SMALL);
    assert.equal(pool.createBlocker(G2_SMALL), AT_CAPACITY);
    // Nothing said G2_LARGE counts against NVIDIA_L4_GPUS yet: it is tried, fails the same way, and joins the group.
    assert.equal(pool.createBlocker(G2_LARGE), undefined);
    fake.failNext('insert', { quotaExceeded: 'NVIDIA_L4_GPUS' });
    await createSettled(G2_LARGE);
    assert.match(pool.createLimits([G2_LARGE]).capacity[G2_LARGE.Name]?.error ?? '', /NVIDIA_L4_GPUS/);

    await clock.advance(CAPACITY_ERROR_TTL_MS + 1000);
    fake.failNext('insert', { quotaExceeded: 'G2_CPUS' });
    await createSettled(G2_SMALL);
    assert.equal(pool.createBlocker(G2_SMALL), AT_CAPACITY, 'held under G2_CPUS now');
    assert.match(pool.createLimits([G2_SMALL]).capacity[G2_SMALL.Name]?.error ?? '', /G2_CPUS/);
    // G2_LARGE was last seen failing on NVIDIA_L4_GPUS, whose hold has ended: it is tried (and here succeeds).
    assert.equal(pool.createBlocker(G2_LARGE), undefined);
    await createSettled(G2_LARGE);
    assert.equal(live(G2_LARGE.ProviderType).length, 1);
    // The new hold ends like any other.
    await clock.advance(CAPACITY_ERROR_TTL_MS + 1000);
    assert.equal(pool.createBlocker(G2_SMALL), undefined);
  });
});
