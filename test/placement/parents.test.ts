/**
 * Reading which runner made each container's request, or which request it
 * runs for: batched, one call at a time, remembered, and asked again after
 * a failure once the retry delay has passed.
 */
import assert from 'node:assert/strict';
import type { ListParams } from '../../src/arvados/client.js';
import type { ItemList } from '../../src/arvados/types.js';
import { ManualClock } from '../../src/clock/manual.js';
import { createLogger, LineCollector, RateLimitedLog } from '../../src/log.js';
import { ParentLookup } from '../../src/placement/parents.js';
import { BATCH, RequestDirectory, RETRY_MS, type RequestFacts } from '../../src/placement/requests.js';

/** A controller that answers each call when told to. */
function source(reqs: RequestFacts[]): {
  calls: string[][];
  answer(fail?: boolean): Promise<void>;
  listContainerRequests(p: ListParams): Promise<ItemList<RequestFacts>>;
} {
  const pending: Array<{ uuids: string[]; resolve: (v: ItemList<RequestFacts>) => void; reject: (e: Error) => void }> = [];
  return {
    calls: [],
    listContainerRequests(p) {
      const uuids = p.filters[0][2] as string[];
      this.calls.push(uuids);
      return new Promise((resolve, reject) => pending.push({ uuids, resolve, reject }));
    },
    async answer(fail = false) {
      const call = pending.shift()!;
      if (fail) call.reject(new Error('503'));
      else call.resolve({ items: reqs.filter((r) => call.uuids.includes(r.container_uuid)) });
      await new Promise((r) => setImmediate(r));
    },
  };
}

function req(uuid: string, container: string, parent: string | null = null): RequestFacts {
  return { uuid, owner_uuid: 'zzzzz-tpzed-aaaaaaaaaaaaaaa', container_uuid: container, requesting_container_uuid: parent };
}

function setup(reqs: RequestFacts[]) {
  const clock = new ManualClock();
  const out = new LineCollector();
  const logger = createLogger({ stream: out, clock });
  const src = source(reqs);
  const requests = new RequestDirectory({ client: src, clock, logger });
  return { clock, out, src, requests, log: new RateLimitedLog(logger, clock) };
}

describe('pre-warming and reclaim escalation: a container request looked up', () => {
  it('asks in batches, one call at a time, remembers the answers and says when it learnt something', async () => {
    const { src, requests, log } = setup([req('q1', 'c1', 'r1')]);
    const p = new ParentLookup(requests, log);
    const many = Array.from({ length: BATCH + 1 }, (_, i) => `x${i}`);
    assert.equal(p.parentOf('c1'), undefined);
    for (const u of many) p.parentOf(u);
    assert.deepEqual(src.calls, [], 'asked once the caller is done asking');
    await Promise.resolve();
    assert.deepEqual(src.calls, [['c1', ...many.slice(0, BATCH - 1)]], 'one full batch in flight');
    await src.answer();
    assert.equal(p.version, 1);
    assert.equal(p.parentOf('c1'), 'r1');
    assert.equal(p.parentOf('x0'), null, 'no request names a runner: top level');
    assert.deepEqual(src.calls[1], many.slice(BATCH - 1));
    await src.answer();
    assert.equal(src.calls.length, 2, 'nothing left to ask');
  });

  it('after a failed call, warns in the words of the feature that asked and asks again once RETRY_MS has passed', async () => {
    const { clock, out, src, requests, log } = setup([req('q1', 'c1', 'r1')]);
    const p = new ParentLookup(requests, log);
    p.parentOf('c1');
    await Promise.resolve();
    await src.answer(true);
    assert.equal(p.version, 0);
    assert.ok(out.records().some((r) => r.msg === 'pre-warming: cannot read container requests'));
    assert.equal(p.parentOf('c1'), undefined);
    assert.deepEqual(src.calls, [['c1']], 'not asked again at once');
    await clock.advance(RETRY_MS);
    assert.equal(p.parentOf('c1'), undefined);
    await Promise.resolve();
    assert.deepEqual(src.calls, [['c1'], ['c1']]);
    await src.answer();
    assert.equal(p.parentOf('c1'), 'r1');
  });

  it("answers a reused container's runner from the request a runner made, and its request from the top-level one", async () => {
    const { src, requests, log } = setup([req('q3', 'c', null), req('q1', 'c', 'runner'), req('q2', 'c', null)]);
    const runner = new ParentLookup(requests, log);
    const request = new ParentLookup(requests, log, { field: 'uuid', label: 'reclaim escalation' });
    runner.parentOf('c');
    await Promise.resolve();
    await src.answer();
    assert.equal(runner.parentOf('c'), 'runner');
    assert.equal(request.parentOf('c'), 'q2', 'the first top-level request by uuid');
    assert.equal(src.calls.length, 1, 'both read the one answer');
  });

  it("answers a reused container's runner though a top-level request for it sorts first", async () => {
    const { src, requests, log } = setup([req('q1', 'c', null), req('q2', 'c', 'runner')]);
    const runner = new ParentLookup(requests, log);
    runner.parentOf('c');
    await Promise.resolve();
    await src.answer();
    assert.equal(runner.parentOf('c'), 'runner');
  });
});
