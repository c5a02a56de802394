/**
 * A cloud listing describes the cloud as it was when the listing began. A
 * worker created (or updated) after that must not be dropped because the
 * listing, once it comes back, does not show it: otherwise a slow
 * DescribeInstances/list that overlaps a create forgets the new VM, the
 * instance count falls below what the provider bills (so the scheduler may
 * create past MaxInstances), and the VM comes back at the next listing as
 * an `unknown` worker.
 */
import assert from 'node:assert/strict';
import type { Instance, InstanceTags } from '../../src/cloud/types.js';
import { Harness, SMALL } from './helpers.js';

describe('worker pool: a listing older than a create', function () {
  this.timeout(20_000);
  let h: Harness;

  /** A pool whose one create's instance a listing has shown, while the create's answer is held; returns the hold. */
  async function listedBeforeItsCreateAnswered(): Promise<{ release: () => void }> {
    h = await Harness.start({ controller: false, cloudVMs: { MaxConcurrentInstanceCreateOps: 0 } });
    h.pool.start();
    await h.tick(0);
    const answers = h.holdCreateAnswers();
    assert.ok(h.pool.create(SMALL), 'the create is accepted');
    await h.tick(0);
    assert.equal(answers.inFlight(), 1, 'the create is in flight');
    await h.pool.syncNow();
    return answers;
  }

  afterEach(async () => {
    await h?.stop();
  });

  it('does not drop a worker whose create returned while the listing was in flight', async () => {
    h = await Harness.start({ controller: false, cloudVMs: { MaxInstances: 1, MaxConcurrentInstanceCreateOps: 0 } });
    const syncInterval = h.cluster.Containers.CloudVMs.SyncInterval;
    h.pool.start();
    await h.tick(0);
    assert.equal(h.pool.instances().length, 0, 'an empty cloud at start');

    // The next listing takes its snapshot of the cloud at once, then hangs until released.
    const list = h.lame.instances.bind(h.lame);
    let release: (() => void) | undefined;
    let listingsStarted = 0;
    let listingsReturned = 0;
    h.lame.instances = async (filter: InstanceTags): Promise<Instance[]> => {
      listingsStarted++;
      const snapshot = await list(filter);
      await new Promise<void>((resolve) => (release = resolve));
      listingsReturned++;
      return snapshot;
    };
    await h.tick(syncInterval);
    assert.equal(listingsStarted, 1, 'the second listing is in flight');
    assert.ok(release, 'and hanging');

    // A create goes out and returns while that listing hangs.
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    assert.equal(h.cloud.callCounts().create, 1);
    const created = h.pool.instances().filter((v) => !v.instance.startsWith('pending-'));
    assert.equal(created.length, 1, 'the create answered with its instance');
    const id = created[0].instance;
    assert.equal(h.pool.atQuota(), true, 'one instance at MaxInstances 1');

    // The listing comes back without the new VM: it began before the create.
    release!();
    await h.tick(0);
    assert.equal(listingsReturned, 1, 'the listing has come back and been applied');
    assert.equal(h.pool.loaded(), true);
    assert.deepEqual(
      h.pool.instances().map((v) => v.instance),
      [id],
      'the worker created after the listing began is still in the pool',
    );
    assert.ok(h.pool.detail(id), 'and still has its detail');
    assert.equal(h.pool.createLimits([SMALL]).instances, 1, 'it still counts as an instance');
    assert.equal(h.pool.atQuota(), true, 'so MaxInstances still holds back another create');
    assert.equal(h.pool.create(SMALL), undefined, 'and the pool declines one');
    assert.equal(h.cloud.callCounts().create, 1);
  });

  it('does not drop a worker whose create answered while a listing that missed it was in flight, though an earlier listing had shown it', async () => {
    // A listing shows the new instance before its create has answered.
    const answers = await listedBeforeItsCreateAnswered();
    const shown = h.pool.instances().filter((v) => !v.instance.startsWith('pending-'));
    assert.equal(shown.length, 1, 'the listing made it a worker');
    const id = shown[0].instance;
    assert.equal(shown[0].workerState, 'booting');

    // The next listing (a lagging replica of the provider's) misses it, and hangs.
    const list = h.lame.instances.bind(h.lame);
    let release: (() => void) | undefined;
    h.lame.instances = async (filter: InstanceTags): Promise<Instance[]> => {
      const snapshot = (await list(filter)).filter((inst) => inst.id !== id);
      await new Promise<void>((resolve) => (release = resolve));
      return snapshot;
    };
    const listing = h.pool.syncNow();
    await h.tick(0);
    assert.ok(release, 'that listing is in flight');

    // The create answers meanwhile: the instance is there, newer news than the listing.
    answers.release();
    await h.tick(0);
    release!();
    await listing;
    await h.tick(0);
    assert.equal(h.pool.detail(id)?.workerState, 'booting', 'still a booting worker, not dropped');
    assert.equal(h.pool.stats().disappeared.booting, 0, 'never counted as disappeared');
  });

  it('shows a create whose instance a listing showed before the create answered once: as that instance, not also as a pending create', async () => {
    const answers = await listedBeforeItsCreateAnswered();

    const views = h.pool.instances();
    assert.equal(views.length, 1, 'one instance for the scheduler');
    assert.equal(views[0].instance.startsWith('pending-'), false, 'the listed one');
    assert.equal(views[0].workerState, 'booting');
    assert.equal(h.pool.apiInstances().length, 1, 'one for the management API');
    assert.equal(h.pool.countWorkers().booting, 1, 'one booting');
    answers.release();
    await h.tick(0);
    assert.equal(h.pool.instances().length, 1);
  });
});
