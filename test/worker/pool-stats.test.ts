/**
 * The pool's counters and events the metrics and the timeline read: the
 * instances that left the cloud list by the state they were in, the boot
 * outcome of a VM that vanished while booting, the probe age median (the
 * reference's pick), and the one `instanceCreated` event per create.
 */
import assert from 'node:assert/strict';
import { FakeCloud } from './fake-cloud.js';

const MIN = 60_000;

describe('worker pool: counters and events', () => {
  it('counts instances that left the cloud list by the state they were in, and a VM gone while booting as a boot outcome', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const idle = f.seed();
    await f.pool.syncNow();
    await f.probe();
    assert.ok(f.pool.create(f.cluster.InstanceTypes.small));
    await f.tick(0);
    const booting = [...f.vms.keys()].find((k) => k !== idle)!;
    f.script(booting, { boot: { exit: 1, stderr: 'not yet' } });
    await f.probe();
    assert.equal(f.pool.detail(booting)?.workerState, 'booting');

    f.vms.delete(idle);
    f.vms.delete(booting);
    await f.pool.syncNow();
    const stats = f.pool.stats();
    assert.deepEqual(stats.disappeared, { unknown: 0, booting: 1, idle: 1, running: 0, shutdown: 0 });
    assert.deepEqual(stats.bootOutcomes, { success: 1, failure: 0, aborted: 0, disappeared: 1 }, 'the adopted one booted; the booting one never did: disappeared');
  });

});
