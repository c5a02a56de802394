/**
 * The poll loop keeps nothing of earlier polls: it runs for the life of
 * the daemon, so anything each poll leaves behind (a reaction on one
 * long-lived promise, a listener on the stop signal) grows without bound.
 */
import assert from 'node:assert/strict';
import { ManualClock, settle } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { PollLoop } from '../../src/queue/poll-loop.js';
import { loadConfigText } from '../../src/config/load.js';
import { collected } from '../gc.js';

describe('PollLoop', () => {
  it('leaves nothing of a finished poll reachable while it goes on polling', async () => {
    const clock = new ManualClock();
    let polls = 0;
    let first: WeakRef<object> | undefined;
    // Each poll's result is an object of its own: a loop that keeps something per poll keeps the first one.
    const poll = async (): Promise<void> => {
      const result = { poll: ++polls };
      first ??= new WeakRef(result);
      return result as unknown as void;
    };
    const loop = new PollLoop(clock, createLogger({ stream: new LineCollector(), clock }), 1000, poll);
    loop.start();
    for (let i = 0; i < 20; i++) {
      await settle(4);
      await clock.runTo(clock.now() + 1000);
    }
    await settle(4);
    assert.ok(polls >= 20, `${polls} polls`);
    assert.ok(await collected(first!), "the first poll's result is still reachable: the loop keeps every poll");
    await loop.stop();
  });

  it('polls back to back, as with 0, when the config gives a negative PollInterval', async () => {
    const clock = new ManualClock();
    const { PollInterval } = loadConfigText('Clusters:\n  zzzzz:\n    Containers:\n      CloudVMs: {PollInterval: -10s}\n').cluster.Containers.CloudVMs;
    let polls = 0;
    const loop = new PollLoop(clock, createLogger({ stream: new LineCollector(), clock }), PollInterval, async () => {
      polls++;
    });
    loop.start();
    await settle(4);
    assert.equal(polls, 1);
    assert.equal(clock.nextTimerAt(), clock.now(), 'the next poll is due at once');
    await loop.stop();
  });

  it('with PollInterval 0, tries a failed poll again a second later, not at once, and logs the error once a minute', async () => {
    const clock = new ManualClock();
    const lines = new LineCollector();
    let polls = 0;
    const loop = new PollLoop(clock, createLogger({ stream: lines, clock }), 0, async () => {
      polls++;
      throw new Error('controller unreachable');
    });
    loop.start();
    await settle(4);
    assert.equal(polls, 1);
    assert.equal(clock.nextTimerAt(), clock.now() + 1000, 'the retry waits a second');
    await clock.runTo(clock.now() + 999);
    await settle(4);
    assert.equal(polls, 1, 'not before');
    await clock.runTo(clock.now() + 1);
    await settle(4);
    assert.equal(polls, 2, 'then polls again');
    assert.deepEqual(
      lines.records().filter((r) => r.msg === 'error updating queue').map((r) => [r.level, r.error]),
      [['error', 'controller unreachable']],
    );
    await loop.stop();
  });

  it('stops during a poll in flight without calling it a failed poll', async () => {
    const clock = new ManualClock();
    const lines = new LineCollector();
    let polls = 0;
    // A poll that never answers: stop must abandon it, and that is no failure of the controller.
    const loop = new PollLoop(clock, createLogger({ stream: lines, clock }), 1000, () => {
      polls++;
      return new Promise<void>(() => undefined);
    });
    loop.start();
    await settle(4);
    assert.equal(polls, 1);
    await loop.stop();
    const warned = lines.records().filter((r) => r.msg === 'error updating queue');
    assert.deepEqual(warned, [], 'no warning for the poll that stop abandoned');
    assert.equal(clock.pendingTimers(), 0);
  });
});
