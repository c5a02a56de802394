/**
 * The fields of the settings file's `FairShare` section that the generic
 * field kinds (`fields.ts`) do not cover: a choice among words, a map of
 * names to positive weights, and a list of priority thresholds. Kept apart
 * from `settings.ts` so that the section there stays one short table.
 */
import { type Field, isMap } from './fields.js';

/** Who shares capacity: see `FairShareSettings.By`. */
export type FairShareBy = 'owner' | 'project';

const BY_VALUES: readonly FairShareBy[] = ['owner', 'project'];

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isMap(value)) return 'a map';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** `owner` or `project`. */
export function fairShareBy(def: FairShareBy): Field<FairShareBy> {
  return {
    kind: 'string',
    defaultValue: () => def,
    read: (ctx, value, path) => {
      if (typeof value === 'string' && (BY_VALUES as readonly string[]).includes(value)) return value as FairShareBy;
      ctx.problems.error(path, `expected one of ${BY_VALUES.join(', ')}, got ${describe(value)}`);
      return undefined;
    },
  };
}

/** A map of uuids (or names) to weights greater than 0; everyone unlisted weighs 1. */
export function weightMap(): Field<Record<string, number>> {
  return {
    kind: 'object',
    defaultValue: () => ({}),
    read: (ctx, value, path) => {
      if (!isMap(value)) {
        ctx.problems.error(path, `expected a map of owner or project uuids to weights, got ${describe(value)}`);
        return undefined;
      }
      const out: Record<string, number> = {};
      let ok = true;
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
          ctx.problems.error([...path, k], `expected a weight greater than 0, got ${describe(v)}`);
          ok = false;
        } else out[k] = v;
      }
      return ok ? out : undefined;
    },
  };
}

/** Distinct priority thresholds, each at least 1; compiled highest first. */
export function priorityBands(): Field<number[]> {
  return {
    kind: 'object',
    defaultValue: () => [],
    read: (ctx, value, path) => {
      if (!Array.isArray(value)) {
        ctx.problems.error(path, `expected a list of priority thresholds, got ${describe(value)}`);
        return undefined;
      }
      let ok = true;
      value.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
          ctx.problems.error([...path, String(i)], `expected a whole number of at least 1, got ${describe(v)}`);
          ok = false;
        }
      });
      if (!ok) return undefined;
      const out = [...new Set(value as number[])].sort((a, b) => b - a);
      if (out.length !== value.length) {
        ctx.problems.error(path, 'expected each threshold once');
        return undefined;
      }
      return out;
    },
  };
}
