/**
 * The `Billing.InstanceTypes` field of the settings file: billing rules by
 * instance type, overriding what the driver declares. Written as
 *
 *   InstanceTypes:
 *     m5.large: {Increment: 1h, Minimum: 1h}
 *     "*": {Increment: 1s, Minimum: 1m}
 *
 * A key is an Arvados instance type name or a provider type (the Arvados
 * name wins when both match); `"*"` is every type no other key names.
 */
import type { BillingRule } from '../cost/billing.js';
import { formatDuration } from './units.js';
import { checkKnownKeys, describe, type Field, isMap, type Path, type ReadContext, readDuration } from './fields.js';

/** A map of type names to `{Increment, Minimum}`, compiled to ms; empty by default (every driver's own rule). */
export function billingRuleMap(): Field<Record<string, BillingRule>> {
  return {
    kind: 'object',
    defaultValue: () => ({}),
    read: (ctx, value, path) => {
      if (!isMap(value)) {
        ctx.problems.error(path, `expected a map of instance type names (or "*") to {Increment, Minimum}, got ${describe(value)}`);
        return undefined;
      }
      const out: Record<string, BillingRule> = {};
      let ok = true;
      for (const [name, raw] of Object.entries(value)) {
        const rule = readRule(ctx, raw, [...path, name]);
        if (rule) out[name] = rule;
        else ok = false;
      }
      return ok ? out : undefined;
    },
    show: (rules) => Object.fromEntries(Object.entries(rules).map(([name, r]) => [name, { Increment: formatDuration(r.incrementMs), Minimum: formatDuration(r.minimumMs) }])),
  };
}

function readRule(ctx: ReadContext, value: unknown, path: Path): BillingRule | undefined {
  if (!isMap(value)) {
    ctx.problems.error(path, `expected a map with Increment and Minimum (durations, e.g. {Increment: 1h, Minimum: 1h}), got ${describe(value)}`);
    return undefined;
  }
  checkKnownKeys(ctx, value, path, ['Increment', 'Minimum']);
  const read = (key: 'Increment' | 'Minimum'): number | undefined => {
    if (value[key] === undefined) {
      ctx.problems.error([...path, key], 'expected a duration (0s for none)');
      return undefined;
    }
    const ms = readDuration(ctx, value[key], [...path, key]);
    if (ms !== undefined && ms < 0) {
      ctx.problems.error([...path, key], `expected a duration of at least 0s, got ${JSON.stringify(value[key])}`);
      return undefined;
    }
    return ms;
  };
  const incrementMs = read('Increment');
  const minimumMs = read('Minimum');
  return incrementMs === undefined || minimumMs === undefined ? undefined : { incrementMs, minimumMs };
}
