/**
 * What the pool does for warm pools and pre-warming: it keeps the note a
 * create was given with the VM (pending, then listed, and in the
 * management API's list), and spares the idle VMs it is told to keep from
 * TimeoutIdle until they are left out of the keep set.
 */
import assert from 'node:assert/strict';
import { Harness, SMALL } from './helpers.js';

describe('worker pool: warm VMs', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  it('keeps a create\'s note with the VM, from the pending create to the listed instance', async () => {
    h = await Harness.start();
    h.pool.start();
    await h.tick(0);
    const pending = h.pool.create(SMALL, 'warm pool 0 (small)');
    assert.equal(pending?.note, 'warm pool 0 (small)');
    await h.tick(0);
    assert.equal(h.pool.create(SMALL)?.note, undefined, 'no note for a VM created for a container');
    await h.tick(0);
    const views = h.pool.instances();
    assert.equal(views.length, 2);
    assert.ok(views.every((v) => !v.instance.startsWith('pending-')), 'both listed');
    assert.deepEqual(views.map((v) => v.note).sort(), ['warm pool 0 (small)', undefined]);
    assert.deepEqual(h.pool.apiInstances().map((v) => v.note).sort(), ['warm pool 0 (small)', undefined]);
  });

  it('spares a kept idle VM at TimeoutIdle, and shuts it down at the next probe once it is no longer kept', async () => {
    h = await Harness.start({ params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: 60_000 } });
    h.pool.start();
    await h.tick(0);
    const kept = await h.createIdle();
    const other = await h.createIdle();
    h.pool.keepWarm(new Set([kept]));
    await h.tick(120_000);
    assert.equal(h.pool.detail(kept)?.workerState, 'idle');
    assert.equal(h.pool.detail(other)?.workerState, 'shutdown', 'not kept: TimeoutIdle as usual');
    // Kept by locality too: the warm pools letting go of it is not enough.
    h.pool.keepWarm(new Set([kept]), 'locality');
    h.pool.keepWarm(new Set());
    await h.tick(10_000);
    assert.equal(h.pool.detail(kept)?.workerState, 'idle', 'still kept by locality');
    h.pool.keepWarm(new Set(), 'locality');
    await h.tick(10_000);
    assert.equal(h.pool.detail(kept)?.workerState, 'shutdown');
  });
});
