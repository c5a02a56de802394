/**
 * Warm pools: the weekly windows (days, clock times, time zones, the
 * boundaries) and the idle target per type (Min, the busy fraction, which
 * wins).
 */
import assert from 'node:assert/strict';
import type { Settings } from '../../src/config/settings.js';
import type { WarmSchedule } from '../../src/config/warm-pools.js';
import { localTime, scheduleOpen } from '../../src/placement/schedule.js';
import { warmPoolsOff, warmPoolTypeProblems, warmTargets } from '../../src/placement/warm-pools.js';

/** Monday 5 January 2026, hh:mm UTC. */
function mon(hh: number, mm = 0): number {
  return Date.UTC(2026, 0, 5, hh, mm);
}
const OFFICE: WarmSchedule = { Days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], From: '08:00', Until: '18:00', TimeZone: 'UTC' };

describe('warm pools: schedules', () => {
  it('open from From (inclusive) until Until (exclusive), on the listed days only', () => {
    assert.equal(scheduleOpen(OFFICE, mon(7, 59)), false);
    assert.equal(scheduleOpen(OFFICE, mon(8, 0)), true);
    assert.equal(scheduleOpen(OFFICE, mon(17, 59)), true);
    assert.equal(scheduleOpen(OFFICE, mon(18, 0)), false);
    assert.equal(scheduleOpen(OFFICE, mon(12) - 2 * 86_400_000), false, 'Saturday');
    assert.equal(scheduleOpen(OFFICE, mon(12) + 4 * 86_400_000), true, 'Friday');
  });

  it('"24:00" closes at midnight', () => {
    const late: WarmSchedule = { Days: ['Mon'], From: '20:00', Until: '24:00', TimeZone: 'UTC' };
    assert.equal(scheduleOpen(late, mon(23, 59)), true);
    assert.equal(scheduleOpen(late, mon(24, 0)), false, 'Tuesday 00:00');
  });

  it('reads days and clock times in the schedule\'s time zone', () => {
    // 07:30 UTC on a Monday in January is 08:30 in Berlin (UTC+1).
    assert.deepEqual(localTime(mon(7, 30), 'Europe/Berlin'), { day: 'Mon', minute: 8 * 60 + 30 });
    assert.equal(scheduleOpen({ ...OFFICE, TimeZone: 'Europe/Berlin' }, mon(7, 30)), true);
    assert.equal(scheduleOpen(OFFICE, mon(7, 30)), false);
    // 23:30 UTC on Sunday is already Monday in Tokyo.
    assert.deepEqual(localTime(mon(0) - 30 * 60_000, 'Asia/Tokyo'), { day: 'Mon', minute: 8 * 60 + 30 });
  });
});

describe('warm pools: targets', () => {
  const settings = (p: Partial<Settings['WarmPools']>): Settings['WarmPools'] => ({ Pools: [], BusyFraction: 0, ...p });

  it('a pool without a schedule always wants Min; one with a schedule only while it is open', () => {
    const s = settings({ Pools: [{ InstanceType: 'a', Min: 2 }, { InstanceType: 'b', Min: 3, Schedule: OFFICE }] });
    assert.deepEqual([...warmTargets(s, mon(12), new Map())], [
      ['a', { count: 2, note: 'warm pool 0 (a)' }],
      ['b', { count: 3, note: 'warm pool 1 (b)' }],
    ]);
    assert.deepEqual([...warmTargets(s, mon(19), new Map())], [['a', { count: 2, note: 'warm pool 0 (a)' }]]);
  });

  it('two open pools of one type: the larger Min, not the sum', () => {
    const s = settings({ Pools: [{ InstanceType: 'a', Min: 2 }, { InstanceType: 'a', Min: 5, Schedule: OFFICE }] });
    assert.equal(warmTargets(s, mon(12), new Map()).get('a')?.count, 5);
    assert.equal(warmTargets(s, mon(20), new Map()).get('a')?.count, 2);
  });

  it('the busy fraction: rounded down, per type with busy VMs, and the larger of it and Min wins', () => {
    const s = settings({ Pools: [{ InstanceType: 'a', Min: 2 }], BusyFraction: 0.1 });
    const t = warmTargets(s, mon(12), new Map([['a', 35], ['b', 9], ['c', 10]]));
    assert.deepEqual(t.get('a'), { count: 3, note: 'warm pool busy fraction (a)' });
    assert.equal(t.has('b'), false, '0.9 rounds down to none');
    assert.deepEqual(t.get('c'), { count: 1, note: 'warm pool busy fraction (c)' });
    assert.equal(warmTargets(s, mon(12), new Map([['a', 10]])).get('a')?.count, 2, 'Min is more than 10%');
  });

  it('off: no pools and no fraction; a pool of a type the cluster lacks fails at start with its path', () => {
    assert.equal(warmPoolsOff(settings({})), true);
    assert.equal(warmPoolsOff(settings({ BusyFraction: 0.1 })), false);
    assert.deepEqual(warmPoolTypeProblems(settings({ Pools: [{ InstanceType: 'a', Min: 1 }, { InstanceType: 'zz', Min: 1 }] }), { InstanceTypes: { a: {} as never } }), [
      'WarmPools.Pools.1.InstanceType: no instance type "zz" in the cluster config',
    ]);
  });
});
