/**
 * The dispatcher writes nothing it cannot lose: each fact below is brought
 * into some state by one dispatcher, that dispatcher is dropped (its
 * memory goes with it, as in a crash), and a new one built on the same
 * controller and lame cloud must rebuild the fact from them. The list and
 * where each fact comes from is `src/worker/rebuilding.md`.
 */
import assert from 'node:assert/strict';
import type { ControllerContainer } from '../../src/testcontroller/index.js';
import { ManualStack } from '../fixtures/manual-stack.js';

describe('after a crash, a new dispatcher rebuilds its picture from the cloud and the controller', function () {
  this.timeout(30_000);
  let s: ManualStack;

  afterEach(async () => {
    await s?.close();
  });

  /** A container taking a whole small VM (2 VCPUs), running `sleep seconds` on the lame VM. */
  function add(seconds = 3600, fields: Partial<ControllerContainer> = {}): string {
    return s.controller.addContainer({ priority: 1, command: ['sleep', String(seconds)], runtime_constraints: { vcpus: 2, ram: 1 << 20 }, ...fields }).uuid;
  }

  const stateOf = (uuid: string) => s.controller.get(uuid)?.state;
  /** `crunch-run --detach` calls the VMs accepted for `uuid`. */
  const detaches = (uuid: string) => detachLog.filter((u) => u === uuid).length;
  let detachLog: string[] = [];

  async function started(opts: ConstructorParameters<typeof ManualStack>[0] = {}) {
    s = new ManualStack(opts);
    const d = await s.start();
    detachLog = [];
    s.cloud.onDetach((e) => detachLog.push(e.uuid));
    return d;
  }

  it('VMs with their types and idle behaviour, from the cloud list and its tags', async () => {
    let d = await started();
    const big = add(3600, { runtime_constraints: { vcpus: 8, ram: 1 << 20 } });
    const small = add();
    await s.until('both running', () => stateOf(big) === 'Running' && stateOf(small) === 'Running');
    const before = d.pool.instances().map((v) => [v.instance, v.arvadosInstanceType] as const);
    const held = before.find(([, t]) => t === 'small')![0];
    await d.pool.setIdleBehavior(held, 'hold');
    d = await s.restart();
    await s.until('the new pool listed the cloud', () => d.pool.loaded());
    assert.deepEqual(
      d.pool.instances().map((v) => [v.instance, v.arvadosInstanceType] as const),
      before,
    );
    assert.equal(d.pool.detail(held)?.idleBehavior, 'hold');
  });

  it('running containers, from crunch-run --list on each VM: adopted, never started twice, and they finish', async () => {
    let d = await started();
    const a = add(60);
    const b = add(60);
    await s.until('both running', () => stateOf(a) === 'Running' && stateOf(b) === 'Running');
    const where = new Map([...d.pool.instances()].flatMap((v) => v.runningContainerUUIDs.map((u) => [u, v.instance] as const)));
    d = await s.restart();
    await s.until('adopted', () => d.pool.running().has(a) && d.pool.running().has(b));
    for (const [uuid, id] of where) assert.deepEqual(d.pool.detail(id)?.runningContainerUUIDs, [uuid]);
    await s.until('both complete', () => stateOf(a) === 'Complete' && stateOf(b) === 'Complete', 120_000);
    assert.equal(detaches(a), 1);
    assert.equal(detaches(b), 1);
  });

  it('locks, from the controller: a container locked by the dead dispatcher, whose VM was still being created, runs once on that VM', async () => {
    let d = await started();
    s.cloud.holdCreates();
    const uuid = add();
    await s.until('locked, its VM being created', () => stateOf(uuid) === 'Locked' && s.cloud.callCounts().create === 1);
    await s.stopDispatcher();
    // The create the dead dispatcher sent completes after it died.
    s.cloud.releaseCreates();
    await s.run(1_000);
    assert.equal(s.cloud.listVMs().length, 1);
    d = await s.start();
    await s.until('running', () => stateOf(uuid) === 'Running');
    assert.equal(s.cloud.callCounts().create, 1, 'the VM created for it was adopted; no second one');
    assert.equal(detaches(uuid), 1);
    assert.equal(s.controller.get(uuid)?.lock_count, 1, 'kept its lock: no unlock and relock');
    assert.ok(d.pool.running().has(uuid));
  });

  it('stale locks, from the controller and --list: a Locked container that runs nowhere is unlocked and run', async () => {
    let d = await started();
    const running = add();
    await s.until('running', () => stateOf(running) === 'Running');
    // While no dispatcher runs, a container gets locked by our token and nothing starts it.
    let staleUuid = '';
    d = await s.restart(() => {
      staleUuid = add();
      s.controller.setFields(staleUuid, { state: 'Locked', locked_by_uuid: s.controller.rootTokenUuid, lock_count: 1 });
    });
    // Unlocked as stale then locked again, or (no worker unknown at the
    // fixer's first look, as the reference) kept and started: either way, once.
    await s.until('the stale one runs', () => stateOf(staleUuid) === 'Running');
    assert.equal(detaches(staleUuid), 1);
    assert.ok(d.pool.running().has(running), 'the running one stayed where it was');
  });

  it('a Running container whose crunch-run vanished while no dispatcher ran is cancelled once every VM has answered', async () => {
    let d = await started();
    const uuid = add();
    await s.until('running', () => stateOf(uuid) === 'Running');
    const vmId = d.pool.instances()[0].instance;
    await s.stopDispatcher();
    s.cloud.vm(vmId)!.processes.delete(uuid);
    d = await s.start();
    await s.until('cancelled', () => stateOf(uuid) === 'Cancelled');
    assert.ok(s.records('cancelling container because not running on any worker').some((r) => r.ContainerUUID === uuid), "the orphan is cancelled, with the reference's reason");
  });

  it('kill decisions, from the controller: a container set to priority 0 while no dispatcher ran has its crunch-run killed', async () => {
    let d = await started();
    const uuid = add();
    await s.until('running', () => stateOf(uuid) === 'Running');
    const vmId = d.pool.instances()[0].instance;
    d = await s.restart(() => s.controller.setPriority(uuid, 0));
    await s.until('its crunch-run gone', () => !s.cloud.vm(vmId)!.processes.has(uuid) && !d.pool.running().has(uuid), 60_000);
    assert.ok(s.records('killing crunch-run: priority=0').some((r) => r.ContainerUUID === uuid));
  });

  it('drain, from the IdleBehavior tag: a drained VM whose destroy failed before the crash is destroyed by the new dispatcher', async () => {
    let d = await started({ params: { ErrorRateDestroy: 1 } });
    const uuid = add(1);
    await s.until('ran', () => stateOf(uuid) === 'Complete', 60_000);
    const vmId = d.pool.instances()[0].instance;
    await d.pool.setIdleBehavior(vmId, 'drain');
    await s.run(2_000);
    assert.ok(s.cloud.vm(vmId), 'still there: the destroy failed');
    d = await s.restart();
    // The cloud stops failing destroys (after the restart: the driver takes its knobs from the config again).
    s.cloud.configure({ ErrorRateDestroy: 0 });
    await s.until('destroyed', () => s.cloud.vm(vmId) === undefined, 60_000);
    assert.equal(d.pool.instances().length, 0);
  });

  it('boot state, from probing: a VM still booting is probed afresh; TimeoutBooting counts from when the new dispatcher first saw it', async () => {
    let d = await started({ params: { MinBootTime: '1h', MaxBootTime: '1h' }, cloudVMs: '        TimeoutBooting: 60s' });
    const uuid = add();
    await s.until('a VM booting', () => d.pool.instances().some((v) => v.workerState === 'booting' && !v.instance.startsWith('pending-')));
    const vmId = d.pool.instances()[0].instance;
    await s.run(40_000);
    const restartAt = s.clock.now();
    d = await s.restart();
    await s.until('seen', () => d.pool.detail(vmId) !== undefined);
    assert.equal(d.pool.detail(vmId)?.workerState, 'unknown', 'not known to be ours to boot, so probed as unknown');
    await s.until('shut down', () => d.pool.detail(vmId)?.workerState === 'shutdown' || d.pool.detail(vmId) === undefined, 120_000);
    const after = s.clock.now() - restartAt;
    assert.ok(after >= 60_000 && after <= 70_000, `shut down ${after} ms after the restart`);
    // The container gets another VM.
    s.cloud.configure({ MinBootTime: 1000, MaxBootTime: 1000 });
    await s.until('running elsewhere', () => stateOf(uuid) === 'Running', 120_000);
  });

  it('unsatisfiable containers, from the controller: one no instance type fits is cancelled by the new dispatcher if the old one could not', async () => {
    await started();
    // The controller refuses every update of this one while the first dispatcher lives.
    let refusing = true;
    const uuid = add(60, { runtime_constraints: { vcpus: 64, ram: 1 << 20 } });
    s.controller.fail503(1_000_000, (r) => refusing && r.method !== 'GET' && r.path.includes(uuid));
    await s.run(5_000);
    assert.equal(stateOf(uuid), 'Queued');
    await s.stopDispatcher();
    refusing = false;
    await s.start();
    await s.until('cancelled', () => stateOf(uuid) === 'Cancelled');
  });

  it('the concurrency limit is learnt again from the controller, not remembered', async () => {
    let d = await started();
    const uuids = [add(), add(), add()];
    await s.until('three running', () => uuids.every((u) => stateOf(u) === 'Running'));
    assert.equal(d.scheduler.maxContainers, 10, 'MaxInstances, with no 503 seen');
    s.controller.fail503(2, (r) => r.path.endsWith('/lock'));
    add();
    await s.until('a 503 lowered the limit', () => d.scheduler.maxContainers < 10, 30_000);
    d = await s.restart();
    await s.run(1_000);
    assert.equal(d.scheduler.maxContainers, 10, 'a new dispatcher starts at MaxInstances');
    s.controller.fail503(2, (r) => r.path.endsWith('/lock'));
    add();
    await s.until('the next 503 lowers it again', () => d.scheduler.maxContainers < 10, 30_000);
  });

  it('quota back-off is learnt again from the cloud, and the quota is never exceeded', async () => {
    let d = await started({ params: { QuotaMaxInstances: 2 } });
    const uuids = [add(), add(), add()];
    await s.until('at quota', () => d.pool.atQuota() && uuids.filter((u) => stateOf(u) === 'Running').length === 2);
    const creates = s.cloud.callCounts().create;
    d = await s.restart();
    assert.equal(d.pool.atQuota(), false, 'no quota hold carried over');
    await s.until('the next create finds the quota again', () => d.pool.atQuota(), 30_000);
    assert.ok(s.cloud.callCounts().create > creates);
    assert.equal(s.cloud.listVMs().length, 2, 'never over the quota');
  });
});
