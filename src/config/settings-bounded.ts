/**
 * The settings file's numbers and durations with bounds (`settings.ts`): a
 * value outside them is an error, not a warning as in the cluster config,
 * since the file is this daemon's alone.
 */
import { type Field, readDuration, readFiniteNumber } from './fields.js';
import { formatDuration, parseDuration } from './units.js';

/** A lower bound (inclusive unless `minExclusive`) and an optional inclusive upper bound. */
interface Bounds {
  min: number;
  minExclusive?: boolean;
  max?: number;
}

/** `expected a duration longer than 0s`, or undefined when `value` is within `bounds`. */
function outOfBounds(value: number, what: string, bounds: Bounds, show: (n: number) => string): string | undefined {
  const tooLow = bounds.minExclusive ? value <= bounds.min : value < bounds.min;
  const tooHigh = bounds.max !== undefined && value > bounds.max;
  if (!tooLow && !tooHigh) return undefined;
  const low = bounds.minExclusive ? `greater than ${show(bounds.min)}` : `of at least ${show(bounds.min)}`;
  return `expected ${what} ${low}${bounds.max === undefined ? '' : ` and at most ${show(bounds.max)}`}`;
}

/** A duration (compiled to ms) that must lie within `bounds`: outside them is an error, not a warning, in this file. */
export function boundedDuration(def: string, bounds: Bounds): Field<number> {
  const defaultMs = parseDuration(def);
  return {
    kind: 'duration',
    defaultValue: () => defaultMs,
    read: (ctx, value, path) => {
      const ms = readDuration(ctx, value, path);
      if (ms === undefined) return undefined;
      const broken = outOfBounds(ms, 'a duration', bounds, formatDuration);
      if (broken) ctx.problems.error(path, `${broken}, got ${JSON.stringify(value)}`);
      return broken ? undefined : ms;
    },
  };
}

/** A number that must lie within `bounds`: outside them is an error in this file. */
export function boundedNumber(def: number, bounds: Bounds): Field<number> {
  return {
    kind: 'number',
    defaultValue: () => def,
    read: (ctx, value, path) => {
      const n = readFiniteNumber(ctx, value, path, false);
      if (n === undefined) return undefined;
      const broken = outOfBounds(n, 'a number', bounds, String);
      if (broken) ctx.problems.error(path, `${broken}, got ${n}`);
      return broken ? undefined : n;
    },
  };
}
