/**
 * The queue's lock, unlock and cancel: one at a time per container, merged
 * into the entry, winning over a poll that was in flight; and the
 * coalesced notifications.
 */
import assert from 'node:assert/strict';
import type { ItemList } from '../../src/arvados/types.js';
import type { Container } from '../../src/arvados/types.js';
import { ContainerBusyError } from '../../src/queue/queue.js';
import { OTHER_TOKEN, OTHER_UUID, makeClient } from '../arvados/helpers.js';
import { gate, harness, type Harness, phaseOf, withList } from './helpers.js';

describe('container queue operations', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('locks and unlocks, merging the short answers into the entry', async () => {
    h = await harness();
    const c = h.ctl.addContainer({ priority: 4, runtime_constraints: { vcpus: 2, ram: 2 ** 31 } });
    await h.queue.update();
    const before = h.queue.entries().entries.get(c.uuid)!;
    await h.queue.lock(c.uuid);
    const locked = h.queue.entries().entries.get(c.uuid)!;
    assert.equal(locked.container.state, 'Locked');
    assert.equal(locked.container.locked_by_uuid, h.ctl.rootTokenUuid);
    assert.deepEqual(locked.container.runtime_constraints, { vcpus: 2, ram: 2 ** 31 }, 'merged, not replaced');
    assert.equal(locked.container.container_image, before.container.container_image);
    assert.equal(locked.instanceTypes, before.instanceTypes);
    assert.equal(locked.firstSeenAt, before.firstSeenAt);
    assert.equal(before.container.state, 'Queued', 'an earlier snapshot is left as it was');
    await h.queue.unlock(c.uuid);
    assert.equal(h.queue.get(c.uuid)?.state, 'Queued');
    assert.equal(h.queue.get(c.uuid)?.locked_by_uuid, null);
    assert.equal((h.queue.get(c.uuid) as unknown as Record<string, unknown>).kind, undefined);
  });

  it("takes the controller's lock_count from our lock's and unlock's answers, before any poll", async () => {
    h = await harness();
    const c = h.ctl.addContainer({ priority: 4 });
    await h.queue.update();
    assert.equal(h.queue.get(c.uuid)?.lock_count, 0);
    // Another dispatcher's lock and unlock since that poll: ours is the container's second lock.
    const other = makeClient(h.ctl.url, { token: OTHER_TOKEN });
    await other.lockContainer(c.uuid);
    await other.unlockContainer(c.uuid);
    other.close();
    await h.queue.lock(c.uuid);
    assert.equal(h.ctl.get(c.uuid)?.lock_count, 2);
    assert.equal(h.queue.get(c.uuid)?.lock_count, 2);
    await h.queue.unlock(c.uuid);
    assert.equal(h.queue.get(c.uuid)?.state, 'Queued');
    assert.equal(h.queue.get(c.uuid)?.lock_count, h.ctl.get(c.uuid)?.lock_count);
  });

  it('counts our lock in lock_count when its answer leaves it out (an old controller ignoring select), and makes up none when none was known', async () => {
    const strip = <T extends object>(c: T): T => {
      const { lock_count: _, ...rest } = c as T & { lock_count?: number };
      return rest as T;
    };
    let oldLists = false;
    h = await harness({
      wrap: (client) => ({
        ...withList(client, async (p) => {
          const page = await client.listContainers(p);
          return oldLists ? { ...page, items: page.items.map(strip) } : page;
        }),
        getContainer: async (uuid, select) => (oldLists ? strip(await client.getContainer(uuid, select)) : client.getContainer(uuid, select)),
        lockContainer: async (uuid) => strip(await client.lockContainer(uuid)),
      }),
    });
    const c = h.ctl.addContainer({ priority: 4, lock_count: 2 });
    await h.queue.update();
    await h.queue.lock(c.uuid);
    assert.equal(h.ctl.get(c.uuid)?.lock_count, 3);
    assert.equal(h.queue.get(c.uuid)?.lock_count, 3, 'the count known, plus our lock');
    oldLists = true;
    const d = h.ctl.addContainer({ priority: 4 });
    await h.queue.update();
    await h.queue.lock(d.uuid);
    assert.equal(h.queue.get(d.uuid)?.state, 'Locked');
    assert.equal(h.queue.get(d.uuid)?.lock_count, undefined, 'none known: none made up');
    assert.equal(h.queue.get(c.uuid)?.lock_count, 3, 'a list without lock_count leaves the known count');
  });

  it('hands out snapshots that later changes leave alone, and shares equal shapes', async () => {
    h = await harness();
    const a = h.ctl.addContainer({ priority: 4, runtime_constraints: { vcpus: 2, ram: 2 ** 31 } });
    const b = h.ctl.addContainer({ priority: 5, runtime_constraints: { vcpus: 2, ram: 2 ** 31 } });
    await h.queue.update();
    const snap = h.queue.entries().entries;
    assert.equal(h.queue.entries().entries, snap, 'no change, no copy');
    const ea = snap.get(a.uuid)!;
    const eb = snap.get(b.uuid)!;
    assert.equal(ea.instanceTypes, eb.instanceTypes, 'one type list for equal containers');
    assert.equal(ea.instanceResources, eb.instanceResources, 'one size for equal containers');
    await h.queue.lock(a.uuid);
    h.ctl.addContainer({ priority: 6, runtime_constraints: { vcpus: 1, ram: 2 ** 30 } });
    await h.queue.update();
    assert.equal(snap.get(a.uuid)?.container.state, 'Queued');
    assert.equal(snap.size, 2);
    const now = h.queue.entries().entries;
    assert.equal(now.get(a.uuid)?.container.state, 'Locked');
    assert.equal(now.size, 3);
  });

  it('rejects with the controller error when the lock is refused', async () => {
    h = await harness();
    const c = h.ctl.addContainer();
    await h.queue.update();
    await makeClient(h.ctl.url, { token: OTHER_TOKEN }).lockContainer(c.uuid);
    await assert.rejects(h.queue.lock(c.uuid), /HTTP 422: cannot lock when Locked/);
    assert.equal(h.queue.get(c.uuid)?.state, 'Queued', 'unchanged until a poll says otherwise');
    await h.queue.lock(c.uuid).catch(() => undefined);
    await h.queue.update();
    assert.equal(h.queue.get(c.uuid)?.locked_by_uuid, OTHER_UUID);
  });

  it('runs one operation per container at a time: a second one rejects at once', async () => {
    const hold = gate();
    h = await harness({
      wrap: (client) => ({
        ...withList(client, (p) => client.listContainers(p)),
        lockContainer: async (uuid) => {
          await hold.promise;
          return client.lockContainer(uuid);
        },
      }),
    });
    const a = h.ctl.addContainer();
    const b = h.ctl.addContainer();
    await h.queue.update();
    const first = h.queue.lock(a.uuid);
    await assert.rejects(h.queue.lock(a.uuid), (e: ContainerBusyError) => {
      assert.ok(e instanceof ContainerBusyError);
      assert.equal(e.message, `cannot lock ${a.uuid}: lock already in progress`);
      return true;
    });
    await assert.rejects(h.queue.cancel(a.uuid), /cannot cancel .*: lock already in progress/);
    await assert.rejects(h.queue.unlock(a.uuid), ContainerBusyError);
    const other = h.queue.lock(b.uuid);
    hold.open();
    await Promise.all([first, other]);
    assert.equal(h.queue.get(a.uuid)?.state, 'Locked');
    assert.equal(h.queue.get(b.uuid)?.state, 'Locked');
    await h.queue.unlock(a.uuid);
    assert.equal(h.ctl.get(a.uuid)?.state, 'Queued');
  });

  it('frees the container for the next operation after a failure', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const c = h.ctl.addContainer();
    await h.queue.update();
    h.ctl.fail503(1);
    await assert.rejects(h.queue.lock(c.uuid), /HTTP 503/);
    await h.queue.lock(c.uuid);
    assert.equal(h.queue.get(c.uuid)?.state, 'Locked');
  });

  describe('cancel', () => {
    it("sets only state, keeping crunch-run's runtime_status, and logs the reason", async () => {
      h = await harness();
      const c = h.ctl.addContainer({ state: 'Running' });
      const written = { warning: 'arv-mount: slow', activity: 'running', errorDetail: 'from crunch-run' };
      h.ctl.setFields(c.uuid, { runtime_status: written });
      await h.queue.update();
      await h.queue.cancel(c.uuid, 'not running on any worker');
      const after = h.ctl.get(c.uuid)!;
      assert.equal(after.state, 'Cancelled');
      assert.deepEqual(after.runtime_status, written);
      const puts = h.ctl.requestLog().filter((r) => r.method === 'PUT');
      assert.equal(puts.length, 1, 'one update: state');
      assert.equal(h.queue.get(c.uuid)?.state, 'Cancelled');
      assert.ok(
        h.lines.records().some((r) => r.msg === 'cancelled container' && r.Reason === 'not running on any worker'),
        'the reason is in the log',
      );
    });

    it('cancels a Queued container the same way', async () => {
      h = await harness();
      const c = h.ctl.addContainer();
      await h.queue.update();
      await h.queue.cancel(c.uuid, 'not wanted');
      assert.equal(h.ctl.get(c.uuid)?.state, 'Cancelled');
      assert.deepEqual(h.ctl.get(c.uuid)?.runtime_status, {});
    });

    it('does not cancel a container that has completed since the last poll (the controller would let it, destroying the result)', async () => {
      h = await harness();
      const c = h.ctl.addContainer({ state: 'Running' });
      await h.queue.update();
      h.ctl.setFields(c.uuid, { state: 'Complete', exit_code: 0, output: 'abc+0' });
      await h.queue.cancel(c.uuid, 'not running on any worker');
      assert.equal(h.ctl.get(c.uuid)?.state, 'Complete');
      assert.equal(h.ctl.requestLog().filter((r) => r.method === 'PUT').length, 0);
      assert.equal(h.queue.get(c.uuid)?.state, 'Complete', 'the queue learns it');
      assert.ok(h.lines.records().some((r) => r.msg === 'not cancelling container: it has ended' && r.State === 'Complete'));
    });

    it('does not cancel on a read that is no well-formed record (it cannot say whether the container ended), and names the field', async () => {
      let garble = false;
      h = await harness({
        wrap: (client) => ({
          ...withList(client, (p) => client.listContainers(p)),
          getContainer: async (uuid, select) => {
            const c = await client.getContainer(uuid, select);
            return garble ? ({ ...c, state: 'queued' } as unknown as Container) : c;
          },
        }),
      });
      const c = h.ctl.addContainer({ state: 'Running' });
      await h.queue.update();
      garble = true;
      await assert.rejects(h.queue.cancel(c.uuid, 'not running on any worker'), /not usable: state/);
      assert.equal(h.ctl.get(c.uuid)?.state, 'Running');
      assert.equal(h.ctl.requestLog().filter((r) => r.method === 'PUT').length, 0);
      assert.ok(h.lines.records().some((r) => r.level === 'warning' && r.Field === 'state'));
    });

    it('cancels a container locked by someone else (the controller lets anyone cancel)', async () => {
      h = await harness();
      const c = h.ctl.addContainer({ state: 'Locked', locked_by_uuid: OTHER_UUID });
      await h.queue.cancel(c.uuid);
      assert.equal(h.ctl.get(c.uuid)?.state, 'Cancelled');
    });
  });

  it('ignores what a poll in flight says about a container locked meanwhile (stale), and applies the rest', async () => {
    const hold = gate();
    let holdQueued = false;
    let held = false;
    h = await harness({
      wrap: (client) =>
        withList(client, async (p): Promise<ItemList<Container>> => {
          const page = await client.listContainers(p);
          if (holdQueued && phaseOf(p) === 'head' && page.items.length > 0) {
            held = true;
            await hold.promise;
          }
          return page;
        }),
    });
    const a = h.ctl.addContainer();
    const b = h.ctl.addContainer();
    await h.queue.update();
    h.ctl.setPriority(b.uuid, 9);
    holdQueued = true;
    const poll = h.queue.update();
    while (!held) await new Promise((resolve) => setImmediate(resolve));
    // The poll has read a as Queued; now we lock it before the poll ends.
    await h.queue.lock(a.uuid);
    assert.equal(h.queue.get(a.uuid)?.state, 'Locked');
    hold.open();
    await poll;
    assert.equal(h.queue.get(a.uuid)?.state, 'Locked', 'the stale Queued record was dropped');
    assert.equal(h.queue.get(b.uuid)?.priority, 9, 'the rest of the poll was applied');
    holdQueued = false;
    await h.queue.update();
    assert.equal(h.queue.get(a.uuid)?.state, 'Locked');
  });

  it('runs a poll asked for during a poll after it, and shares it between callers', async () => {
    h = await harness();
    h.ctl.addContainer();
    const first = h.queue.update();
    const second = h.queue.update();
    const third = h.queue.update();
    assert.equal(second, third);
    await Promise.all([first, second]);
    assert.equal(h.ctl.requestLog().filter((r) => r.path === '/arvados/v1/containers').length, 8, 'two polls of 4 requests');
  });

  it('notifies subscribers once per batch of changes, and not after unsubscribing', async () => {
    h = await harness();
    let calls = 0;
    const unsubscribe = h.queue.subscribe(() => calls++);
    for (let i = 0; i < 50; i++) h.ctl.addContainer();
    await h.queue.update();
    await Promise.resolve();
    assert.equal(calls, 1, '50 new entries, one call');
    const [uuid] = h.queue.entries().entries.keys();
    await h.queue.lock(uuid);
    await Promise.resolve();
    assert.equal(calls, 2);
    await h.queue.update();
    await Promise.resolve();
    assert.equal(calls, 3, 'a poll always notifies: `updated` moved');
    unsubscribe();
    await h.queue.update();
    await Promise.resolve();
    assert.equal(calls, 3);
  });

  it('forgets only final containers and those with priority 0 that are not ours', async () => {
    h = await harness();
    const done = h.ctl.addContainer();
    const mine = h.ctl.addContainer();
    const idle = h.ctl.addContainer();
    await h.queue.update();
    await h.queue.lock(mine.uuid);
    await h.queue.cancel(done.uuid);
    h.ctl.setPriority(mine.uuid, 0);
    h.ctl.setPriority(idle.uuid, 0);
    await h.queue.update();
    const snap = h.queue.entries().entries;
    for (const c of [done, mine, idle]) h.queue.forget(c.uuid);
    assert.equal(h.queue.entries().entries, snap, 'forgetting copies nothing');
    assert.deepEqual([...snap.keys()], [mine.uuid], 'and the snapshot loses what was forgotten');
    assert.equal(h.queue.get(done.uuid), undefined);
    assert.equal(h.queue.get(idle.uuid), undefined);
    assert.equal(h.queue.get(mine.uuid)?.priority, 0, 'Locked by us: the scheduler must unlock or kill it first');
    // As the reference: State is the container's own. The cancelled one went at the poll that
    // saw it final; the one forgotten says so in Reason.
    assert.deepEqual(
      h.lines
        .records()
        .filter((r) => r.msg === 'dropping container from queue')
        .map((r) => [r.ContainerUUID, r.State, r.Reason]),
      [
        [done.uuid, 'Cancelled', undefined],
        [idle.uuid, 'Queued', 'forgotten'],
      ],
    );
  });
});
