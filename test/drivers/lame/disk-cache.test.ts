/** The lame cloud's cost model for images and inputs: sizes from PDHs, pulls, cold reads, the bounded disk. */
import assert from 'node:assert/strict';
import { DiskCache, pdhBytes, warmUp, type WarmUpTotals } from '../../../drivers/lame/disk-cache.js';
import { parseLameParams } from '../../../drivers/lame/params.js';
import { simPDH } from '../../../src/sim/workload-locality.js';

const GiB = 1024 ** 3;
const totals = (): WarmUpTotals => ({ imagePulls: 0, imagePullMs: 0, coldInputs: 0, coldInputMs: 0 });
const params = { ImagePullTimePerGiB: 20_000, ColdInputTimePerGiB: 10_000, LocalCacheSize: 10 * GiB };

describe('lame disk cache', () => {
  it('reads sizes from the PDH as the dispatcher does (64 MiB blocks); the default image is free', () => {
    assert.equal(pdhBytes(simPDH('img', 4 * GiB)), 4 * GiB);
    assert.equal(pdhBytes('d41d8cd98f00b204e9800998ecf8427e+0'), 0);
  });

  it('pulls an image once per VM; a second container waits for the rest of a pull in progress', () => {
    const disk = new DiskCache(() => params.LocalCacheSize);
    const t = totals();
    const img = simPDH('img', 2 * GiB);
    assert.deepEqual(warmUp(disk, params, img, [], 0, t), { pullMs: 40_000, coldInputMs: 0 });
    assert.deepEqual(warmUp(disk, params, img, [], 10_000, t), { pullMs: 30_000, coldInputMs: 0 });
    assert.deepEqual(warmUp(disk, params, img, [], 50_000, t), { pullMs: 0, coldInputMs: 0 });
    assert.deepEqual(t, { imagePulls: 2, imagePullMs: 70_000, coldInputs: 0, coldInputMs: 0 });
  });

  it('reads each input cold once, and evicts the least recently used when the disk is full', () => {
    const disk = new DiskCache(() => params.LocalCacheSize);
    const t = totals();
    const a = simPDH('a', 4 * GiB);
    const b = simPDH('b', 4 * GiB);
    const c = simPDH('c', 4 * GiB);
    assert.equal(warmUp(disk, params, '', [a, b], 0, t).coldInputMs, 80_000);
    assert.equal(warmUp(disk, params, '', [a], 100_000, t).coldInputMs, 0);
    // 12 GiB do not fit in 10: b, the least recently used, goes.
    assert.equal(warmUp(disk, params, '', [c], 200_000, t).coldInputMs, 40_000);
    assert.equal(disk.has(`input:${a}`), true);
    assert.equal(disk.has(`input:${b}`), false);
    assert.deepEqual(t, { imagePulls: 0, imagePullMs: 0, coldInputs: 3, coldInputMs: 120_000 });
  });

  it('keeps content that exactly fills the disk, and does not make room for content bigger than the disk', () => {
    const disk = new DiskCache(() => 8 * GiB);
    const t = totals();
    const a = simPDH('a', 4 * GiB);
    const b = simPDH('b', 4 * GiB);
    warmUp(disk, params, '', [a, b], 0, t);
    assert.ok(disk.has(`input:${a}`) && disk.has(`input:${b}`), 'a full disk keeps all it holds');
    const huge = simPDH('huge', 9 * GiB);
    assert.equal(warmUp(disk, params, huge, [], 1000, t).pullMs, 180_000, 'fetched all the same');
    assert.equal(disk.has(`image:${huge}`), false, 'but not kept');
    assert.ok(disk.has(`input:${a}`) && disk.has(`input:${b}`), 'nothing evicted for it');
    assert.equal(warmUp(disk, params, huge, [], 200_000, t).pullMs, 180_000, 'pulled again next time');
  });

  it('reads the inputs after the image pull: a second container waits for the rest of both', () => {
    const disk = new DiskCache(() => params.LocalCacheSize);
    const t = totals();
    const img = simPDH('img', GiB);
    const input = simPDH('in', GiB);
    // 20 s of pull, then 10 s of read: the input is in place at 30 s.
    assert.deepEqual(warmUp(disk, params, img, [input], 0, t), { pullMs: 20_000, coldInputMs: 10_000 });
    assert.deepEqual(warmUp(disk, params, '', [input], 5000, t), { pullMs: 0, coldInputMs: 25_000 });
  });

  it('costs nothing with the knobs at their defaults', () => {
    const p = parseLameParams({});
    assert.deepEqual([p.ImagePullTimePerGiB, p.ColdInputTimePerGiB, p.LocalCacheSize], [0, 0, 100 * GiB]);
    const t = totals();
    assert.deepEqual(warmUp(new DiskCache(() => p.LocalCacheSize), p, simPDH('img', 8 * GiB), [simPDH('x', GiB)], 0, t), { pullMs: 0, coldInputMs: 0 });
    assert.deepEqual(parseLameParams({ ImagePullTimePerGiB: '30s', LocalCacheSize: '40GiB' }).LocalCacheSize, 40 * GiB);
    assert.throws(() => parseLameParams({ LocalCacheSize: 'lots' }), /DriverParameters\.LocalCacheSize/);
  });
});
