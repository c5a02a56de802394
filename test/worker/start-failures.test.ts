/**
 * The line that says crunch-run starts keep failing: when it comes (three
 * refusals in a row, with no start succeeding between them), what does not
 * count (a failed SSH session, a start that may have run, a held lock), how
 * often it repeats, and the line when starts succeed again.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { createLogger, LineCollector, RateLimitedLog } from '../../src/log.js';
import { StartFailureWatch } from '../../src/worker/start-failures.js';
import { fail, FakeCloud, lockedContainer as ctr } from './fake-cloud.js';

const FAILING = 'crunch-run starts keep failing, none succeeding since the first: check CrunchRunArgumentsList, RuntimeEngine, CrunchRunCommand and crunch-run on the VM image';
const USAGE = { exitCode: 2, stderr: 'error parsing command line arguments: flag provided but not defined: -enable-memory-limt (try -help)\n' };

function watch(): { w: StartFailureWatch; clock: ManualClock; records: (msg: string) => Array<Record<string, unknown>> } {
  const clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));
  const logs = new LineCollector();
  const logger = createLogger({ stream: logs, clock });
  const w = new StartFailureWatch(clock, logger, new RateLimitedLog(logger, clock, 60_000));
  return { w, clock, records: (msg) => logs.records().filter((r) => r.msg === msg) };
}

describe('worker pool: crunch-run starts that keep failing', () => {
  it('says so at the third refusal in a row, on one VM or several, with the count, the VMs, since when and the last refusal', async () => {
    const { w, clock, records } = watch();
    w.note('i-1', 'failed', USAGE);
    await clock.advance(10_000);
    w.note('i-1', 'failed', USAGE);
    assert.deepEqual(records(FAILING), [], 'two so far');
    assert.equal(w.failing(), false);
    w.note('i-2', 'failed', USAGE);
    assert.equal(w.failing(), true);
    assert.deepEqual(
      records(FAILING).map((r) => [r.level, r.Failures, r.Instances, r.Since, r.ExitCode, r.stderr]),
      [['error', 3, 2, '2026-12-07T12:00:00.000Z', 2, USAGE.stderr.trimEnd()]],
    );
  });

  it('counts neither a failed SSH session, nor a start that may have run, nor a held lock; any start that succeeds begins the count again', () => {
    const { w, records } = watch();
    w.note('i-1', 'failed', USAGE);
    w.note('i-2', 'failed');
    w.note('i-3', 'unknown');
    w.note('i-3', 'failed', { exitCode: 1, stderr: 'lock /var/lock/crunch-run-zzzzz-dz642-000000000000001.lock: resource temporarily unavailable\n' });
    w.note('i-2', 'failed', USAGE);
    assert.deepEqual(records(FAILING), [], 'two refusals so far');
    w.note('i-3', 'started');
    w.note('i-1', 'failed', USAGE);
    w.note('i-2', 'failed', USAGE);
    assert.deepEqual(records(FAILING), [], 'two since the start that worked');
    w.note('i-2', 'failed', USAGE);
    assert.equal(records(FAILING).length, 1);
  });

  it('repeats at most once a minute while it lasts, and says when starts succeed again', async () => {
    const { w, clock, records } = watch();
    for (const id of ['i-1', 'i-2', 'i-1', 'i-2', 'i-1']) w.note(id, 'failed', USAGE);
    assert.equal(records(FAILING).length, 1);
    await clock.advance(60_000);
    w.note('i-2', 'failed', USAGE);
    assert.deepEqual(
      records(FAILING).map((r) => r.Failures),
      [3, 6],
    );
    w.note('i-3', 'started');
    assert.deepEqual(
      records('crunch-run starts succeed again').map((r) => [r.level, r.Failures, r.Instances]),
      [['info', 6, 2]],
    );
    assert.equal(w.failing(), false);
    w.note('i-3', 'started');
    assert.equal(records('crunch-run starts succeed again').length, 1, 'said once');
  });

  it('the pool feeds it from each --detach: refusals on idle VMs give the line', async () => {
    const logs = new LineCollector();
    const f = new FakeCloud({ ProbeInterval: 10_000, MaxProbesPerSecond: 1000 }, { logger: createLogger({ stream: logs }) });
    const a = await f.idleWorker();
    const b = await f.idleWorker();
    for (const id of [a, b]) f.script(id, { detach: fail('flag provided but not defined: -enable-memory-limt') });
    assert.equal(f.pool.startContainer(a, ctr(1)), true);
    assert.equal(f.pool.startContainer(b, ctr(2)), true);
    await f.tick(0);
    await f.probe();
    await f.tick(0);
    assert.equal(f.pool.startContainer(a, ctr(3)), true, 'a good probe lets the worker try again');
    await f.tick(0);
    const lines = logs.records().filter((r) => r.msg === FAILING);
    assert.deepEqual(
      lines.map((r) => [r.Failures, r.Instances, r.ExitCode, r.stderr]),
      [[3, 2, 1, 'flag provided but not defined: -enable-memory-limt']],
    );
  });
});
