/**
 * `crunchRunRecords`: the pool's records as the scheduler reads them, two or
 * three times a pass. Built once while the pool hands out the same maps,
 * rebuilt as soon as either changes.
 */
import assert from 'node:assert/strict';
import { crunchRunRecords } from '../../src/scheduler/deps.js';
import type { WorkerPool } from '../../src/scheduler/interfaces.js';

/** An object-literal pool with just the two reads; the maps are swapped by the test. */
function poolOf(maps: { running: ReadonlyMap<string, number>; exited?: ReadonlyMap<string, number> }): WorkerPool {
  return { running: () => maps.running, exited: maps.exited && (() => maps.exited!) } as unknown as WorkerPool;
}

describe('crunchRunRecords', () => {
  it('lists live processes without an exit time and exited ones with theirs (an exit wins over a live record)', () => {
    const records = crunchRunRecords(poolOf({ running: new Map([['a', 1], ['b', 2]]), exited: new Map([['b', 5], ['c', 7]]) }));
    assert.deepEqual([...records], [['a', {}], ['b', { exitedAt: 5 }], ['c', { exitedAt: 7 }]]);
  });

  it('gives the same records while the pool gives the same maps, and new ones when either changes', () => {
    const maps = { running: new Map([['a', 1]]) as ReadonlyMap<string, number>, exited: new Map<string, number>() as ReadonlyMap<string, number> };
    const pool = poolOf(maps);
    const first = crunchRunRecords(pool);
    assert.equal(crunchRunRecords(pool), first, 'same maps: the records are kept');

    maps.running = new Map([['a', 1], ['b', 2]]);
    const second = crunchRunRecords(pool);
    assert.notEqual(second, first);
    assert.deepEqual([...second.keys()], ['a', 'b'], 'a new running() map: rebuilt');

    maps.exited = new Map([['a', 9]]);
    const third = crunchRunRecords(pool);
    assert.deepEqual(third.get('a'), { exitedAt: 9 }, 'a new exited() map: rebuilt');
    assert.deepEqual(first.get('a'), {}, 'records handed out before are not changed');
  });

  it('keeps the records of each pool apart', () => {
    const one = poolOf({ running: new Map([['a', 1]]) });
    const two = poolOf({ running: new Map([['z', 1]]) });
    assert.deepEqual([...crunchRunRecords(one).keys()], ['a']);
    assert.deepEqual([...crunchRunRecords(two).keys()], ['z']);
    assert.deepEqual([...crunchRunRecords(one).keys()], ['a']);
  });
});
