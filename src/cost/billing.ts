/**
 * Billing granularity: how a provider rounds a VM's life into what it
 * bills. EC2 bills Linux VMs per second with a 60 s minimum, GCE per second
 * with a one-minute minimum; some types or providers bill per started hour.
 * A driver declares its rule (`InstanceSet.billingRule`), the settings
 * file's `Billing.InstanceTypes` overrides it, and without either a VM is
 * billed for exactly the time it lived (the ledger as it always was).
 */
import type { InstanceType } from '../config/types.js';

/** How a provider bills a VM: in whole increments, and never less than the minimum. Durations in ms. */
export interface BillingRule {
  /** The billed unit (1 s, 1 h); 0: billed continuously, to the millisecond. */
  incrementMs: number;
  /** The least a VM is billed, however short its life. */
  minimumMs: number;
}

/** EC2 Linux (on-demand and spot): per second, 60 s minimum. */
export const EC2_LINUX_BILLING: Readonly<BillingRule> = { incrementMs: 1000, minimumMs: 60_000 };
/** GCE: per second, one-minute minimum. */
export const GCE_BILLING: Readonly<BillingRule> = { incrementMs: 1000, minimumMs: 60_000 };

/** The time a VM that lived `lifeMs` is billed for under `rule`. */
export function billedMs(rule: BillingRule, lifeMs: number): number {
  const life = Math.max(0, lifeMs);
  const rounded = rule.incrementMs > 0 ? Math.ceil(life / rule.incrementMs) * rule.incrementMs : life;
  return Math.max(rule.minimumMs, rounded);
}

/**
 * Until when a VM billed from `start` is paid for at `now`: the end of the
 * billed time its life so far has bought (the minimum, or the increment it
 * is in). At an increment's very boundary the next one has not begun yet.
 */
export function paidUntil(rule: BillingRule, start: number, now: number): number {
  return start + billedMs(rule, now - start);
}

/** The rule per type name (Arvados `Name`), for the types that have one; a type absent here is billed continuously. */
export type BillingRules = ReadonlyMap<string, BillingRule>;

/**
 * Each configured type's rule: the settings' entry for its Arvados name,
 * else for its provider type, else the settings' `"*"` entry, else the
 * driver's own (`driverRule`), else none.
 */
export function resolveBillingRules(
  types: Iterable<InstanceType>,
  configured: Readonly<Record<string, BillingRule>>,
  driverRule: ((type: InstanceType) => BillingRule | undefined) | undefined,
): BillingRules {
  const out = new Map<string, BillingRule>();
  const own = (key: string): BillingRule | undefined => (Object.hasOwn(configured, key) ? configured[key] : undefined);
  for (const type of types) {
    const rule = own(type.Name) ?? own(type.ProviderType) ?? own('*') ?? driverRule?.(type);
    if (rule) out.set(type.Name, rule);
  }
  return out;
}

/** "per hour, 1 h minimum", "per second, 1 min minimum": how a note or a log says a rule. */
export function describeIncrement(rule: BillingRule): string {
  const ms = rule.incrementMs;
  if (ms === 3_600_000) return 'hour';
  if (ms === 60_000) return 'minute';
  if (ms === 1000) return 'second';
  return 'billed period';
}
