/**
 * The test controller's log table: ids, uuids and attributes of entries,
 * and the two bounds (ten minutes, a count) that keep it small.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { EventLog, goTime, type ControllerContainer } from '../../src/testcontroller/index.js';
import { TestController } from '../../src/testcontroller/index.js';

describe('test controller event log', () => {
  function setup(maxEntries?: number): { clock: ManualClock; log: EventLog; c: ControllerContainer } {
    const clock = new ManualClock();
    const ctl = new TestController({ rootToken: 'root-token-0123456789abcdef', clock });
    return { clock, log: new EventLog({ clusterId: 'xyzzy', clock, maxEntries }), c: ctl.addContainer({ state: 'Locked' }) };
  }

  it('numbers entries from 1 with log uuids, and keeps only the event attributes', () => {
    const { log, c } = setup();
    const created = log.create(c);
    const updated = log.update({ ...c, state: 'Running', priority: 7 }, c);
    assert.deepEqual([created.id, created.uuid, updated.id], [1, 'xyzzy-57u5n-000000000000001', 2]);
    assert.deepEqual(created.properties, { new_attributes: { owner_uuid: c.owner_uuid, state: 'Locked' } });
    assert.deepEqual(updated.properties.old_attributes, { owner_uuid: c.owner_uuid, state: 'Locked' });
    assert.deepEqual(updated.properties.new_attributes, { owner_uuid: c.owner_uuid, state: 'Running' });
  });

  it('drops entries older than ten minutes, and past its bound', async () => {
    const { clock, log, c } = setup(3);
    log.create(c);
    await clock.advance(60_000);
    for (let i = 0; i < 2; i++) log.update(c, c);
    assert.deepEqual(log.since(0).map((e) => e.id), [1, 2, 3]);
    log.update(c, c);
    assert.deepEqual(log.since(0).map((e) => e.id), [2, 3, 4], 'bound');
    assert.deepEqual(log.since(3).map((e) => e.id), [4]);
    await clock.advance(10 * 60_000 - 1);
    assert.equal(log.size, 3, 'entries younger than ten minutes are kept');
    await clock.advance(1);
    assert.equal(log.size, 0, 'entries ten minutes old are gone');
    assert.equal(log.latestId, 4);
  });

  it('stays small over a long run', async () => {
    const { clock, log, c } = setup();
    for (let i = 0; i < 50_000; i++) {
      log.update(c, c);
      if (i % 100 === 0) await clock.advance(1000);
    }
    assert.ok(log.size <= 10_000, `${log.size} entries`);
  });

  it('formats times as Go does: no trailing zeros, no fraction on a whole second', () => {
    assert.equal(goTime(Date.UTC(2026, 0, 1)), '2026-01-01T00:00:00Z');
    assert.equal(goTime(Date.UTC(2026, 0, 1, 0, 0, 1, 500)), '2026-01-01T00:00:01.5Z');
    assert.equal(goTime(Date.UTC(2026, 0, 1, 0, 0, 1, 23)), '2026-01-01T00:00:01.023Z');
  });
});
