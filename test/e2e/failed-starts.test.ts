/**
 * A container whose crunch-run can never start: each failed `--detach`
 * counts as an exit, as in the reference, so the container is unlocked and
 * locked again, and the controller cancels it once it has been locked
 * MaxDispatchAttempts times, saying why. It is never retried forever.
 */
import assert from 'node:assert/strict';
import { maxDispatchAttemptsError } from '../../src/testcontroller/index.js';
import { ManualStack } from '../fixtures/manual-stack.js';

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
    await s.start();
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
    const d = await s.start();
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
});
