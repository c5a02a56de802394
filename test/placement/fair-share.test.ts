/** The share order: who goes next across owners, the controller's order within one, bands and groups kept. */
import assert from 'node:assert/strict';
import { CHARGE_SECONDS, fairShareOrder, NO_SEGMENT, segmentOf, type FairShareInput } from '../../src/placement/fair-share.js';

/** Containers as object literals, listed in the controller's order; positions are their indexes. */
interface Fake {
  owner: string;
  vcpus?: number;
  segment?: number;
}

function run(fakes: Fake[], usage: Record<string, number> = {}, weights: Record<string, number> = {}): { owners: string[]; order: number[]; movedBack: Map<number, number> } {
  const input: FairShareInput = {
    order: Uint32Array.from(fakes.keys()),
    segment: (k) => fakes[k].segment ?? 0,
    owner: (k) => fakes[k].owner,
    vcpus: (k) => fakes[k].vcpus ?? 1,
    usage: (o) => usage[o] ?? 0,
    weight: (o) => weights[o] ?? 1,
  };
  const { order, movedBack } = fairShareOrder(input);
  return { owners: Array.from(order, (k) => fakes[k].owner), order: Array.from(order), movedBack };
}

const many = (owner: string, n: number, extra: Partial<Fake> = {}): Fake[] => Array.from({ length: n }, () => ({ owner, ...extra }));

describe('fair share order', () => {
  it('one owner keeps the controller order exactly, and nothing is moved back', () => {
    const r = run(many('heavy', 5));
    assert.deepEqual(r.order, [0, 1, 2, 3, 4]);
    assert.equal(r.movedBack.size, 0);
  });

  it('owners with equal use alternate, the one first in the controller order first', () => {
    const r = run([...many('heavy', 4), ...many('light', 2)]);
    assert.deepEqual(r.owners, ['heavy', 'light', 'heavy', 'light', 'heavy', 'heavy']);
  });

  it('the owner furthest below their share goes first, until its charge catches up', () => {
    // heavy used 3 minutes' worth of one VCPU: light's 3 containers (one charge each) all go first.
    const r = run([...many('heavy', 3), ...many('light', 3)], { heavy: 3 * CHARGE_SECONDS });
    assert.deepEqual(r.owners, ['light', 'light', 'light', 'heavy', 'heavy', 'heavy']);
    assert.deepEqual([...r.movedBack], [
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
  });

  it('within one owner the controller order holds however the owners interleave', () => {
    const fakes = [...many('a', 3), ...many('b', 3), ...many('c', 3)];
    const r = run(fakes, { a: 100, b: 50, c: 0 });
    for (const owner of ['a', 'b', 'c']) {
      const mine = r.order.filter((k) => fakes[k].owner === owner);
      assert.deepEqual(mine, [...mine].sort((x, y) => x - y), owner);
    }
    assert.equal(r.owners[0], 'c');
  });

  it('weights divide the use: weight 3 gets three places for each one of weight 1', () => {
    const r = run([...many('big', 6), ...many('small', 6)], {}, { big: 3 });
    assert.deepEqual(r.owners.slice(0, 8), ['big', 'small', 'big', 'big', 'big', 'small', 'big', 'big']);
  });

  it('a bigger container charges its owner more: two 4-VCPU containers weigh as eight of 1 VCPU', () => {
    const r = run([...many('wide', 2, { vcpus: 4 }), ...many('narrow', 5)]);
    assert.deepEqual(r.owners, ['wide', 'narrow', 'narrow', 'narrow', 'narrow', 'wide', 'narrow']);
  });

  it('never moves a container across runs (priority bands, pass groups), nor one with no run', () => {
    const fakes: Fake[] = [
      { owner: 'heavy', segment: 0 },
      { owner: 'heavy', segment: 0 },
      { owner: 'light', segment: 0 },
      { owner: 'heavy', segment: 1 },
      { owner: 'light', segment: 1 },
      { owner: 'heavy', segment: NO_SEGMENT },
      { owner: 'light', segment: NO_SEGMENT },
    ];
    const r = run(fakes, { heavy: 1e6 });
    assert.deepEqual(r.order, [2, 0, 1, 4, 3, 5, 6]);
  });

  it('segments: a band per threshold, highest first; groups apart; priority below 1 in none', () => {
    const bands = [900, 500];
    assert.equal(segmentOf(2, 1000, bands), 6);
    assert.equal(segmentOf(2, 900, bands), 6);
    assert.equal(segmentOf(2, 899, bands), 7);
    assert.equal(segmentOf(2, 500, bands), 7);
    assert.equal(segmentOf(2, 1, bands), 8);
    assert.equal(segmentOf(1, 1, bands), 5);
    assert.equal(segmentOf(2, 0, bands), NO_SEGMENT);
    assert.equal(segmentOf(2, 7, []), 2);
  });

  it('segments by the request priority a current controller folds into the container priority (request x 2^50 - created_at ms)', () => {
    const bands = [900, 500];
    const at = Date.parse('2026-12-05T10:00:00Z');
    const current = (request: number) => request * 2 ** 50 - at;
    assert.equal(segmentOf(2, current(1000), bands), 6);
    assert.equal(segmentOf(2, current(900), bands), 6);
    assert.equal(segmentOf(2, 900 * 2 ** 50, bands), 6, 'created at the epoch');
    assert.equal(segmentOf(2, current(899), bands), 7);
    assert.equal(segmentOf(2, current(500), bands), 7);
    assert.equal(segmentOf(2, current(499), bands), 8);
    assert.equal(segmentOf(2, current(1), bands), 8);
  });

  it('1000 light containers among 100k heavy ones are merged quickly (O(n log owners))', () => {
    const fakes = [...many('heavy', 100_000), ...Array.from({ length: 1000 }, (_, i) => ({ owner: `light${i % 10}` }))];
    const t0 = performance.now();
    const r = run(fakes, { heavy: 1e9 });
    assert.ok(performance.now() - t0 < 2000);
    assert.ok(r.owners.slice(0, 1000).every((o) => o.startsWith('light')));
  });
});
