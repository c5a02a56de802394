/** The shared directory of container requests: one lookup for every feature, kept while it is needed, bad answers ignored. */
import assert from 'node:assert/strict';
import type { ListParams } from '../../src/arvados/client.js';
import type { ItemList } from '../../src/arvados/types.js';
import { ManualClock, settle } from '../../src/clock/manual.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { OwnerResolver } from '../../src/placement/owners.js';
import { ParentLookup } from '../../src/placement/parents.js';
import { type Asker, FORGET_MS, RequestDirectory, RETRY_MS, type RequestFacts } from '../../src/placement/requests.js';
import { RateLimitedLog } from '../../src/log.js';

const USER = 'zzzzz-tpzed-aaaaaaaaaaaaaaa';

function req(uuid: string, container: string, parent: string | null = null): RequestFacts {
  return { uuid, owner_uuid: USER, container_uuid: container, requesting_container_uuid: parent };
}

/** A controller answering from `items` (any JSON), failing while `fail` > 0; records the containers of each call. */
function fakeClient(items: unknown[]) {
  const c = {
    calls: [] as string[][],
    fail: 0,
    listContainerRequests(p: ListParams): Promise<ItemList<object>> {
      const want = p.filters[0][2] as string[];
      c.calls.push(want);
      if (c.fail > 0) {
        c.fail--;
        return Promise.reject(new Error('controller down'));
      }
      return Promise.resolve({ items: items.filter((i) => typeof i !== 'object' || i === null || want.includes((i as RequestFacts).container_uuid)) as object[] });
    },
  };
  return c;
}

function setup(items: unknown[], inQueue?: (uuid: string) => boolean) {
  const clock = new ManualClock();
  const out = new LineCollector();
  const logger = createLogger({ stream: out, clock });
  const client = fakeClient(items);
  const dir = new RequestDirectory({ client, clock, logger, inQueue });
  return { clock, out, logger, client, dir };
}

function asker(): Asker & { errors: number[] } {
  const errors: number[] = [];
  return { errors, onError: (_e, n) => errors.push(n) };
}

describe('RequestDirectory', () => {
  it('answers fair share, the spending cap, pre-warming and reclaim escalation from one lookup', async () => {
    const { clock, logger, client, dir } = setup([req('q1', 'runner'), req('q2', 'child', 'runner')]);
    const fair = new OwnerResolver({ requests: dir, clock, logger, by: 'owner' });
    const cap = new OwnerResolver({ requests: dir, clock, logger, by: 'project', label: 'spending cap' });
    const prewarm = new ParentLookup(dir, new RateLimitedLog(logger, clock));
    const escalation = new ParentLookup(dir, new RateLimitedLog(logger, clock), { field: 'uuid', label: 'reclaim escalation' });
    fair.update(['child']);
    cap.update(['child']);
    assert.equal(prewarm.parentOf('child'), undefined);
    assert.equal(escalation.parentOf('child'), undefined);
    await settle(10);
    fair.update(['child']);
    await settle(10);
    assert.deepEqual(client.calls, [['child'], ['runner']], 'each container asked about once, whoever asked');
    assert.equal(fair.ownerOf('child'), USER);
    assert.equal(cap.ownerOf('child'), USER);
    assert.equal(prewarm.parentOf('child'), 'runner');
    assert.equal(escalation.parentOf('child'), 'q2');
    assert.equal(dir.version, 2);
  });

  it('keeps an answer while its container is in the queue, and forgets it FORGET_MS after it left and was last read', async () => {
    const queue = new Set(['a', 'b']);
    const { clock, client, dir } = setup([req('qa', 'a'), req('qb', 'b')], (u) => queue.has(u));
    const me = asker();
    dir.requestsOf('a', me);
    dir.requestsOf('b', me);
    await settle(10);
    assert.equal(dir.size, 2);
    queue.delete('b');
    await clock.advance(FORGET_MS + 60_000);
    dir.requestsOf('a', me);
    assert.equal(dir.size, 1, 'b left the queue and nobody read it');
    assert.equal(dir.requestsOf('a', me)?.[0].uuid, 'qa', 'a, still queued, is answered without a call');
    assert.equal(client.calls.length, 1);
    queue.delete('a');
    await clock.advance(FORGET_MS / 2);
    dir.requestsOf('a', me);
    await clock.advance(FORGET_MS / 2 + 60_000);
    assert.ok(dir.requestsOf('a', me), 'read within FORGET_MS: kept after it left (a runner above live children)');
  });

  it('told nothing of the queue, keeps an answer only while it is read: one not read for FORGET_MS is forgotten', async () => {
    const { clock, client, dir } = setup([req('qa', 'a'), req('qb', 'b')]);
    const me = asker();
    dir.requestsOf('a', me);
    dir.requestsOf('b', me);
    await settle(10);
    assert.equal(dir.size, 2);
    for (let t = 0; t <= FORGET_MS; t += 60_000) {
      await clock.advance(60_000);
      dir.requestsOf('a', me);
    }
    assert.equal(dir.size, 1, 'b, not read since, is forgotten');
    assert.equal(dir.requestsOf('a', me)?.[0].uuid, 'qa');
    assert.equal(client.calls.length, 1, 'a, read all along, was never asked again');
  });

  it('ignores items without a uuid, owner or container, and reads a container left with none as having no requests', async () => {
    const { dir } = setup([null, 7, { uuid: 'q1', container_uuid: 'c1' }, { uuid: 'q2', owner_uuid: USER, container_uuid: 'c2', requesting_container_uuid: 42 }]);
    const me = asker();
    dir.requestsOf('c1', me);
    dir.requestsOf('c2', me);
    await settle(10);
    assert.deepEqual(dir.requestsOf('c1', me), []);
    assert.deepEqual(dir.requestsOf('c2', me), [{ uuid: 'q2', owner_uuid: USER, container_uuid: 'c2', requesting_container_uuid: null }]);
  });

  it('tells each feature waiting for a failed lookup how many of its containers it missed, and asks again after RETRY_MS', async () => {
    const { clock, client, dir } = setup([req('q1', 'c1'), req('q2', 'c2')]);
    const one = asker();
    const two = asker();
    const idle = asker();
    client.fail = 1;
    dir.requestsOf('c1', one);
    dir.requestsOf('c2', one);
    dir.requestsOf('c2', two);
    await settle(10);
    assert.deepEqual([one.errors, two.errors, idle.errors], [[2], [1], []]);
    dir.requestsOf('c1', one);
    await settle(10);
    assert.equal(client.calls.length, 1, 'not before RETRY_MS');
    await clock.advance(RETRY_MS);
    dir.requestsOf('c1', one);
    dir.requestsOf('c2', two);
    await settle(10);
    assert.equal(dir.requestsOf('c2', two)?.[0].uuid, 'q2');
    assert.equal(client.calls.length, 2);
  });

  it('when a page comes back full, asks again later for the containers it left out, and warns', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => req(`q${String(i).padStart(4, '0')}`, 'c1'));
    const { clock, out, client, dir } = setup([...many, req('z1', 'c2')].slice(0, 1000));
    const me = asker();
    dir.requestsOf('c1', me);
    dir.requestsOf('c2', me);
    await settle(10);
    assert.equal(dir.requestsOf('c1', me)?.length, 1000);
    assert.equal(dir.requestsOf('c2', me), undefined, 'left out by the full page');
    assert.ok(out.records().some((r) => String(r.msg).startsWith('a container request lookup filled its page')));
    await clock.advance(RETRY_MS);
    dir.requestsOf('c2', me);
    await settle(10);
    assert.deepEqual(client.calls.at(-1), ['c2']);
  });

  it("takes a page cut to the controller's own limit (a lower MaxItemsPerResponse) as full, not as the whole answer", async () => {
    const clock = new ManualClock();
    const items = [req('q1', 'c1'), req('q2', 'c2'), req('q3', 'c3')];
    const calls: string[][] = [];
    const client = {
      listContainerRequests(p: ListParams): Promise<ItemList<object>> {
        const want = p.filters[0][2] as string[];
        calls.push(want);
        // MaxItemsPerResponse: 2. The answer says so in `limit`.
        return Promise.resolve({ items: items.filter((i) => want.includes(i.container_uuid)).slice(0, 2), limit: 2 });
      },
    };
    const dir = new RequestDirectory({ client, clock, logger: createLogger({ stream: new LineCollector(), clock }) });
    const me = asker();
    for (const c of ['c1', 'c2', 'c3']) dir.requestsOf(c, me);
    await settle(10);
    assert.equal(dir.requestsOf('c1', me)?.length, 1);
    assert.equal(dir.requestsOf('c3', me), undefined, 'not "no requests": left out of a full page');
    await clock.advance(RETRY_MS);
    dir.requestsOf('c3', me);
    await settle(10);
    assert.deepEqual(calls.at(-1), ['c3']);
    assert.deepEqual(dir.requestsOf('c3', me)?.map((r) => r.uuid), ['q3']);
  });

  it('stops at a failed lookup: the rest of the containers are not asked of a controller that just failed', async () => {
    const { client, dir } = setup([]);
    const me = asker();
    client.fail = 1;
    for (let i = 0; i < 150; i++) dir.requestsOf(`c${i}`, me);
    await settle(10);
    assert.equal(client.calls.length, 1, 'one batch of 100, failed; the other 50 wait for the next look');
    assert.deepEqual(me.errors, [100]);
  });

  it('keeps an answer outside the queue for as long as a feature keeps reading it (a runner above a live child)', async () => {
    const { clock, client, dir } = setup([req('q1', 'runner')], () => false);
    const me = asker();
    dir.requestsOf('runner', me);
    await settle(10);
    for (let t = 0; t < 3 * FORGET_MS; t += 60_000) {
      await clock.advance(60_000);
      assert.equal(dir.requestsOf('runner', me)?.[0].uuid, 'q1');
    }
    await settle(10);
    assert.equal(client.calls.length, 1, 'asked once');
  });
});
