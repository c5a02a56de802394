/**
 * A container whose crunch-run can never start: each failed `--detach`
 * counts as an exit, as in the reference, so the container is unlocked and
 * locked again, and the controller cancels it once it has been locked
 * MaxDispatchAttempts times, saying why. It is never retried forever.
 * With the start breaker (settings `StartBreaker`, on by default) new locks
 * are held once containers keep going back to the queue, and no container
 * spends its last attempt on a trial; with it off, as in the reference.
 */
import assert from 'node:assert/strict';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import { maxDispatchAttemptsError } from '../../src/testcontroller/index.js';
import { ManualStack } from '../fixtures/manual-stack.js';

/** The reference's behaviour: lock on whatever happens. */
function breakerOff(): Settings {
  const settings = defaultSettings();
  settings.StartBreaker.Enable = false;
  return settings;
}

const WASTED =
  'containers keep going back to the queue without running: crunch-run refuses them or exits first; check CrunchRunArgumentsList, RuntimeEngine, CrunchRunCommand, crunch-run on the VM image, and that VMs reach the controller';

describe('containers whose crunch-run never starts', function () {
  this.timeout(120_000);
  let s: ManualStack | undefined;

  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  /** Runs one container with `containers` (lines of the Containers section) until the controller cancels it after its 10 locks; returns it. */
  async function cancelledAfterAllAttempts(containers: string): Promise<{ uuid: string }> {
    s = new ManualStack({ containers, cloudVMs: '        TimeoutIdle: 1m' });
    await s.start({ settings: breakerOff() });
    const c = s.controller.addContainer({ priority: 1, command: ['sleep', '60'] });
    await s.until('cancelled', () => s!.controller.get(c.uuid)?.state === 'Cancelled', 30 * 60_000);
    const final = s.controller.get(c.uuid)!;
    assert.equal(final.lock_count, 10);
    assert.equal(final.runtime_status.error, maxDispatchAttemptsError(10));
    return c;
  }

  it('are cancelled by the controller after MaxDispatchAttempts locks, when CrunchRunArgumentsList has a flag crunch-run does not know', async () => {
    // A typo an operator could make: crunch-run refuses it before it detaches, with exit 2.
    await cancelledAfterAllAttempts('      CrunchRunArgumentsList: ["--cgroup-parent-subsytem=memory"]');
    const failures = s!.records('error starting crunch-run process');
    assert.ok(failures.length >= 1, 'each failure is logged');
    assert.match(JSON.stringify(failures[0]), /flag provided but not defined: -cgroup-parent-subsytem/);
    // Nothing is left running, and the VM idles out.
    await s!.until('no VM left', () => s!.cloud.listVMs().length === 0, 5 * 60_000);
  });

  it('are cancelled the same way when RuntimeEngine is one crunch-run does not know: each start succeeds, then crunch-run exits before the container runs', async () => {
    const c = await cancelledAfterAllAttempts('      RuntimeEngine: podman');
    assert.ok(!s!.controller.history(c.uuid).some((h) => h.state === 'Running'), 'it never ran');
    assert.ok(s!.records('requeueing locked container because crunch-run exited').length >= 9, 'each attempt ends with crunch-run gone while the container is Locked');
    assert.equal(s!.records('error starting crunch-run process').length, 0, 'no start failed');
    const wasted = s!.records(WASTED);
    assert.ok(wasted.length >= 1, 'the dispatcher says the containers keep going back to the queue');
    assert.equal(wasted[0].ExitCode, undefined, 'no start was refused');
  });

  it('the dispatcher says that containers keep going back to the queue, with what crunch-run said, and counts the starts by outcome', async () => {
    s = new ManualStack({ containers: '      CrunchRunArgumentsList: ["-enable-memory-limit", "false"]', cloudVMs: '        TimeoutIdle: 1m' });
    const d = await s.start({ settings: breakerOff() });
    // A bool flag given a separate value, so crunch-run refuses every start.
    const cs = [1, 2].map(() => s!.controller.addContainer({ priority: 1, command: ['sleep', '60'], runtime_constraints: { vcpus: 2, ram: 1 << 30 } }));
    await s.until('the line', () => s!.records(WASTED).length > 0, 10 * 60_000);
    const r = s.records(WASTED)[0];
    assert.equal(r.level, 'error');
    assert.equal(r.Requeued, 3);
    assert.equal(r.ExitCode, 2);
    assert.equal(r.stderr, 'missing required argument: container-uuid (try -help)');
    const metrics = await d.metrics.text();
    assert.match(metrics, /^arvados_dispatchcloud_crunch_run_starts_total\{outcome="failed"\} [3-9]\d*$/m);
    assert.match(metrics, /^arvados_dispatchcloud_crunch_run_starts_total\{outcome="started"\} 0$/m);
    // And each container's timeline says what crunch-run answered.
    const failed = d.timeline.get(cs[0].uuid)!.events.find((e) => e.kind === 'crunch_run_start_failed');
    assert.deepEqual({ ...failed?.detail, instance: undefined }, { instance: undefined, outcome: 'failed', exit_code: 2, stderr: 'missing required argument: container-uuid (try -help)' });
    await s.until('both cancelled', () => cs.every((c) => s!.controller.get(c.uuid)?.state === 'Cancelled'), 30 * 60_000);
  });

  describe('with the start breaker (on by default)', function () {
    it('holds new locks once containers keep going back to the queue: none is cancelled, each loses few attempts, and one is tried every minute', async () => {
      s = new ManualStack({ containers: '      CrunchRunArgumentsList: ["--cgroup-parent-subsytem=memory"]', cloudVMs: '        TimeoutIdle: 1m' });
      const d = await s.start();
      const cs = Array.from({ length: 12 }, () => s!.controller.addContainer({ priority: 1, command: ['sleep', '60'] }));
      await s.until('held', () => s!.records('holding new locks: containers keep going back to the queue without running').length > 0, 10 * 60_000);
      const opened = s.clock.now();
      // Forty minutes: without the breaker, every container would have spent its 10 attempts long before.
      await s.until('forty minutes on', () => s!.clock.now() >= opened + 40 * 60_000, 41 * 60_000);
      const counts = cs.map((c) => s!.controller.get(c.uuid)!);
      assert.deepEqual(
        counts.filter((c) => c.state === 'Cancelled').map((c) => c.uuid),
        [],
        'no container is cancelled',
      );
      const locks = counts.reduce((n, c) => n + c.lock_count, 0);
      const trials = s.records('trying one container while new locks are held').length;
      assert.ok(trials >= 38 && trials <= 41, `one trial a minute: ${trials}`);
      // Locks: those before the breaker opened (at most one per container), and the trials.
      assert.ok(locks <= cs.length + trials, `${locks} locks for ${trials} trials`);
      assert.ok(Math.max(...counts.map((c) => c.lock_count)) <= 6, `trials go round the queue: ${counts.map((c) => c.lock_count).join(' ')}`);
      assert.equal(s.records('holding new locks: containers keep going back to the queue without running').length, 1, 'said once');
      const metrics = await d.metrics.text();
      assert.match(metrics, /^arvados_dispatchcloud_start_breaker_open 1$/m);
      assert.match(metrics, /^arvados_dispatchcloud_start_breaker_held_containers (1[01]|12)$/m);
      const queued = counts.find((c) => c.state === 'Queued')!;
      assert.equal(d.scheduler.why()!.blockerOf(queued.uuid)?.reason, 'starts_held');
    });

    it("spends no container's last attempt across restarts in the spell: after each start, those wait for a container to run", async () => {
      s = new ManualStack({ containers: '      CrunchRunArgumentsList: ["--cgroup-parent-subsytem=memory"]', cloudVMs: '        TimeoutIdle: 1m' });
      await s.start();
      // Two containers on their last attempt (locked 9 times of 10), as earlier restarts in the spell leave the head of the queue, and four more.
      const last = [1, 2].map(() => s!.controller.addContainer({ priority: 2, command: ['sleep', '60'] }));
      for (const c of last) s.controller.setFields(c.uuid, { lock_count: 9 });
      const others = Array.from({ length: 4 }, () => s!.controller.addContainer({ priority: 1, command: ['sleep', '60'] }));
      await s.until('held', () => s!.records('holding new locks: containers keep going back to the queue without running').length > 0, 10 * 60_000);
      for (let i = 0; i < 2; i++) {
        await s.restart();
        await s.run(5 * 60_000, 1000);
      }
      assert.deepEqual(
        last.map((c) => [s!.controller.get(c.uuid)!.state, s!.controller.get(c.uuid)!.lock_count]),
        [
          ['Queued', 9],
          ['Queued', 9],
        ],
        'never locked',
      );
      assert.ok(
        others.every((c) => s!.controller.get(c.uuid)!.lock_count > 1),
        'the others were locked again after the restarts, as the breaker does not outlive the daemon',
      );
      assert.equal(s.records('holding containers on their last attempt until a container runs: the daemon has just started').length, 3, 'each start says so once');
    });

    it('locks a container on its last attempt once another container has run since the start, or after LastAttemptWait when none does', async () => {
      s = new ManualStack({ cloudVMs: '        TimeoutIdle: 1m' });
      const d = await s.start();
      const last = s.controller.addContainer({ priority: 2, command: ['sleep', '60'] });
      s.controller.setFields(last.uuid, { lock_count: 9 });
      const other = s.controller.addContainer({ priority: 1, command: ['sleep', '60'] });
      await s.until('the other runs', () => s!.controller.get(other.uuid)!.state === 'Running', 10 * 60_000);
      assert.equal(s.controller.get(last.uuid)!.lock_count, 9, 'held until then');
      assert.equal(d.scheduler.why()!.blockerOf(last.uuid)?.reason, 'last_attempt_held');
      await s.until('both complete', () => [last, other].every((c) => s!.controller.get(c.uuid)!.state === 'Complete'), 10 * 60_000);
      assert.equal(s.controller.get(last.uuid)!.lock_count, 10);

      // Alone, after a restart: nothing else can run first, so it waits LastAttemptWait (10 minutes) from the first pass.
      let alone = { uuid: '' };
      await s.restart(() => {
        alone = s!.controller.addContainer({ priority: 1, command: ['sleep', '60'] });
        s!.controller.setFields(alone.uuid, { lock_count: 9 });
      });
      const started = s.clock.now();
      await s.until('locked', () => s!.controller.get(alone.uuid)!.state !== 'Queued', 15 * 60_000);
      const waited = s.clock.now() - started;
      assert.ok(waited >= 10 * 60_000 && waited < 11 * 60_000, `locked ${waited} ms after the start`);
      await s.until('complete', () => s!.controller.get(alone.uuid)!.state === 'Complete', 10 * 60_000);
      assert.equal(s.records('no longer holding containers on their last attempt: LastAttemptWait has passed without a container running').length, 1);
    });

    it('lets the queue run again by itself once the cause is gone: the next trial runs, and every container runs', async () => {
      s = new ManualStack({ cloudVMs: '        TimeoutIdle: 1m' });
      await s.start();
      // crunch-run cannot set its container Running (a controller that refuses it), so it exits first.
      let refusing = true;
      s.controller.setHook((req) =>
        refusing && req.method !== 'GET' && /^\/arvados\/v1\/containers\/[^/]+$/.test(req.path) && JSON.stringify(req.body).includes('"Running"')
          ? { status: 422, body: { errors: ['refused for the test'] } }
          : undefined,
      );
      const cs = Array.from({ length: 6 }, () => s!.controller.addContainer({ priority: 1, command: ['sleep', '60'] }));
      await s.until('held', () => s!.records('holding new locks: containers keep going back to the queue without running').length > 0, 10 * 60_000);
      const before = cs.reduce((n, c) => n + s!.controller.get(c.uuid)!.lock_count, 0);
      refusing = false;
      await s.until('every container complete', () => cs.every((c) => s!.controller.get(c.uuid)?.state === 'Complete'), 20 * 60_000);
      assert.equal(s.records('no longer holding new locks: a container runs').length, 1);
      const after = cs.reduce((n, c) => n + s!.controller.get(c.uuid)!.lock_count, 0);
      // One more lock per container held (and the trial), none wasted.
      assert.ok(after <= before + cs.length, `${before} locks before the fix, ${after} after`);
    });
  });
});

