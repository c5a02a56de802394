/**
 * The queue's poll against the test controller: the three phases, paging
 * through thousands of queued containers, and what later polls see of
 * containers that leave the lists.
 */
import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import type { RequestLogEntry } from '../fixtures/controller.js';
import { OTHER_UUID } from '../arvados/helpers.js';
import { harness, type Harness } from './helpers.js';

const LIST = '/arvados/v1/containers';

type Filter = [string, string, unknown];

function filtersOf(r: RequestLogEntry): Filter[] {
  return JSON.parse(r.query.filters) as Filter[];
}

function lists(h: Harness): RequestLogEntry[] {
  return h.ctl.requestLog().filter((r) => r.path === LIST);
}

describe('container queue poll', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('reads our locked containers, then the queued ones, with count=none and the selected fields', async () => {
    h = await harness();
    const mine = h.ctl.addContainer({ state: 'Locked' });
    const running = h.ctl.addContainer({ state: 'Running' });
    h.ctl.addContainer({ state: 'Locked', locked_by_uuid: OTHER_UUID });
    const queued = h.ctl.addContainer({ priority: 3 });
    h.ctl.addContainer({ priority: 0 });
    h.ctl.addContainer({ state: 'Complete' });
    await h.queue.update();

    const { entries, updated } = h.queue.entries();
    assert.deepEqual([...entries.keys()].sort(), [mine.uuid, running.uuid, queued.uuid].sort());
    assert.equal(updated, h.clock.now());
    const reqs = lists(h);
    assert.deepEqual(filtersOf(reqs[0]), [['locked_by_uuid', '=', h.ctl.rootTokenUuid]]);
    assert.equal(reqs[0].query.order, 'uuid');
    assert.deepEqual(filtersOf(reqs[2]), [
      ['state', '=', 'Queued'],
      ['priority', '>', 0],
    ]);
    assert.equal(reqs[2].query.order, '["priority desc","uuid asc"]');
    for (const r of reqs) {
      assert.equal(r.query.count, 'none');
      assert.equal(r.query.limit, '1000');
      assert.deepEqual(JSON.parse(r.query.select).sort(), [
        'container_image',
        'created_at',
        'lock_count',
        'locked_by_uuid',
        'mounts',
        'priority',
        'runtime_constraints',
        'runtime_status',
        'scheduling_parameters',
        'state',
        'uuid',
      ]);
    }
    const e = entries.get(queued.uuid)!;
    assert.equal(e.container.priority, 3);
    assert.equal(e.container.mounts, undefined, 'mounts are used for the type choice, then dropped');
    assert.deepEqual(e.instanceTypes.map((t) => t.Name), ['small']);
    assert.equal(e.instanceResources.vcpus, 1);
    assert.equal(e.firstSeenAt, h.clock.now());
  });

  it('pages through 2,500 queued containers, each once, and our locked ones by uuid', async () => {
    h = await harness();
    const want = new Set<string>();
    for (let i = 0; i < 2500; i++) want.add(h.ctl.addContainer({ priority: 1 + (i % 3) }).uuid);
    for (let i = 0; i < 1200; i++) want.add(h.ctl.addContainer({ state: 'Locked' }).uuid);
    await h.queue.update();
    const { entries } = h.queue.entries();
    assert.equal(entries.size, 3700);
    assert.deepEqual(new Set(entries.keys()), want);

    const mine = lists(h).filter((r) => filtersOf(r)[0][0] === 'locked_by_uuid');
    assert.deepEqual(
      mine.map((r) => filtersOf(r).slice(1)),
      [[], [['uuid', '>', [...want].slice(2500)[999]]], [['uuid', '>', [...want].at(-1)]]],
      'by uuid > last, until an empty page',
    );
    const queued = lists(h).filter((r) => filtersOf(r)[0][0] === 'state');
    assert.ok(queued.length >= 3 && queued.length <= 9, `${queued.length} requests for 2,500 queued containers`);
    assert.equal(lists(h).filter((r) => filtersOf(r)[0][0] === 'uuid').length, 0, 'nothing tracked was missing');
  });

  it('misses no queued container when others leave the list mid-poll, and counts none twice', async () => {
    let phase2 = 0;
    h = await harness();
    const all: Container[] = [];
    for (let i = 0; i < 2500; i++) all.push(h.ctl.addContainer({ priority: 1 + (i % 5) }));
    const byPriority = [...all].sort((a, b) => b.priority - a.priority || (a.uuid < b.uuid ? -1 : 1));
    const taken = byPriority.slice(0, 100).map((c) => c.uuid);
    const raised = byPriority[2000].uuid;
    const lowered = byPriority[150].uuid;
    h.ctl.setHook((req) => {
      if (req.path !== LIST || !req.query.filters.includes('"state"')) return undefined;
      if (++phase2 === 2) {
        // After the first page: another dispatcher takes 100 of the containers already read,
        // one unread container jumps to the top, one read container drops to the bottom.
        for (const uuid of taken) h.ctl.setFields(uuid, { state: 'Locked', locked_by_uuid: OTHER_UUID });
        h.ctl.setPriority(raised, 1000);
        h.ctl.setPriority(lowered, 1);
      }
      return undefined;
    });
    await h.queue.update();
    const { entries } = h.queue.entries();
    const notTaken = all.filter((c) => !taken.includes(c.uuid) && c.uuid !== raised);
    for (const c of notTaken) assert.ok(entries.has(c.uuid), `${c.uuid} missed`);
    assert.equal(entries.get(lowered)?.container.priority, 1, 'seen again, later copy wins');
    // The raised one passed behind the cursor: a keyset poll misses it this time (an offset poll would too).
    assert.equal(entries.has(raised), false);

    // The next poll finds it, and the taken ones are asked about individually and kept as they are now.
    await h.queue.update();
    assert.equal(h.queue.get(raised)?.priority, 1000);
    assert.equal(h.queue.get(taken[0])?.locked_by_uuid, OTHER_UUID);
  });

  it('sees a priority drop and a cancellation through the uuid-in phase, then drops the final one a poll later', async () => {
    h = await harness();
    const a = h.ctl.addContainer({ priority: 5 });
    const b = h.ctl.addContainer({ priority: 5 });
    await h.queue.update();
    h.ctl.setPriority(a.uuid, 0);
    h.ctl.cancel(b.uuid, 'user cancelled');
    await h.queue.update();
    assert.equal(h.queue.get(a.uuid)?.priority, 0);
    assert.equal(h.queue.get(a.uuid)?.state, 'Queued');
    assert.equal(h.queue.get(b.uuid)?.state, 'Cancelled');
    assert.deepEqual(h.queue.get(b.uuid)?.runtime_status, { error: 'user cancelled' });
    const tracked = lists(h).filter((r) => filtersOf(r)[0][0] === 'uuid');
    assert.deepEqual(filtersOf(tracked[0])[0][2], [a.uuid, b.uuid].sort());

    await h.queue.update();
    assert.equal(h.queue.get(b.uuid), undefined, 'final: kept for one poll, then dropped');
    assert.equal(h.queue.get(a.uuid)?.priority, 0, 'priority 0 stays until forgotten');
    h.queue.forget(a.uuid);
    assert.equal(h.queue.get(a.uuid), undefined);
  });

  it('asks about tracked containers in batches of 100', async () => {
    h = await harness();
    const uuids: string[] = [];
    for (let i = 0; i < 250; i++) uuids.push(h.ctl.addContainer().uuid);
    await h.queue.update();
    for (const uuid of uuids) h.ctl.setPriority(uuid, 0);
    const before = h.ctl.requestLog().length;
    await h.queue.update();
    const tracked = h.ctl
      .requestLog()
      .slice(before)
      .filter((r) => r.path === LIST && filtersOf(r)[0][0] === 'uuid');
    const firstPages = tracked.filter((r) => filtersOf(r).length === 1);
    assert.deepEqual(firstPages.map((r) => (filtersOf(r)[0][2] as string[]).length), [100, 100, 50]);
    assert.ok(uuids.every((u) => h.queue.get(u)?.priority === 0));
  });

  it('drops a tracked container the controller no longer has, with a warning', async () => {
    h = await harness();
    const gone = h.ctl.addContainer();
    await h.queue.update();
    h.ctl.setPriority(gone.uuid, 0);
    h.ctl.setHook((req) => (req.path === LIST && req.query.filters.includes('"in"') ? { status: 200, body: { items: [] } } : undefined));
    await h.queue.update();
    assert.equal(h.queue.get(gone.uuid), undefined);
    assert.ok(h.lines.records().some((r) => r.msg === 'container not found by controller (deleted?)' && r.ContainerUUID === gone.uuid));
  });

  it('fails the poll, changing nothing, when the controller answers a uuid-in query with something else', async () => {
    h = await harness();
    const a = h.ctl.addContainer();
    const stranger = h.ctl.addContainer({ priority: 0 });
    await h.queue.update();
    h.ctl.setPriority(a.uuid, 0);
    h.ctl.setHook((req) => {
      if (req.path !== LIST || !req.query.filters.includes('"in"')) return undefined;
      return { status: 200, body: { items: req.query.filters.includes('">"') ? [] : [h.ctl.get(stranger.uuid)] } };
    });
    await assert.rejects(h.queue.update(), /not asked for/);
    assert.equal(h.queue.get(a.uuid)?.priority, 1);
  });

  it('drops a container taken by another dispatcher only once the controller stops returning it', async () => {
    h = await harness();
    const c = h.ctl.addContainer();
    await h.queue.update();
    h.ctl.setFields(c.uuid, { state: 'Locked', locked_by_uuid: OTHER_UUID });
    await h.queue.update();
    // As the reference: still tracked (phase 3 returns it), for the scheduler to see it is not ours.
    assert.equal(h.queue.get(c.uuid)?.locked_by_uuid, OTHER_UUID);
    h.queue.forget(c.uuid);
    assert.ok(h.queue.get(c.uuid), 'not forgotten: neither final nor priority 0');
  });

  it('learns the token uuid once, and types each container once', async () => {
    let chosen = 0;
    h = await harness({
      queue: {
        chooseTypes: () => {
          chosen++;
          return [];
        },
      },
    });
    h.ctl.addContainer();
    await h.queue.update();
    await h.queue.update();
    assert.equal(h.ctl.stats['GET /arvados/v1/api_client_authorizations/current'], 1);
    assert.equal(chosen, 1);
  });
});
