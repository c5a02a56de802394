import assert from 'node:assert/strict';
import type { Container, ItemList } from '../../src/arvados/types.js';
import { OTHER_UUID } from '../arvados/helpers.js';
import { gate, harness, type Harness, listRequests, phaseOf, withList } from './helpers.js';

/** Requests the controller served since `from` (an index into its request log). */
function requestsSince(h: Awaited<ReturnType<typeof harness>>, from: number): string[] {
  return h.ctl
    .requestLog()
    .slice(from)
    .map((r) => `${r.method} ${r.route}`);
}

/**
 * A harness whose poll started by `pollHoldingHead` reads the head of the
 * queued list, then holds that answer until `release`: what a refresh
 * applies in the meantime is newer than the poll's answer.
 */
async function heldHeadHarness(): Promise<{ h: Harness; pollHoldingHead: () => Promise<{ done: Promise<void> }>; release: () => void }> {
  let holdHead = false;
  const held = gate();
  let headRead = gate();
  const h = await harness({
    wrap: (client) =>
      withList(client, async (p): Promise<ItemList<Container>> => {
        const page = await client.listContainers(p);
        if (holdHead && phaseOf(p) === 'head') {
          holdHead = false;
          headRead.open();
          await held.promise;
        }
        return page;
      }),
  });
  return {
    h,
    async pollHoldingHead() {
      holdHead = true;
      headRead = gate();
      const done = h.queue.update();
      await headRead.promise;
      return { done };
    },
    release: held.open,
  };
}

describe('container queue: refresh between polls (event hints)', () => {
  it('makes a new container an entry with one read by uuid, without a poll', async () => {
    const h = await harness();
    try {
      await h.queue.update();
      const updated = h.queue.entries().updated;
      const before = h.ctl.requestLog().length;
      const c = h.ctl.addContainer({ priority: 5, runtime_constraints: { vcpus: 2, ram: 1 << 30 } });
      await h.clock.advance(1000);
      await h.queue.refresh([c.uuid]);
      const e = h.queue.entries();
      assert.equal(e.entries.get(c.uuid)?.container.priority, 5);
      assert.deepEqual(e.entries.get(c.uuid)?.instanceTypes.map((t) => t.Name), ['small']);
      assert.equal(e.updated, updated, 'a refresh says nothing of the containers it did not read');
      assert.deepEqual(requestsSince(h, before), ['GET /arvados/v1/containers/{uuid}']);
    } finally {
      await h.close();
    }
  });

  it('reads known containers by uuid in one list, and applies a cancel and a priority change', async () => {
    const h = await harness();
    try {
      const a = h.ctl.addContainer({ priority: 1 });
      const b = h.ctl.addContainer({ priority: 1 });
      const other = h.ctl.addContainer({ priority: 1 });
      await h.queue.update();
      h.ctl.cancel(a.uuid);
      h.ctl.setPriority(b.uuid, 7);
      h.ctl.setPriority(other.uuid, 3);
      const before = listRequests(h.ctl).length;
      await h.queue.refresh([a.uuid, b.uuid]);
      const lists = listRequests(h.ctl).slice(before);
      assert.deepEqual(lists.map((l) => [l.phase, l.filters]), [['check', [['uuid', 'in', [a.uuid, b.uuid]]]]]);
      assert.equal(h.queue.get(a.uuid)?.state, 'Cancelled');
      assert.equal(h.queue.get(b.uuid)?.priority, 7);
      assert.equal(h.queue.get(other.uuid)?.priority, 1, 'not named, not read');
    } finally {
      await h.close();
    }
  });

  it('before any poll, learns whose token it holds first: a container locked by it becomes an entry, one locked by another dispatcher does not', async () => {
    const h = await harness();
    try {
      const mine = h.ctl.addContainer({ state: 'Locked', locked_by_uuid: h.ctl.rootTokenUuid });
      const theirs = h.ctl.addContainer({ state: 'Locked', locked_by_uuid: OTHER_UUID });
      await h.queue.refresh([mine.uuid, theirs.uuid]);
      assert.equal(h.ctl.stats['GET /arvados/v1/api_client_authorizations/current'], 1);
      assert.equal(h.queue.get(mine.uuid)?.state, 'Locked');
      assert.equal(h.queue.get(theirs.uuid), undefined);
    } finally {
      await h.close();
    }
  });

  it('leaves alone a container the controller will not let us run, and one it does not have', async () => {
    const h = await harness();
    try {
      await h.queue.update();
      const zero = h.ctl.addContainer({ priority: 0 });
      const done = h.ctl.addContainer({ state: 'Complete' });
      await h.queue.refresh([zero.uuid, done.uuid, 'zzzzz-dz642-000000000099999']);
      assert.equal(h.queue.entries().entries.size, 0);
      assert.equal(h.queue.known(zero.uuid), undefined);
      assert.equal(h.queue.readingDetails(zero.uuid), false);
    } finally {
      await h.close();
    }
  });

  it("does not let a poll's older answer undo what a refresh read while the poll was in flight", async () => {
    const { h, pollHoldingHead, release } = await heldHeadHarness();
    try {
      const a = h.ctl.addContainer({ priority: 2 });
      await h.queue.update();
      const poll = await pollHoldingHead();
      // The poll holds a = Queued, priority 2; meanwhile the user cancels it and the feed says so.
      h.ctl.cancel(a.uuid);
      await h.queue.refresh([a.uuid]);
      assert.equal(h.queue.get(a.uuid)?.state, 'Cancelled');
      release();
      await poll.done;
      assert.equal(h.queue.get(a.uuid)?.state, 'Cancelled', "the poll's record of a, read before the cancel, is not applied");
    } finally {
      release();
      await h.close();
    }
  });

  it("does not let a poll's older answer undo a new container's details that a refresh read while the poll was in flight", async () => {
    const { h, pollHoldingHead, release } = await heldHeadHarness();
    try {
      await h.queue.update();
      const c = h.ctl.addContainer({ priority: 2 });
      const poll = await pollHoldingHead();
      // The poll holds c = Queued, priority 2; the feed then names c, raised to 7, before the poll made it an entry.
      h.ctl.setPriority(c.uuid, 7);
      await h.queue.refresh([c.uuid]);
      assert.equal(h.queue.get(c.uuid)?.priority, 7, 'an entry from its details');
      release();
      await poll.done;
      assert.equal(h.queue.get(c.uuid)?.priority, 7, "the poll's record of c, read before the raise, is not applied");
    } finally {
      release();
      await h.close();
    }
  });

  it("does not act on a poll's older answer about a container a refresh found deleted while the poll was in flight: no entry, and one 'not found' warning, not two", async () => {
    const { h, pollHoldingHead, release } = await heldHeadHarness();
    try {
      const a = h.ctl.addContainer({ priority: 2 });
      await h.queue.update();
      const poll = await pollHoldingHead();
      // The poll holds a = Queued, priority 2; then a is deleted (gone from the lists, a check or read by uuid finds nothing) and the feed says so.
      h.ctl.setFields(a.uuid, { state: 'Cancelled' });
      h.ctl.setHook((req) => {
        if (req.method === 'GET' && req.path.endsWith(a.uuid)) return { status: 404, body: { errors: ['not found'] } };
        return req.query.filters?.includes(a.uuid) ? { status: 200, body: { items: [] } } : undefined;
      });
      await h.queue.refresh([a.uuid]);
      assert.equal(h.queue.get(a.uuid), undefined);
      release();
      await poll.done;
      assert.equal(h.queue.get(a.uuid), undefined, "the poll's record of a, read before the deletion, does not bring it back");
      assert.equal(h.queue.known(a.uuid), undefined);
      assert.equal(
        h.lines.records().filter((r) => r.msg === 'container not found by controller (deleted?)' && r.ContainerUUID === a.uuid).length,
        1,
        'one deletion, one warning',
      );
    } finally {
      release();
      await h.close();
    }
  });

  it('counts the containers a poll found new to the queue, and not those a refresh found first (the event feed link compares them with its events)', async () => {
    const h = await harness();
    try {
      const a = h.ctl.addContainer({ priority: 1 });
      const b = h.ctl.addContainer({ priority: 1 });
      await h.queue.update();
      assert.equal(h.queue.newFromPolls(), 2);
      await h.queue.update();
      assert.equal(h.queue.newFromPolls(), 2, 'a container is new to one poll only');
      const c = h.ctl.addContainer({ priority: 1 });
      await h.queue.refresh([c.uuid, a.uuid]);
      assert.ok(h.queue.entries().entries.has(c.uuid));
      await h.queue.update();
      assert.equal(h.queue.newFromPolls(), 2, 'c was found by a refresh (an event) before any poll');
      h.ctl.addContainer({ priority: 0 });
      h.ctl.cancel(b.uuid);
      const d = h.ctl.addContainer({ priority: 4 });
      await h.queue.update();
      assert.equal(h.queue.newFromPolls(), 3, 'd only: not one nobody wants, not a change to one the queue tracks');
      assert.ok(h.queue.entries().entries.has(d.uuid));
    } finally {
      await h.close();
    }
  });

  it('counts only containers created since the queue started (less 2 minutes for clock skew) whose details the poll read', async () => {
    let failing = '';
    const h = await harness({
      wrap: (client) => ({
        ...withList(client, (p) => client.listContainers(p)),
        getContainer: async (uuid, select) => {
          if (uuid === failing) throw new Error('details read failed');
          return client.getContainer(uuid, select);
        },
      }),
    });
    try {
      const start = h.clock.now();
      const at = (ms: number): string => new Date(start + ms).toISOString();
      h.ctl.addContainer({ priority: 1, created_at: at(-3_600_000) });
      h.ctl.addContainer({ priority: 1, created_at: at(-121_000) });
      await h.queue.update();
      assert.equal(h.queue.newFromPolls(), 0, 'a backlog from before the start');
      const skewed = h.ctl.addContainer({ priority: 1, created_at: at(-60_000) });
      const unread = h.ctl.addContainer({ priority: 1 });
      failing = unread.uuid;
      await h.queue.update();
      assert.ok(h.queue.entries().entries.has(skewed.uuid));
      assert.ok(!h.queue.entries().entries.has(unread.uuid));
      assert.equal(h.queue.newFromPolls(), 1, 'within the skew allowance; not the one whose details the poll could not read');
      failing = '';
      await h.queue.update();
      assert.ok(h.queue.entries().entries.has(unread.uuid));
      assert.equal(h.queue.newFromPolls(), 1, 'nor counted when its details come on a later poll');
    } finally {
      await h.close();
    }
  });
});
