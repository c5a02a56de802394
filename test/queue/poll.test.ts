/**
 * The queue's poll against the test controller: what each list asks for,
 * our locked containers paged by uuid, the checks by uuid of tracked
 * containers that left the lists, and the one details read per new
 * container (`sweep.test.ts` covers the backlog sweep, `details.test.ts`
 * the details read).
 */
import assert from 'node:assert/strict';
import { makeClient, OTHER_TOKEN, OTHER_UUID } from '../arvados/helpers.js';
import { harness, type Harness, listRequests, polls } from './helpers.js';

const LIST = '/arvados/v1/containers';
const GET_ONE = 'GET /arvados/v1/containers/{uuid}';

const GiB = 2 ** 30;

describe('container queue poll', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('list queries never select mounts', async () => {
    h = await harness();
    const cwlInput = { kind: 'json', content: { reads: Array.from({ length: 200 }, (_, i) => ({ class: 'File', location: `keep:${i}` })) } };
    const mine = h.ctl.addContainer({ state: 'Locked', mounts: { '/var/lib/cwl/cwl.input.json': cwlInput } });
    const running = h.ctl.addContainer({ state: 'Running', mounts: { '/var/lib/cwl/cwl.input.json': cwlInput } });
    h.ctl.addContainer({ state: 'Locked', locked_by_uuid: OTHER_UUID });
    const queued = h.ctl.addContainer({ priority: 3, mounts: { '/var/lib/cwl/cwl.input.json': cwlInput } });
    h.ctl.addContainer({ priority: 0 });
    h.ctl.addContainer({ state: 'Complete' });
    await polls(h, 3);

    const { entries, updated } = h.queue.entries();
    assert.deepEqual([...entries.keys()].sort(), [mine.uuid, running.uuid, queued.uuid].sort());
    assert.equal(updated, h.clock.now());
    const reqs = listRequests(h.ctl);
    assert.ok(reqs.length >= 6, `${reqs.length} list requests`);
    for (const r of reqs) {
      assert.deepEqual([...r.select].sort(), ['lock_count', 'locked_by_uuid', 'priority', 'state', 'uuid'], `${r.phase} selects ${JSON.stringify(r.select)}`);
      assert.equal(r.limit, '1000');
    }
    const raw = h.ctl.requestLog().filter((r) => r.path === LIST);
    assert.ok(raw.every((r) => r.query.count === 'none'));
    // Ours by uuid first, then the head of the queued list by priority.
    assert.equal(reqs[0].phase, 'mine');
    assert.deepEqual(reqs[0].filters, [['locked_by_uuid', '=', h.ctl.rootTokenUuid]]);
    assert.equal(reqs[0].order, 'uuid');
    const head = reqs.find((r) => r.phase === 'head')!;
    assert.deepEqual(head.filters, [
      ['state', '=', 'Queued'],
      ['priority', '>', 0],
    ]);
    assert.equal(head.order, '["priority desc","uuid asc"]');
    const e = entries.get(queued.uuid)!;
    assert.equal(e.container.priority, 3);
    assert.equal(e.container.mounts, undefined, 'mounts are used for the type choice, then dropped');
  });

  it("fetches a new container's mounts once by uuid", async () => {
    h = await harness();
    // 100 GiB of scratch: only the large type (200 GiB) has it, so the mounts decide the type.
    const c = h.ctl.addContainer({ priority: 2, mounts: { '/tmp': { kind: 'tmp', capacity: 100 * GiB } } });
    await polls(h, 3);
    assert.equal(h.ctl.stats[GET_ONE], 1, 'one read, on the poll that first saw it');
    const get = h.ctl.requestLog().find((r) => r.path === `${LIST}/${c.uuid}`)!;
    assert.ok((JSON.parse(get.query.select) as string[]).includes('mounts'));
    const e = h.queue.entries().entries.get(c.uuid)!;
    assert.deepEqual(e.instanceTypes.map((t) => t.Name), ['large']);
    assert.equal(e.instanceResources.scratch, 100 * GiB);
    assert.equal(e.container.runtime_constraints.vcpus, 1, 'the constant attributes come with that read');
    assert.equal(e.container.mounts, undefined);
    assert.equal(e.firstSeenAt, h.clock.now());
  });

  it('reads our locked containers by uuid, paging with uuid > last until an empty page', async () => {
    h = await harness();
    const mine: string[] = [];
    for (let i = 0; i < 1200; i++) mine.push(h.ctl.addContainer({ state: 'Locked' }).uuid);
    await h.queue.update();
    assert.equal(h.queue.entries().entries.size, 1200, 'ours are all read at once, details included');
    assert.deepEqual(
      listRequests(h.ctl)
        .filter((r) => r.phase === 'mine')
        .map((r) => r.filters.slice(1)),
      [[], [['uuid', '>', mine[999]]], [['uuid', '>', mine[1199]]]],
    );
  });

  it('sees a priority drop and a cancellation through a check by uuid, then drops the final one a poll later', async () => {
    h = await harness();
    const a = h.ctl.addContainer({ priority: 5 });
    const b = h.ctl.addContainer({ priority: 5 });
    await h.queue.update();
    h.ctl.setPriority(a.uuid, 0);
    h.ctl.cancel(b.uuid, 'user cancelled');
    const before = listRequests(h.ctl).length;
    await h.queue.update();
    assert.equal(h.queue.get(a.uuid)?.priority, 0);
    assert.equal(h.queue.get(a.uuid)?.state, 'Queued');
    assert.equal(h.queue.get(b.uuid)?.state, 'Cancelled');
    const checks = listRequests(h.ctl)
      .slice(before)
      .filter((r) => r.phase === 'check');
    assert.equal(checks.length, 1);
    assert.deepEqual([...(checks[0].filters[0][2] as string[])].sort(), [a.uuid, b.uuid].sort());

    await h.queue.update();
    assert.equal(h.queue.get(b.uuid), undefined, 'final: kept for one poll, then dropped');
    assert.equal(h.queue.get(a.uuid)?.priority, 0, 'priority 0 stays until forgotten');
    h.queue.forget(a.uuid);
    assert.equal(h.queue.get(a.uuid), undefined);
  });

  it('asks about tracked containers in batches of 100, one request per batch', async () => {
    h = await harness();
    const uuids: string[] = [];
    for (let i = 0; i < 250; i++) uuids.push(h.ctl.addContainer().uuid);
    await h.queue.update();
    for (const uuid of uuids) h.ctl.setPriority(uuid, 0);
    const before = listRequests(h.ctl).length;
    await h.queue.update();
    const checks = listRequests(h.ctl)
      .slice(before)
      .filter((r) => r.phase === 'check');
    assert.deepEqual(
      checks.map((r) => (r.filters[0][2] as string[]).length),
      [100, 100, 50],
    );
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
    assert.ok(h.lines.records().some((r) => r.msg === 'container not found by controller (deleted?)' && r.ContainerUUID === gone.uuid), 'warned');
  });

  it("fails the poll, changing nothing, when the controller answers a uuid-in query with something else, and logs the reference's error line naming the container and the filters", async () => {
    h = await harness();
    const a = h.ctl.addContainer();
    const stranger = h.ctl.addContainer({ priority: 0 });
    await h.queue.update();
    h.ctl.setPriority(a.uuid, 0);
    h.ctl.setHook((req) => {
      if (req.path !== LIST || !req.query.filters.includes('"in"')) return undefined;
      return { status: 200, body: { items: [h.ctl.get(stranger.uuid)] } };
    });
    await assert.rejects(h.queue.update(), /^Error: BUG\? server response did not match requested filters: .*not asked for/);
    assert.equal(h.queue.get(a.uuid)?.priority, 1);
    const lines = h.lines.records().filter((r) => r.msg === 'BUG? server response did not match requested filters, erroring out rather than risk deadlock');
    assert.deepEqual(
      lines.map((r) => [r.level, r.ContainerUUID, r.Filters]),
      [['error', stranger.uuid, [['uuid', 'in', [a.uuid]]]]],
    );
  });

  it('keeps a container taken by another dispatcher while the controller returns it', async () => {
    h = await harness();
    const c = h.ctl.addContainer();
    await h.queue.update();
    h.ctl.setFields(c.uuid, { state: 'Locked', locked_by_uuid: OTHER_UUID });
    await h.queue.update();
    // As the reference: still tracked (a check returns it), for the scheduler to see it is not ours.
    assert.equal(h.queue.get(c.uuid)?.locked_by_uuid, OTHER_UUID);
    h.queue.forget(c.uuid);
    assert.ok(h.queue.get(c.uuid), 'not forgotten: neither final nor priority 0');
  });

  it('checks by uuid, on the next poll, a container the controller refused to lock', async () => {
    h = await harness({ retry: { attempts: 1 }, queue: { pageSize: 100 } });
    const c = h.ctl.addContainer();
    for (let i = 0; i < 300; i++) h.ctl.addContainer({ priority: 2 });
    await polls(h, 2);
    assert.ok(h.queue.get(c.uuid));
    // Outside the head (the 100 of priority 2 first), and outside the next poll's sweep slice.
    h.ctl.setFields(c.uuid, { state: 'Locked', locked_by_uuid: OTHER_UUID });
    await assert.rejects(h.queue.lock(c.uuid), /HTTP 422/);
    await h.queue.update();
    assert.equal(h.queue.get(c.uuid)?.locked_by_uuid, OTHER_UUID);
  });

  it('does not check by uuid a suspect the queue no longer tracks: a container refused a lock, then seen final and forgotten before the next poll', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const c = h.ctl.addContainer();
    await h.queue.update();
    h.ctl.cancel(c.uuid);
    await assert.rejects(h.queue.lock(c.uuid), /HTTP 422/);
    await h.queue.refresh([c.uuid]);
    assert.equal(h.queue.get(c.uuid)?.state, 'Cancelled');
    h.queue.forget(c.uuid);
    assert.equal(h.queue.get(c.uuid), undefined);
    const before = listRequests(h.ctl).length;
    await h.queue.update();
    assert.deepEqual(
      listRequests(h.ctl)
        .slice(before)
        .filter((r) => r.phase === 'check'),
      [],
    );
    assert.equal(h.queue.get(c.uuid), undefined, 'still not tracked');
  });

  it('checks ours that left the list of ours on top of checksPerPoll: ours finishing together do not hold up the check of a queued one', async () => {
    h = await harness({ queue: { checksPerPoll: 1 } });
    const mine = [h.ctl.addContainer({ state: 'Running' }), h.ctl.addContainer({ state: 'Running' })];
    const queued = h.ctl.addContainer({ priority: 3 });
    await polls(h, 1);
    assert.equal(h.queue.get(queued.uuid)?.priority, 3);
    // Both of ours end (out of the list of ours: checked by uuid), and the queued one drops out of the queued list.
    for (const c of mine) h.ctl.setFields(c.uuid, { state: 'Complete', locked_by_uuid: null });
    h.ctl.setPriority(queued.uuid, 0);
    await polls(h, 1);
    for (const c of mine) assert.notEqual(h.queue.get(c.uuid)?.state, 'Running', 'ours are always checked');
    assert.equal(h.queue.get(queued.uuid)?.priority, 0, 'the one check of the budget went to the queued container, in the same poll');
  });

  it('checks at most checksPerPoll suspects by uuid in a poll, and the one left over on the next poll', async () => {
    h = await harness({ queue: { checksPerPoll: 1 } });
    const gone = [h.ctl.addContainer({ priority: 3 }), h.ctl.addContainer({ priority: 3 })];
    const stays = h.ctl.addContainer({ priority: 1 });
    await polls(h, 1);
    // Both leave the head of the queued list, ahead of the one still in it: suspects, checked by uuid.
    for (const c of gone) h.ctl.setPriority(c.uuid, 0);
    const before = listRequests(h.ctl).length;
    await polls(h, 1);
    const checks = (from: number): string[][] =>
      listRequests(h.ctl)
        .slice(from)
        .filter((r) => r.phase === 'check')
        .map((r) => r.filters[0][2] as string[]);
    const first = checks(before);
    assert.equal(first.length, 1, `one check: ${JSON.stringify(first)}`);
    assert.equal(first[0].length, 1, 'of one container: the budget is one');
    assert.equal(gone.filter((c) => h.queue.get(c.uuid)?.priority === 0).length, 1, 'one of the two is seen at priority 0');
    const mid = listRequests(h.ctl).length;
    await polls(h, 1);
    const second = checks(mid);
    assert.deepEqual(second, [gone.map((c) => c.uuid).filter((u) => u !== first[0][0])], 'the other is checked on the next poll');
    for (const c of gone) assert.equal(h.queue.get(c.uuid)?.priority, 0, `${c.uuid} seen at priority 0`);
    assert.equal(h.queue.get(stays.uuid)?.priority, 1);
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

  it('does not check by uuid on every poll a container another dispatcher locked, however high its priority', async () => {
    h = await harness({ queue: { pageSize: 100 } });
    const c = h.ctl.addContainer({ priority: 5 });
    for (let i = 0; i < 1000; i++) h.ctl.addContainer({ priority: 2 });
    await polls(h, 8);
    h.ctl.setFields(c.uuid, { state: 'Locked', locked_by_uuid: OTHER_UUID });
    // It leaves the head, which it topped: checked by uuid on the next poll.
    await h.queue.update();
    assert.equal(h.queue.get(c.uuid)?.locked_by_uuid, OTHER_UUID);
    const before = listRequests(h.ctl).length;
    await polls(h, 4);
    const checksOfC = listRequests(h.ctl)
      .slice(before)
      .filter((r) => r.phase === 'check' && (r.filters[0][2] as string[]).includes(c.uuid)).length;
    // Not Queued any more: only the sweep's slice that covers its uuid (one poll in six here) makes it a suspect.
    assert.ok(checksOfC <= 1, `checked by uuid on ${checksOfC} of 4 polls`);
    assert.equal(h.queue.get(c.uuid)?.locked_by_uuid, OTHER_UUID);
  });

  it("carries each container's lock_count as the controller has it, also when a list shows no other change", async () => {
    h = await harness();
    const c = h.ctl.addContainer({ priority: 2, lock_count: 2 });
    const mine = h.ctl.addContainer({ state: 'Locked' });
    await h.queue.update();
    assert.equal(h.queue.get(c.uuid)?.lock_count, 2);
    assert.equal(h.queue.get(mine.uuid)?.lock_count, 1);
    // Another dispatcher locks and unlocks it between polls: the next list differs in lock_count only.
    const other = makeClient(h.ctl.url, { token: OTHER_TOKEN });
    await other.lockContainer(c.uuid);
    await other.unlockContainer(c.uuid);
    other.close();
    await h.queue.update();
    assert.equal(h.ctl.get(c.uuid)?.lock_count, 3);
    assert.equal(h.queue.get(c.uuid)?.lock_count, 3);
    assert.equal(h.queue.get(c.uuid)?.state, 'Queued');
  });
});
