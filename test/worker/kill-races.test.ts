/**
 * Stopping a container when something else happens meanwhile: the process
 * goes away on its own, the VM leaves the cloud list, a second process on
 * the same drained VM is still being stopped, or the kill is asked for
 * while our `--detach` is still in flight. The SIGTERM escalation must stop
 * exactly when there is nothing left to signal, and only a process that
 * really outlived TimeoutTERM may drain (and so shut down) its VM.
 */
import assert from 'node:assert/strict';
import type { ExecuteResult } from '../../src/ssh/executor.js';
import { fail, FakeCloud, lockedContainer, ok } from './fake-cloud.js';

// TimeoutSignal 5 s, TimeoutTERM 2 min (the test cluster's); TimeoutIdle out of the way.
const SIGNAL = 5000;
const TERM = 120_000;

/** A FakeCloud with one adopted, idle worker whose `--kill` never succeeds. */
async function idleWorker(): Promise<{ f: FakeCloud; id: string }> {
  const f = new FakeCloud({ TimeoutIdle: 24 * 3_600_000 });
  f.defaultScript = { ...f.defaultScript, kill: fail('still there') };
  return { f, id: await f.idleWorker() };
}

const kills = (f: FakeCloud, uuid: string): number => f.commands.filter((c) => c.command.includes(`--kill 15 ${uuid}`)).length;

describe('worker pool: killing a container while something else changes', () => {
  it('stops signalling a process that a probe found gone, and does not drain its worker at TimeoutTERM', async () => {
    const { f, id } = await idleWorker();
    const uuid = lockedContainer(1).uuid;
    await f.runListed(id, lockedContainer(1));
    assert.equal(f.pool.killContainer(uuid, 'cancelled'), true);
    await f.tick(SIGNAL);
    assert.equal(kills(f, uuid), 2, 'SIGTERM at once and after TimeoutSignal');

    // The process ends on its own; the next probe no longer lists it.
    f.script(id, { list: ok() });
    await f.probe();
    assert.ok(f.pool.exited().has(uuid), 'the exit is recorded');
    assert.equal(f.pool.detail(id)?.workerState, 'idle');
    const sent = kills(f, uuid);
    await f.tick(TERM + 3 * SIGNAL);
    assert.equal(kills(f, uuid), sent, 'no SIGTERM for a process that is gone');
    assert.equal(f.pool.detail(id)?.idleBehavior, 'run', 'a process that did exit is no unkillable one: the worker is not drained');
    assert.equal(f.pool.detail(id)?.workerState, 'idle');
    assert.equal(f.vms.get(id)!.destroyed, 0);
  });

  it('stops signalling when the VM leaves the cloud list, and drains or destroys nothing', async () => {
    const { f, id } = await idleWorker();
    const uuid = lockedContainer(1).uuid;
    await f.runListed(id, lockedContainer(1));
    assert.equal(f.pool.killContainer(uuid, 'cancelled'), true);
    await f.tick(SIGNAL);

    const vm = f.vms.get(id)!;
    f.vms.delete(id);
    await f.pool.syncNow();
    assert.equal(f.pool.detail(id), undefined, 'the worker is gone with its VM');
    const sent = kills(f, uuid);
    const tagWrites = f.setTagCalls.length;
    await f.tick(TERM + 3 * SIGNAL);
    assert.equal(kills(f, uuid), sent, 'no SIGTERM through a closed executor');
    assert.equal(vm.destroyed, 0, 'a VM that is gone is not destroyed');
    assert.equal(f.setTagCalls.length, tagWrites, 'nor tagged as drained');
    assert.equal(f.clock.pendingTimers(), 0, 'no kill timer is left behind (the pool was never started: it has none of its own)');
  });

  it('shuts down a drained worker only once every process on it has outlived TimeoutTERM', async () => {
    const { f, id } = await idleWorker();
    const [a, b] = [lockedContainer(1).uuid, lockedContainer(2).uuid];
    await f.runListed(id, lockedContainer(1), lockedContainer(2));
    assert.equal(f.pool.detail(id)?.workerState, 'running');

    assert.equal(f.pool.killContainer(a, 'cancelled'), true);
    await f.tick(60_000);
    assert.equal(f.pool.killContainer(b, 'cancelled'), true);
    await f.tick(TERM - 60_000 + SIGNAL);
    let d = f.pool.detail(id);
    assert.deepEqual(d?.killing, [
      { uuid: a, givenUp: true },
      { uuid: b, givenUp: false },
    ]);
    assert.equal(d?.idleBehavior, 'drain', 'giving up on the first drains the worker');
    await f.probe();
    d = f.pool.detail(id);
    assert.equal(d?.workerState, 'running', 'but the second is still within its TimeoutTERM: the VM stays');
    assert.equal(f.vms.get(id)!.destroyed, 0);

    await f.tick(60_000);
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'shutdown', 'both given up: the drained VM goes');
    assert.equal(f.vms.get(id)!.destroyed, 1);
  });

  it('begins a kill asked for while --detach was in flight once it returns, even if a probe listed the process first', async () => {
    const { f, id } = await idleWorker();
    const uuid = lockedContainer(1).uuid;
    const detach = f.holdDetach(id);
    assert.equal(f.pool.startContainer(id, lockedContainer(1)), true);
    await f.tick(0);
    assert.equal(detach.inFlight(), 1, '--detach is in flight');

    // The process is up before crunch-run --detach has answered.
    f.script(id, { list: ok(`${uuid}\n`) });
    await f.probe();
    assert.deepEqual(f.pool.detail(id)?.runningContainerUUIDs, [uuid]);
    assert.equal(f.pool.killContainer(uuid, 'cancelled'), true);
    await f.tick(0);
    assert.equal(kills(f, uuid), 0, 'nothing to signal before --detach returns');

    detach.release();
    await f.tick(0);
    assert.equal(kills(f, uuid), 1, 'SIGTERM as soon as --detach has returned');
    await f.tick(SIGNAL);
    assert.equal(kills(f, uuid), 2, 'and again every TimeoutSignal');
  });

  it('a kill asked for again does not restart TimeoutTERM nor add signals', async () => {
    const { f, id } = await idleWorker();
    const uuid = lockedContainer(1).uuid;
    await f.runListed(id, lockedContainer(1));
    assert.equal(f.pool.killContainer(uuid, 'cancelled'), true);
    await f.tick(SIGNAL / 2);
    const before = kills(f, uuid);
    // The scheduler asks again at every pass while the container is still there.
    for (let t = SIGNAL / 2; t < TERM - SIGNAL; t += 2500) {
      assert.equal(f.pool.killContainer(uuid, 'cancelled'), true);
      await f.tick(2500);
    }
    assert.equal(kills(f, uuid) - before, (TERM - SIGNAL) / SIGNAL, 'one SIGTERM each TimeoutSignal, however often the kill is asked for');
    await f.tick(2 * SIGNAL);
    assert.deepEqual(f.pool.detail(id)?.killing, [{ uuid, givenUp: true }], 'given up TimeoutTERM after the first kill');
    assert.equal(f.pool.detail(id)?.idleBehavior, 'drain');
  });

  it('counts TimeoutTERM from the kill, even when the kill waited for --detach', async () => {
    const { f, id } = await idleWorker();
    const uuid = lockedContainer(1).uuid;
    const detach = f.holdDetach(id);
    assert.equal(f.pool.startContainer(id, lockedContainer(1)), true);
    await f.tick(0);
    assert.equal(f.pool.killContainer(uuid, 'cancelled'), true);
    await f.tick(60_000);
    detach.release();
    await f.tick(0);
    assert.equal(kills(f, uuid), 1, 'SIGTERM once --detach returned');
    await f.tick(TERM - 60_000);
    assert.deepEqual(f.pool.detail(id)?.killing, [{ uuid, givenUp: true }], 'given up TimeoutTERM after the kill was asked for');
  });

  it('a --list that began before a kill ended the process does not bring the process back, nor report its exit twice', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 3_600_000 });
    const id = f.seed();
    const uuid = lockedContainer(1).uuid;
    f.script(id, { list: ok(`${uuid}\n`) });
    await f.pool.syncNow();
    await f.probe();
    assert.deepEqual([...f.pool.running().keys()], [uuid]);

    // A probe's --list is taken while the process still runs, and answers late.
    let answer!: () => void;
    f.script(id, {
      list: () => new Promise<ExecuteResult>((resolve) => (answer = () => resolve({ exitCode: 0, stdout: Buffer.from(`${uuid}\n`), stderr: Buffer.alloc(0) }))),
      kill: ok(),
    });
    void f.pool.probeNow();
    await f.tick(0);
    assert.equal(f.pool.killContainer(uuid, 'cancelled'), true);
    await f.tick(0);
    assert.ok(f.pool.exited().has(uuid), '--kill exit 0: the exit is recorded');
    f.pool.forgetContainer(uuid);
    answer();
    await f.tick(0);
    assert.equal(f.pool.running().has(uuid), false, 'not taken for running again');
    f.script(id, { list: ok() });
    await f.probe();
    assert.equal(f.pool.exited().has(uuid), false, 'and its exit is not reported a second time');
  });
});
