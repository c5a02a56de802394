/** Owners from container requests: batched, cached, chains of runners followed up, failures never blocking. */
import assert from 'node:assert/strict';
import type { ListParams } from '../../src/arvados/client.js';
import type { ItemList } from '../../src/arvados/types.js';
import { ControllerError } from '../../src/arvados/errors.js';
import { ManualClock, settle } from '../../src/clock/manual.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { BATCH, OwnerResolver, RETRY_MS, rootRequest, shareKey } from '../../src/placement/owners.js';
import { RequestDirectory, type RequestFacts, type RequestsClient } from '../../src/placement/requests.js';

const USER_A = 'zzzzz-tpzed-aaaaaaaaaaaaaaa';
const USER_B = 'zzzzz-tpzed-bbbbbbbbbbbbbbb';
const PROJECT = 'zzzzz-j7d0g-ppppppppppppppp';

function cr(uuid: string, container: string, owner: string, parent: string | null = null, extra: Partial<RequestFacts> = {}): RequestFacts {
  return { uuid, owner_uuid: owner, container_uuid: container, requesting_container_uuid: parent, ...extra };
}

/** A controller of container requests as an object literal; records every call. */
function fakeClient(reqs: RequestFacts[]): RequestsClient & { calls: ListParams[]; fail: number; failWith: Error } {
  const c = {
    calls: [] as ListParams[],
    fail: 0,
    failWith: new Error('controller down'),
    listContainerRequests(p: ListParams): Promise<ItemList<RequestFacts>> {
      c.calls.push(p);
      if (c.fail > 0) {
        c.fail--;
        return Promise.reject(c.failWith);
      }
      const want = new Set(p.filters[0][2] as string[]);
      return Promise.resolve({ items: reqs.filter((r) => want.has(r.container_uuid)) });
    },
  };
  return c;
}

function setup(reqs: RequestFacts[], by: 'owner' | 'project' = 'owner') {
  const clock = new ManualClock();
  const out = new LineCollector();
  const client = fakeClient(reqs);
  const logger = createLogger({ stream: out, clock });
  const requests = new RequestDirectory({ client, clock, logger });
  const resolver = new OwnerResolver({ requests, clock, logger, by });
  return { clock, out, client, requests, resolver };
}

describe('OwnerResolver', () => {
  it('asks in batches of BATCH, one call at a time, and answers from the cache afterwards', async () => {
    const reqs = Array.from({ length: 250 }, (_, i) => cr(`r${i}`, `c${i}`, i % 2 ? USER_A : USER_B));
    const { client, resolver } = setup(reqs);
    const live = reqs.map((r) => r.container_uuid!);
    resolver.update(live);
    assert.equal(resolver.ownerOf('c1'), undefined, 'not known before the answer: never waited for');
    await settle(10);
    assert.deepEqual(client.calls.map((p) => (p.filters[0][2] as string[]).length), [BATCH, BATCH, 50]);
    assert.deepEqual(client.calls[0].filters[0].slice(0, 2), ['container_uuid', 'in']);
    assert.equal(resolver.ownerOf('c1'), USER_A);
    assert.equal(resolver.ownerOf('c2'), USER_B);
    resolver.update(live);
    await settle();
    assert.equal(client.calls.length, 3, 'known containers are not asked again');
  });

  it("follows a child's request up to the top-level one, each step a cached lookup", async () => {
    const { client, resolver } = setup([cr('r1', 'runner', USER_A), cr('r2', 'child', USER_B, 'runner'), cr('r3', 'grandchild', USER_B, 'child')]);
    resolver.update(['grandchild']);
    await settle(10);
    resolver.update(['grandchild']);
    await settle(10);
    resolver.update(['grandchild']);
    await settle(10);
    assert.equal(resolver.ownerOf('grandchild'), USER_A);
    assert.equal(resolver.ownerOf('child'), USER_A);
    assert.equal(client.calls.length, 3);
    resolver.update(['grandchild']);
    await settle();
    assert.equal(client.calls.length, 3);
  });

  it('a failed call leaves the owners unknown, warns once (rate-limited), and is retried after RETRY_MS', async () => {
    const { clock, client, out, resolver } = setup([cr('r1', 'c1', USER_A), cr('r2', 'c2', USER_B)]);
    client.fail = 2;
    resolver.update(['c1']);
    await settle(10);
    resolver.update(['c1', 'c2']);
    await settle(10);
    assert.equal(resolver.ownerOf('c1'), undefined);
    assert.equal(out.records().filter((r) => String(r.msg).startsWith('fair share: cannot read')).length, 1);
    resolver.update(['c1', 'c2']);
    await settle(10);
    assert.equal(client.calls.length, 2, 'not before RETRY_MS');
    await clock.advance(RETRY_MS);
    resolver.update(['c1', 'c2']);
    await settle(10);
    assert.equal(resolver.ownerOf('c1'), USER_A);
    assert.equal(resolver.ownerOf('c2'), USER_B);
  });

  it('By: owner takes the user for a request in a project; By: project the owner_uuid as it is', () => {
    const inProject = cr('r1', 'c1', PROJECT, null, { modified_by_user_uuid: USER_A });
    assert.equal(shareKey(inProject, 'owner'), USER_A);
    assert.equal(shareKey(inProject, 'project'), PROJECT);
    assert.equal(shareKey(cr('r2', 'c2', USER_B, null, { modified_by_user_uuid: USER_A }), 'owner'), USER_B);
  });

  it('a container reused by several requests stands for its first top-level one', () => {
    assert.equal(rootRequest([cr('r3', 'c', USER_B), cr('r1', 'c', USER_A, 'runner'), cr('r2', 'c', USER_A)])?.uuid, 'r2');
    assert.equal(rootRequest([cr('r3', 'c', USER_B, 'x'), cr('r1', 'c', USER_A, 'y')])?.uuid, 'r1');
  });

  it('names the feature that asked in its warnings (the spending cap uses one of its own)', async () => {
    const clock = new ManualClock();
    const out = new LineCollector();
    const client = fakeClient([cr('r1', 'c1', USER_A)]);
    client.fail = 1;
    const logger = createLogger({ stream: out, clock });
    const resolver = new OwnerResolver({ requests: new RequestDirectory({ client, clock, logger }), clock, logger, by: 'owner', label: 'spending cap' });
    resolver.update(['c1']);
    await settle(10);
    const msgs = out.records().map((r) => String(r.msg));
    assert.ok(msgs.some((m) => m.startsWith('spending cap: cannot read container requests')), msgs.join('\n'));
    assert.ok(!msgs.some((m) => m.startsWith('fair share:')), 'not worded as fair share');
  });

  it("a controller's refusal is warned with its status; a failure to reach it, without one", async () => {
    const { clock, client, out, resolver } = setup([cr('r1', 'c1', USER_A)]);
    const warnings = () => out.records().filter((r) => String(r.msg).startsWith('fair share: cannot read'));
    client.fail = 1;
    client.failWith = new ControllerError({ method: 'GET', path: '/arvados/v1/container_requests', status: 403, errors: ['Forbidden'], attempts: 1, temporary: false, requestId: 'req-1' });
    resolver.update(['c1']);
    await settle(10);
    assert.equal(warnings()[0]?.Status, 403);
    assert.equal(warnings()[0]?.Containers, 1);
    await clock.advance(60 * 60_000);
    client.fail = 1;
    client.failWith = new Error('connect ECONNREFUSED 127.0.0.1:443');
    resolver.update(['c1']);
    await settle(10);
    assert.equal(warnings().length, 2, 'the second warning comes after the rate limit');
    assert.equal(warnings()[1].error, 'connect ECONNREFUSED 127.0.0.1:443');
    assert.ok(!('Status' in warnings()[1]), 'no Status for an error the controller did not answer');
  });

  it('a loop of runners (each request made by the other container) stays unknown, and is not asked about again', async () => {
    const { client, resolver } = setup([cr('r1', 'a', USER_A, 'b'), cr('r2', 'b', USER_B, 'a')]);
    for (let i = 0; i < 3; i++) {
      resolver.update(['a']);
      await settle(10);
    }
    assert.equal(resolver.ownerOf('a'), undefined, 'no top-level request: counted as the unknown owner');
    assert.equal(resolver.ownerOf('b'), undefined);
    const calls = client.calls.length;
    assert.equal(calls, 2, 'one lookup per container');
    resolver.update(['a', 'b']);
    await settle(10);
    assert.equal(client.calls.length, calls, 'the loop is walked in the cache, never asked again');
  });
});
