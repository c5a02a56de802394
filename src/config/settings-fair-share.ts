/**
 * The fields of the settings file's `FairShare` section that the generic
 * field kinds (`fields.ts`) do not cover: a choice among words, a map of
 * names to positive weights, and a list of priority thresholds. Kept apart
 * from `settings.ts` so that the section there stays one short table.
 */
import { describe, type Field, isMap, type Path, type ReadContext, readList } from './fields.js';

/** Who shares capacity: see `FairShareSettings.By`. */
export type FairShareBy = 'owner' | 'project';

const BY_VALUES: readonly FairShareBy[] = ['owner', 'project'];

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
      const bands = readList(ctx, value, path, 'a list of priority thresholds', readThreshold);
      if (!bands) return undefined;
      const out = [...new Set(bands)].sort((a, b) => b - a);
      if (out.length !== bands.length) {
        ctx.problems.error(path, 'expected each threshold once');
        return undefined;
      }
      return out;
    },
  };
}

function readThreshold(ctx: ReadContext, v: unknown, path: Path): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
  ctx.problems.error(path, `expected a whole number of at least 1, got ${describe(v)}`);
  return undefined;
}
