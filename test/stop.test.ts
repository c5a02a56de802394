/** The daemon's bounds on stopping (`src/stop.ts`), on the manual clock. */
import assert from 'node:assert/strict';
import { ManualClock } from '../src/clock/manual.js';
import { createLogger, LineCollector } from '../src/log.js';
import { EXIT_GRACE_MS, exitIfStillRunning, LINGER_WARNING, STOP_DEADLINE_MS, stopWithin } from '../src/stop.js';

describe('stopping the daemon', () => {
  let clock: ManualClock;
  let lines: LineCollector;
  const logger = () => createLogger({ stream: lines, level: 'info', clock });

  beforeEach(() => {
    clock = new ManualClock();
    lines = new LineCollector();
  });

  it('the stop deadline and the exit grace end the process within 10 s of the signal', () => {
    assert.ok(STOP_DEADLINE_MS + EXIT_GRACE_MS < 10_000);
  });

  it('a stop that finishes in time is waited for, and nothing is logged', async () => {
    let finished = false;
    const result = stopWithin(
      async () => {
        await clock.sleep(1_000);
        finished = true;
      },
      { clock, logger: logger() },
    );
    await clock.advance(1_000);
    assert.equal(await result, true);
    assert.ok(finished);
    assert.equal(clock.pendingTimers(), 0, 'the deadline timer is cancelled');
    assert.deepEqual(lines.records(), []);
  });

  it('a stop that hangs is given up after the deadline, with a warning', async () => {
    let settled: boolean | undefined;
    void stopWithin(() => new Promise<void>(() => undefined), { clock, logger: logger() }).then((r) => (settled = r));
    await clock.advance(STOP_DEADLINE_MS - 1);
    assert.equal(settled, undefined);
    await clock.advance(1);
    assert.equal(settled, false);
    assert.deepEqual(
      lines.records().map((r) => [r.level, r.msg]),
      [['warning', 'stopping is taking too long: exiting without waiting for it']],
    );
  });

  it('a stop that fails is logged and counts as finished', async () => {
    const result = await stopWithin(() => Promise.reject(new Error('boom')), { clock, logger: logger() });
    assert.equal(result, true);
    assert.deepEqual(
      lines.records().map((r) => [r.level, r.msg]),
      [['error', 'error while stopping']],
    );
  });

  it('a process still alive after the grace is ended with its status, naming what held it', async () => {
    const exits: number[] = [];
    exitIfStillRunning(3, { clock, logger: logger(), exit: (c) => exits.push(c) });
    await clock.advance(EXIT_GRACE_MS - 1);
    assert.deepEqual(exits, []);
    await clock.advance(1);
    assert.deepEqual(exits, [3]);
    const [rec] = lines.records();
    assert.equal(rec.msg, LINGER_WARNING);
    assert.ok(Array.isArray(rec.ActiveResources));
  });
});
