/**
 * Whether a warm pool's weekly window (`WarmSchedule`) is open at a given
 * moment. A small evaluator of our own rather than a cron library: a window
 * is a set of weekdays and one clock-time range in a time zone, which is
 * all the settings allow.
 */
import { clockMinutes, WEEKDAYS, type WarmSchedule, type Weekday } from '../config/warm-pools.js';

/** One formatter per zone: building one costs far more than using it. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(zone, f);
  }
  return f;
}

/** The weekday and minute of the day that `at` (epoch ms) is in `zone`. */
export function localTime(at: number, zone: string): { day: Weekday; minute: number } {
  let day: Weekday = 'Sun';
  let hour = 0;
  let minute = 0;
  for (const p of formatter(zone).formatToParts(at)) {
    if (p.type === 'weekday') day = WEEKDAYS.find((d) => d === p.value) ?? day;
    else if (p.type === 'hour') hour = Number(p.value) % 24;
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { day, minute: hour * 60 + minute };
}

/** True when `at` falls on one of the schedule's days, at or after From and before Until, in its zone. */
export function scheduleOpen(s: WarmSchedule, at: number): boolean {
  const { day, minute } = localTime(at, s.TimeZone);
  if (!s.Days.includes(day)) return false;
  // Validated at load, so both parse.
  return minute >= clockMinutes(s.From)! && minute < clockMinutes(s.Until)!;
}
