/**
 * The backlog sweep (`src/queue/poll.ts`): each poll reads our containers,
 * the head of the queued list and one slice of the rest, so the per-poll
 * load does not grow with the backlog, while every change anywhere in the
 * backlog is seen within one sweep cycle, and nothing is lost when
 * containers arrive, leave or change priority in the middle of a poll.
 */
import assert from 'node:assert/strict';
import type { ItemList, Container } from '../../src/arvados/types.js';
import { OTHER_UUID } from '../arvados/helpers.js';
import { harness, type Harness, listRequests, polls, withList } from './helpers.js';

/** A small deterministic PRNG (mulberry32), so a failure repeats. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls a full sweep of B queued containers takes with a slice of S: floor(B / S) + 1 (the last one sees the end). */
function sweepPolls(backlog: number, slice: number): number {
  return Math.floor(backlog / slice) + 1;
}

const PAGE = 100;
const SWEEP_PAGES = 2;
const SLICE = PAGE * SWEEP_PAGES;

describe('container queue: the backlog sweep', function () {
  this.timeout(120_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  /** A harness whose client counts list requests and the items they return. */
  async function counting(): Promise<{ h: Harness; load: { requests: number; items: number } }> {
    const load = { requests: 0, items: 0 };
    const hh = await harness({
      queue: { pageSize: PAGE, sweepPages: SWEEP_PAGES },
      wrap: (client) =>
        withList(client, async (p): Promise<ItemList<Container>> => {
          const page = await client.listContainers(p);
          load.requests++;
          load.items += page.items.length;
          return page;
        }),
    });
    return { h: hh, load };
  }

  it('per-poll list load does not grow with the backlog', async () => {
    const perPoll: Array<{ backlog: number; requests: number; items: number }> = [];
    for (const backlog of [600, 6000]) {
      const c = await counting();
      h = c.h;
      for (let i = 0; i < 20; i++) h.ctl.addContainer({ state: 'Running' });
      for (let i = 0; i < backlog; i++) h.ctl.addContainer({ priority: 1 + (i % 50) });
      // Steady state: one full sweep, and every container's details read.
      await polls(h, sweepPolls(backlog, SLICE) + Math.ceil(backlog / 500) + 1);
      assert.equal(h.queue.entries().entries.size, backlog + 20, 'the whole backlog is known');
      c.load.requests = 0;
      c.load.items = 0;
      await polls(h, 5);
      perPoll.push({ backlog, requests: c.load.requests / 5, items: c.load.items / 5 });
      await h.close();
    }
    const [small, big] = perPoll;
    // Ours (one page and the empty one), the head (one page), the sweep's slice (two pages, or one and the end).
    assert.ok(big.requests <= 5, `${big.requests} list requests per poll at a backlog of 6000`);
    assert.ok(big.requests <= small.requests + 0.5, `${JSON.stringify(perPoll)}`);
    assert.ok(big.items <= 20 + PAGE + SLICE, `${big.items} items per poll at a backlog of 6000`);
  });

  it('sees a change anywhere in the backlog within one sweep cycle, and the head on every poll', async () => {
    const backlog = 2000;
    h = (await counting()).h;
    const all = Array.from({ length: backlog }, (_, i) => h.ctl.addContainer({ priority: 10 + (i % 7) }).uuid);
    await polls(h, sweepPolls(backlog, SLICE) + 5);
    assert.equal(h.queue.entries().entries.size, backlog);

    // Deep in the backlog (priority 10: far below the head).
    const deep = all.filter((_, i) => i % 7 === 0);
    const [raised, lowered, cancelled, held, taken, deleted] = [deep[3], deep[100], deep[150], deep[200], deep[250], deep[280]];
    h.ctl.setPriority(lowered, 1);
    h.ctl.cancel(cancelled, 'not needed');
    h.ctl.setPriority(held, 0);
    h.ctl.setFields(taken, { state: 'Locked', locked_by_uuid: OTHER_UUID });
    h.ctl.setFields(deleted, { state: 'Cancelled' });
    h.ctl.setHook((req) => (req.query.filters?.includes(deleted) && req.query.filters.includes('"in"') ? { status: 200, body: { items: [] } } : undefined));
    // One container of the head drops out of it, one of the backlog rises into it.
    const headOne = all[6];
    h.ctl.setPriority(headOne, 11);
    h.ctl.setPriority(raised, 1000);
    await h.queue.update();
    assert.equal(h.queue.get(raised)?.priority, 1000, 'rose into the head: seen at once');
    assert.equal(h.queue.get(headOne)?.priority, 11, 'dropped out of the head: checked by uuid at once');

    const bound = sweepPolls(backlog, SLICE);
    await polls(h, bound - 1);
    assert.equal(h.queue.get(lowered)?.priority, 1);
    // Seen Cancelled, then dropped a poll later.
    assert.notEqual(h.queue.get(cancelled)?.state, 'Queued');
    assert.ok(h.lines.records().some((r) => r.msg === 'dropping container from queue' && r.ContainerUUID === cancelled && r.State === 'Cancelled'), 'cancel seen');
    assert.equal(h.queue.get(held)?.priority, 0);
    assert.equal(h.queue.get(taken)?.locked_by_uuid, OTHER_UUID);
    assert.equal(h.queue.get(deleted), undefined);
    assert.ok(h.lines.records().some((r) => r.msg === 'container not found by controller (deleted?)' && r.ContainerUUID === deleted), 'deletion seen');
  });

  it('loses nothing when containers arrive, leave and change priority in the middle of polls', async () => {
    const random = prng(20260807);
    h = (await counting()).h;
    for (let i = 0; i < 1000; i++) h.ctl.addContainer({ priority: 1 + Math.floor(random() * 20) });
    let pollNo = 0;
    const changedAt = new Map<string, number>();
    h.ctl.onChange((c) => changedAt.set(c.uuid, pollNo));
    let mutate = true;
    const pick = (): Container | undefined => {
      const open = h.ctl.all().filter((c) => c.state !== 'Complete' && c.state !== 'Cancelled');
      return open[Math.floor(random() * open.length)];
    };
    h.ctl.setHook(() => {
      if (!mutate || random() > 0.5) return undefined;
      const r = random();
      const c = pick();
      if (r < 0.3) changedAt.set(h.ctl.addContainer({ priority: 1 + Math.floor(random() * 20) }).uuid, pollNo);
      else if (!c) return undefined;
      else if (r < 0.6) h.ctl.setPriority(c.uuid, Math.floor(random() * 25));
      else if (r < 0.75) h.ctl.cancel(c.uuid, 'changed its mind');
      else if (r < 0.85 && c.state === 'Queued') h.ctl.setFields(c.uuid, { state: 'Locked', locked_by_uuid: OTHER_UUID });
      else if (c.state === 'Locked' && c.locked_by_uuid === OTHER_UUID) h.ctl.setFields(c.uuid, { state: 'Queued', locked_by_uuid: null });
      return undefined;
    });
    const queued = (): number => h.ctl.all().filter((c) => c.state === 'Queued' && c.priority > 0).length;
    let bound = sweepPolls(queued() + 200, SLICE);

    /** Every container unchanged for `bound` polls is as the controller has it. */
    const check = (settledOnly: boolean): void => {
      const { entries } = h.queue.entries();
      for (const c of h.ctl.all()) {
        if (settledOnly && (changedAt.get(c.uuid) ?? 0) + bound > pollNo) continue;
        const e = entries.get(c.uuid)?.container;
        const where = `${c.uuid} after poll ${pollNo} (changed in poll ${changedAt.get(c.uuid)}, bound ${bound})`;
        if (c.state === 'Queued' && c.priority > 0) {
          assert.ok(e, `${where}: queued with priority ${c.priority}, not in the queue`);
          assert.equal(e.priority, c.priority, `${where}: priority`);
          assert.equal(e.state, 'Queued', `${where}: state`);
        } else if (e) {
          assert.equal(e.state, c.state, `${where}: state`);
          assert.equal(e.priority, c.priority, `${where}: priority`);
          assert.equal(e.locked_by_uuid ?? null, c.locked_by_uuid, `${where}: lock holder`);
        }
      }
    };

    for (let i = 0; i < 60; i++) {
      pollNo++;
      await h.queue.update();
      bound = Math.max(bound, sweepPolls(queued() + 200, SLICE));
      check(true);
    }
    mutate = false;
    const settle = bound + 1;
    for (let i = 0; i < settle; i++) {
      pollNo++;
      await h.queue.update();
    }
    check(false);
    // Final ones are gone a poll after they were seen final.
    for (const [uuid, e] of h.queue.entries().entries) {
      assert.notEqual(h.ctl.get(uuid)?.state, 'Cancelled', `${uuid} (${e.container.state}) still in the queue`);
    }
    assert.ok(listRequests(h.ctl).some((r) => r.phase === 'sweep'), 'the sweep ran');
  });
});
