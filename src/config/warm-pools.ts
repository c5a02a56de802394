/**
 * The `WarmPools.Pools` list of the settings file: which instance types to
 * keep idle VMs of, how many, and when. Read strictly, like the rest of the
 * file, with the YAML path of every problem; kept in the shape it was
 * written in (days and clock times as strings), so that check-config shows
 * it back as the file gave it. `src/placement/schedule.ts` evaluates it.
 */
import { checkKnownKeys, type Field, isMap, type Path, readFiniteNumber, readList, readString, type ReadContext } from './fields.js';

/** The days a schedule names, in the order `Date.getUTCDay()` numbers them. */
export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * A weekly window: on each of `Days`, from `From` until `Until` (clock
 * times "HH:MM", `Until` may be "24:00"), in `TimeZone` (an IANA zone such
 * as "Europe/Berlin", or "UTC"). A window does not cross midnight: an
 * overnight one is written as two entries.
 */
export interface WarmSchedule {
  Days: Weekday[];
  From: string;
  Until: string;
  TimeZone: string;
}

/** One warm pool: keep at least `Min` idle VMs of `InstanceType`, always or while `Schedule` says so. */
export interface WarmPoolEntry {
  InstanceType: string;
  Min: number;
  Schedule?: WarmSchedule;
}

/** "HH:MM" to minutes after midnight (00:00-24:00), or undefined. */
export function clockMinutes(text: string): number | undefined {
  const m = /^(\d{2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min > 0)) return undefined;
  return h * 60 + min;
}

/** True for a time zone `Intl` knows (so a schedule in it can be evaluated). */
export function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone !== '';
  } catch {
    return false;
  }
}

function readSchedule(ctx: ReadContext, value: unknown, path: Path): WarmSchedule | undefined {
  if (!isMap(value)) {
    ctx.problems.error(path, 'expected a map with Days, From, Until and TimeZone');
    return undefined;
  }
  checkKnownKeys(ctx, value, path, ['Days', 'From', 'Until', 'TimeZone']);
  let ok = true;
  const days: Weekday[] = [];
  if (!Array.isArray(value.Days) || value.Days.length === 0) {
    ctx.problems.error([...path, 'Days'], `expected a non-empty list of days (${WEEKDAYS.join(', ')})`);
    ok = false;
  } else {
    value.Days.forEach((d, i) => {
      const day = WEEKDAYS.find((w) => w === d);
      if (day === undefined) {
        ctx.problems.error([...path, 'Days', String(i)], `expected one of ${WEEKDAYS.join(', ')}, got ${JSON.stringify(d)}`);
        ok = false;
      } else if (!days.includes(day)) days.push(day);
    });
  }
  const times: Record<'From' | 'Until', string> = { From: '', Until: '' };
  const minutes: Record<'From' | 'Until', number> = { From: 0, Until: 0 };
  for (const key of ['From', 'Until'] as const) {
    const text = value[key] === undefined ? undefined : readString(ctx, value[key], [...path, key]);
    const m = text === undefined ? undefined : clockMinutes(text);
    if (m === undefined) {
      if (text !== undefined || value[key] === undefined) ctx.problems.error([...path, key], `expected a clock time "HH:MM" (00:00 to 24:00), got ${JSON.stringify(value[key] ?? null)}`);
      ok = false;
    } else {
      times[key] = text!;
      minutes[key] = m;
    }
  }
  if (ok && minutes.From >= minutes.Until) {
    ctx.problems.error([...path, 'Until'], `expected a time after From (${times.From}); write a window over midnight as two entries`);
    ok = false;
  }
  const zone = value.TimeZone === undefined ? 'UTC' : readString(ctx, value.TimeZone, [...path, 'TimeZone']);
  if (zone !== undefined && !knownTimeZone(zone)) {
    ctx.problems.error([...path, 'TimeZone'], `expected an IANA time zone such as "UTC" or "Europe/Berlin", got ${JSON.stringify(zone)}`);
    ok = false;
  }
  return ok && zone !== undefined ? { Days: days, From: times.From, Until: times.Until, TimeZone: zone } : undefined;
}

function readEntry(ctx: ReadContext, value: unknown, path: Path): WarmPoolEntry | undefined {
  if (!isMap(value)) {
    ctx.problems.error(path, 'expected a map with InstanceType, Min and optionally Schedule');
    return undefined;
  }
  checkKnownKeys(ctx, value, path, ['InstanceType', 'Min', 'Schedule']);
  const type = value.InstanceType === undefined ? undefined : readString(ctx, value.InstanceType, [...path, 'InstanceType']);
  if (value.InstanceType === undefined || type === '') ctx.problems.error([...path, 'InstanceType'], 'expected the name of an instance type');
  const min = value.Min === undefined ? undefined : readFiniteNumber(ctx, value.Min, [...path, 'Min'], true);
  if (value.Min === undefined) ctx.problems.error([...path, 'Min'], 'expected a whole number of idle VMs, at least 1');
  else if (min !== undefined && min < 1) ctx.problems.error([...path, 'Min'], `expected a whole number of idle VMs, at least 1, got ${min}`);
  const schedule = value.Schedule === undefined || value.Schedule === null ? undefined : readSchedule(ctx, value.Schedule, [...path, 'Schedule']);
  const scheduleOk = value.Schedule === undefined || value.Schedule === null || schedule !== undefined;
  if (type === undefined || type === '' || min === undefined || min < 1 || !scheduleOk) return undefined;
  return schedule ? { InstanceType: type, Min: min, Schedule: schedule } : { InstanceType: type, Min: min };
}

/** The `Pools` field: a list of entries, empty by default. Whether each type exists is checked against the cluster at start (`compileWarmPools`). */
export function warmPoolList(): Field<WarmPoolEntry[]> {
  return {
    kind: 'object',
    defaultValue: () => [],
    read: (ctx, value, path) => readList(ctx, value, path, 'a list of warm pools ({InstanceType, Min, Schedule})', readEntry),
  };
}
