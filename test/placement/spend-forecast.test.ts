/** The day's spend forecast: spent today plus the burn for the hours left in the UTC day. */
import assert from 'node:assert/strict';
import { dayStart, forecastDay, SpendForecast } from '../../src/placement/spend-forecast.js';

const MIDNIGHT = Date.UTC(2026, 11, 5);
const HOUR = 3_600_000;

describe('spend forecast', () => {
  it('spent + burn x hours left: at 18:00 UTC, $100 spent and $10/h give $160', () => {
    assert.equal(forecastDay(MIDNIGHT + 18 * HOUR, 100, 10), 160);
  });

  it('at midnight the whole day is left; just before the next, almost nothing', () => {
    assert.equal(forecastDay(MIDNIGHT, 0, 2), 48);
    assert.equal(forecastDay(MIDNIGHT + 24 * HOUR - 36_000, 5, 10), 5.1);
  });

  it('dayStart is the UTC midnight before', () => {
    assert.equal(dayStart(MIDNIGHT + 13 * HOUR + 5), MIDNIGHT);
  });

  it('counts from start-up on the first day, and from the first observation of each new day after', () => {
    const f = new SpendForecast(MIDNIGHT + 20 * HOUR);
    assert.deepEqual(f.forecast(MIDNIGHT + 22 * HOUR, 30, 10), { spentToday: 30, forecastToday: 50 });
    // The ledger's total since start-up is 45 at the next day's first look.
    f.observe(MIDNIGHT + 24 * HOUR + 60_000, 45);
    assert.deepEqual(f.forecast(MIDNIGHT + 30 * HOUR, 105, 10), { spentToday: 60, forecastToday: 240 });
  });
});
