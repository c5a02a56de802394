/**
 * Reading which runner made each container's request: batched, one request
 * at a time, remembered, and asked again after a failure.
 */
import assert from 'node:assert/strict';
import type { ListParams } from '../../src/arvados/client.js';
import type { ItemList } from '../../src/arvados/types.js';
import { ManualClock } from '../../src/clock/manual.js';
import { createLogger, RateLimitedLog } from '../../src/log.js';
import { BATCH, ParentLookup, type RequestRef } from '../../src/placement/parents.js';

/** A controller that answers each call when told to. */
function source(parents: Record<string, string>): {
  calls: string[][];
  answer(fail?: boolean): Promise<void>;
  listContainerRequests(p: ListParams): Promise<ItemList<RequestRef>>;
} {
  const pending: Array<{ uuids: string[]; resolve: (v: ItemList<RequestRef>) => void; reject: (e: Error) => void }> = [];
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
      else call.resolve({ items: call.uuids.filter((u) => parents[u]).map((u) => ({ container_uuid: u, requesting_container_uuid: parents[u] })) });
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('pre-warming: which runner made a request', () => {
  const log = new RateLimitedLog(createLogger({ level: 'error' }), new ManualClock());

  it('asks in batches, one call at a time, remembers the answers and says when it learnt something', async () => {
    const src = source({ c1: 'r1' });
    const p = new ParentLookup(src, log);
    const many = Array.from({ length: BATCH + 1 }, (_, i) => `x${i}`);
    assert.equal(p.parentOf('c1'), undefined);
    for (const u of many) p.parentOf(u);
    assert.deepEqual(src.calls, [['c1']], 'one call in flight');
    await src.answer();
    assert.equal(p.version, 1);
    assert.equal(p.parentOf('c1'), 'r1');
    assert.equal(src.calls.length, 2);
    assert.equal(src.calls[1].length, BATCH);
    await src.answer();
    assert.equal(p.parentOf('x0'), null, 'no request names a runner: top level');
    assert.deepEqual(src.calls[2], [`x${BATCH}`]);
    await src.answer();
    assert.equal(src.calls.length, 3, 'nothing left to ask');
  });

  it('after a failed call, asks again when next asked', async () => {
    const src = source({ c1: 'r1' });
    const p = new ParentLookup(src, log);
    p.parentOf('c1');
    await src.answer(true);
    assert.equal(p.version, 0);
    assert.equal(p.parentOf('c1'), undefined);
    assert.deepEqual(src.calls, [['c1'], ['c1']]);
    await src.answer();
    assert.equal(p.parentOf('c1'), 'r1');
  });
});
