/**
 * A worker's life on the lame cloud: created, booted, running a container,
 * idle, shut down, gone; and the shutdowns the pool decides on its own
 * (TimeoutIdle, TimeoutBooting, TimeoutProbe, broken, drain, a destroy that
 * did not take).
 */
import assert from 'node:assert/strict';
import { Harness, SMALL, waitFor } from './helpers.js';

describe('worker pool: lifecycle on the lame cloud', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  it('creates, boots, runs a container to completion, idles out and forgets the instance once it is gone', async () => {
    h = await Harness.start();
    const notified: number[] = [];
    h.pool.subscribe(() => notified.push(h.clock.now()));
    h.pool.start();
    await h.tick(0);
    assert.equal(h.pool.loaded(), true);
    assert.deepEqual(h.pool.instances(), []);

    const view = h.pool.create(SMALL);
    assert.ok(view, 'create accepted');
    assert.match(view.instance, /^pending-/);
    assert.equal(view.workerState, 'booting');
    assert.equal(view.arvadosInstanceType, 'small');
    assert.equal(view.price, SMALL.Price);
    await h.tick(0);

    const vms = h.cloud.listVMs();
    assert.equal(vms.length, 1);
    const vm = vms[0];
    assert.equal(vm.tags[`ArvadosInstanceSetID`], h.instanceSetId);
    assert.equal(vm.tags[`ArvadosInstanceType`], 'small');
    assert.equal(vm.tags[`ArvadosIdleBehavior`], 'run');
    assert.match(vm.tags[`ArvadosInstanceSecret`], /^[0-9a-f]{40}$/);
    assert.ok(vm.initCommand.includes(vm.tags.ArvadosInstanceSecret), 'init command writes the secret');
    assert.equal(h.only().instance, vm.id);
    assert.equal(h.only().workerState, 'booting');

    await h.tick(SMALL && h.cluster.Containers.CloudVMs.ProbeInterval);
    assert.equal(h.only().workerState, 'idle');
    assert.equal(h.pool.stats().bootOutcomes.success, 1);

    const c = h.ctl!.addContainer({ state: 'Locked', command: ['sleep', '30'] });
    assert.equal(h.pool.startContainer(vm.id, h.ctl!.get(c.uuid)!), true);
    assert.equal(h.pool.startContainer(vm.id, h.ctl!.get(c.uuid)!), false, 'never the same container twice');
    assert.equal(h.only().workerState, 'running');
    assert.deepEqual(h.only().runningContainerUUIDs, [c.uuid]);
    assert.ok(h.pool.running().has(c.uuid));
    await waitFor('container Running', () => h.ctl!.get(c.uuid)?.state === 'Running');
    const detach = h.sent('--detach', vm.id);
    assert.equal(detach.length, 1);
    assert.match(detach[0].command, /^sudo crunch-run --detach --stdin-config '--runtime-engine=docker' '[a-z0-9-]+'$/);

    await waitFor('process running', () => vm.processes.get(c.uuid)?.phase === 'running');
    await h.tick(30_000);
    await waitFor('container Complete', () => h.ctl!.get(c.uuid)?.state === 'Complete');
    await waitFor('process gone', () => !vm.processes.get(c.uuid)?.alive);
    void h.pool.probeNow();
    await h.tick(0);
    assert.equal(h.only().workerState, 'idle');
    assert.equal(h.only().lastContainerUUID, c.uuid);
    assert.equal(h.pool.running().has(c.uuid), false);
    assert.ok(h.pool.exited().has(c.uuid), 'the exit is kept for the scheduler');
    h.pool.forgetContainer(c.uuid);
    assert.equal(h.pool.exited().has(c.uuid), false);

    // TimeoutIdle (1m) after the last busy time, at a probe round.
    await h.tick(50_000);
    assert.equal(h.pool.instances().length, 1);
    await h.tick(20_000);
    assert.deepEqual(h.pool.instances(), [], 'shut down');
    assert.equal(h.cloud.callCounts().destroy, 1);
    await h.tick(0);
    assert.deepEqual(
      h.pool.details().map((d) => d.workerState),
      ['shutdown'],
      'known until a listing shows it gone: no listing just for a destroy',
    );
    await h.tick(h.cluster.Containers.CloudVMs.SyncInterval);
    assert.deepEqual(h.pool.details(), [], 'gone from the next listing');
    assert.ok(notified.length > 3);

    // No log line carries the instance secret or the root token.
    const text = h.logs.lines.join('\n');
    assert.ok(!text.includes(vm.tags.ArvadosInstanceSecret), 'instance secret logged');
    assert.ok(!text.includes(h.cluster.SystemRootToken), 'root token logged');
    // The scrubber forgot the gone VM's secret (it must not grow with every VM created); not the token.
    h.log.warn(`probe ${vm.tags.ArvadosInstanceSecret} ${h.cluster.SystemRootToken}`);
    assert.equal(h.logs.records().at(-1)?.msg, `probe ${vm.tags.ArvadosInstanceSecret} [REDACTED]`);
  });

  it('shuts down a VM that never boots after TimeoutBooting (boot outcome failure)', async () => {
    h = await Harness.withVMThatNeverBoots();
    await h.tick(50_000);
    assert.equal(h.only().workerState, 'booting');
    await h.tick(10_000);
    assert.deepEqual(h.pool.instances(), []);
    assert.equal(h.pool.stats().bootOutcomes.failure, 1);
    assert.equal(h.cloud.callCounts().destroy, 1);
  });

  it('shuts down a booted VM whose probes fail for TimeoutProbe, but never one on hold', async () => {
    h = await Harness.start({ params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutProbe: 60_000, TimeoutIdle: 3_600_000 } });
    h.pool.start();
    await h.tick(0);
    const a = await h.createIdle();
    const b = await h.createIdle();
    await h.pool.setIdleBehavior(b, 'hold');
    h.unreachable.add(a);
    h.unreachable.add(b);
    await h.tick(50_000);
    assert.equal(h.pool.detail(a)?.workerState, 'idle');
    await h.tick(20_000);
    assert.equal(h.pool.detail(a)?.workerState, 'shutdown');
    assert.equal(h.pool.detail(b)?.workerState, 'idle', 'hold: never shut down by a timeout');
    assert.ok(h.pool.stats().maxProbeAgeMs >= 60_000);
  });

  it('drains and shuts down a VM whose crunch-run --list says broken', async () => {
    h = await Harness.start({ params: { DestroyDelay: '1m' }, cloudVMs: { TimeoutIdle: 3_600_000 } });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    h.cloud.vm(id)!.break();
    await h.tick(10_000);
    assert.equal(h.pool.detail(id)?.idleBehavior, 'drain');
    assert.equal(h.pool.detail(id)?.workerState, 'shutdown');
    assert.equal(h.cloud.vm(id)?.tags.ArvadosIdleBehavior, 'drain');
    assert.equal(h.pool.stats().bootOutcomes.success, 1, 'it had booted: a later break is not a boot failure');
    await h.tick(120_000);
    assert.equal(h.pool.detail(id), undefined, 'gone');
  });

  it('drain: an idle VM shuts down at once; a running one when its container ends', async () => {
    h = await Harness.start({ params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: 3_600_000 } });
    h.pool.start();
    await h.tick(0);
    const idle = await h.createIdle();
    const busy = await h.createIdle();
    const c = h.ctl!.addContainer({ state: 'Locked', command: ['sleep', '30'] });
    assert.equal(h.pool.startContainer(busy, h.ctl!.get(c.uuid)!), true);
    const vm = h.cloud.vm(busy)!;
    await waitFor('process running', () => vm.processes.get(c.uuid)?.phase === 'running');

    await h.pool.setIdleBehavior(idle, 'drain');
    assert.equal(h.cloud.vm(idle)?.tags.ArvadosIdleBehavior, 'drain');
    assert.equal(h.pool.detail(idle)?.workerState, 'shutdown');
    await h.pool.setIdleBehavior(busy, 'drain');
    assert.equal(h.pool.detail(busy)?.workerState, 'running');
    const other = h.ctl!.addContainer({ state: 'Locked' });
    assert.equal(h.pool.startContainer(busy, h.ctl!.get(other.uuid)!), false, 'a draining worker takes nothing new');

    await h.tick(30_000);
    await waitFor('container Complete', () => h.ctl!.get(c.uuid)?.state === 'Complete');
    await waitFor('process gone', () => !vm.processes.get(c.uuid)?.alive);
    await h.tick(10_000);
    assert.equal(h.pool.detail(busy)?.workerState, 'shutdown');
  });

  it('drain: a VM still booting shuts down at once, not at boot end or TimeoutBooting', async () => {
    // An operator drains a VM that is still booting (management API /instances/drain) to stop paying for it now.
    h = await Harness.start({
      params: { MinBootTime: '1h', MaxBootTime: '1h', DestroyDelay: '1h' },
      cloudVMs: { TimeoutBooting: 3_600_000, TimeoutIdle: 3_600_000 },
    });
    h.pool.start();
    await h.tick(0);
    h.pool.create(SMALL);
    await h.tick(0);
    const id = h.only().instance;
    // Probed, and still booting: the boot probe fails.
    void h.pool.probeNow();
    await h.tick(10_000);
    assert.equal(h.pool.detail(id)?.workerState, 'booting');
    assert.ok(h.sent(h.cluster.Containers.CloudVMs.BootProbeCommand, id).length > 0, 'boot probe was tried');
    assert.equal(h.cloud.callCounts().destroy ?? 0, 0);

    await h.pool.setIdleBehavior(id, 'drain');
    assert.equal(h.pool.detail(id)?.workerState, 'shutdown', 'drained while booting: shut down at once');
    await h.tick(0);
    assert.equal(h.cloud.callCounts().destroy, 1, 'destroyed at once');
    assert.equal(h.cloud.vm(id)?.tags.ArvadosIdleBehavior, 'drain');
    assert.equal(h.pool.stats().bootOutcomes.aborted, 1, 'an aborted boot, not a failure');
    assert.equal(h.pool.stats().bootOutcomes.failure, 0);
  });

  it('destroys again an instance still listed TimeoutShutdown after the destroy', async () => {
    h = await Harness.start({ params: { DestroyDelay: '10m' }, cloudVMs: { TimeoutShutdown: 10_000 } });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    h.pool.killInstance(id, 'test');
    await h.tick(0);
    assert.equal(h.cloud.callCounts().destroy, 1);
    assert.equal(h.pool.detail(id)?.workerState, 'shutdown', 'still listed');
    await h.pool.syncNow();
    assert.equal(h.cloud.callCounts().destroy, 1, 'not again before TimeoutShutdown');
    await h.tick(60_000);
    assert.equal(h.cloud.callCounts().destroy, 2, 'again at the next sync');
    await h.tick(10 * 60_000);
    assert.equal(h.pool.detail(id), undefined);
  });

  it('does not warn when a tag write fails on an instance it is destroying', async () => {
    h = await Harness.start({ params: { DestroyDelay: '1m' }, cloudVMs: { TimeoutIdle: 3_600_000, SyncInterval: 3_600_000 } });
    h.pool.start();
    const id = await h.createIdle();
    h.pool.killInstance(id, 'test');
    await h.tick(0);
    // The instance leaves the cloud's list before the pool's next listing.
    await h.tick(60_000);
    assert.equal(h.cloud.listVMs().length, 0);
    assert.equal(h.pool.detail(id)?.workerState, 'shutdown');
    await assert.rejects(h.pool.setIdleBehavior(id, 'drain'), /not found/);
    const warned = h.logs.records().filter((r) => r.msg === 'error updating tags');
    assert.deepEqual(warned, []);
  });

  it('throws InstanceNotFoundError for unknown ids', async () => {
    h = await Harness.start({ controller: false });
    h.pool.start();
    await h.tick(0);
    assert.throws(() => h.pool.setIdleBehavior('nope', 'hold'), { name: 'InstanceNotFoundError' });
    assert.throws(() => h.pool.killInstance('nope', 'x'), { name: 'InstanceNotFoundError' });
    assert.equal(h.pool.startContainer('nope', { uuid: 'zzzzz-dz642-000000000000000' } as never), false);
  });

  it('refuses an idle behaviour that is not run, hold or drain, and keeps the one it had', async () => {
    h = await Harness.start({ controller: false });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    assert.throws(() => h.pool.setIdleBehavior(id, 'Hold' as never), { name: 'TypeError' });
    await h.tick(0);
    assert.equal(h.pool.detail(id)?.idleBehavior, 'run');
    assert.equal(h.cloud.vm(id)?.tags.ArvadosIdleBehavior, 'run', 'nothing written to the tag');
  });
});
