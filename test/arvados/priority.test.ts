import assert from 'node:assert/strict';
import { containerPriorityOf, REQUEST_PRIORITY_SCALE, requestPriority } from '../../src/arvados/priority.js';

describe('container priorities', () => {
  it('reads the request priority back from a current controller priority (request x 2^50 - created_at ms), and takes an older one as it is', () => {
    const at = Date.parse('2026-12-05T10:00:00Z');
    assert.equal(REQUEST_PRIORITY_SCALE, 1125899906842624);
    for (const request of [1, 2, 7, 8, 499, 500, 900, 999, 1000]) {
      // As JSON.parse gives it: a double, rounded above 2^53.
      const priority = JSON.parse(String(BigInt(request) * BigInt(REQUEST_PRIORITY_SCALE) - BigInt(at))) as number;
      assert.equal(requestPriority(priority), request, String(request));
      assert.equal(requestPriority(request * REQUEST_PRIORITY_SCALE), request, `${request} at the epoch`);
    }
    for (const old of [0, 1, 500, 1000]) assert.equal(requestPriority(old), old);
  });

  it('computes the 2.7+ priority of a request at a time as the controller does (the simulator and the benchmark state priorities so), 0 staying 0', () => {
    const at = Date.parse('2026-12-05T10:00:00Z');
    for (const request of [1, 500, 1000]) {
      const exact = JSON.parse(String(BigInt(request) * BigInt(REQUEST_PRIORITY_SCALE) - BigInt(at))) as number;
      assert.equal(containerPriorityOf(request, at), exact, String(request));
      assert.equal(requestPriority(containerPriorityOf(request, at)), request);
    }
    assert.equal(containerPriorityOf(0, at), 0, 'on hold');
    assert.ok(containerPriorityOf(500, at) > containerPriorityOf(500, at + 1000), 'an older request of the same priority comes first');
  });
});
