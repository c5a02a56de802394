/**
 * The lame cloud's zones and spot markets: which zone a new VM goes to, when
 * a provider type's spot capacity is out (`SpotOutages`), and how often a
 * running spot VM is taken back (`ReclaimRates`). With no `Zones` the cloud
 * is one unnamed zone, and with no outages or rates it behaves as it did
 * before these knobs existed.
 */
import { CapacityError } from '../../src/cloud/errors.js';
import type { InstanceType } from '../../src/config/types.js';
import { parseDuration as parseGoDuration } from '../../src/config/units.js';

/**
 * A period when a provider type's spot (preemptible) capacity is out: every
 * create of a preemptible type with that ProviderType fails with
 * CapacityError. Times are ms since the cloud started, on its clock.
 */
export interface SpotOutage {
  ProviderType: string;
  /** Only this zone; undefined: every zone. */
  Zone?: string;
  From: number;
  Until: number;
}

/** The zone knobs of LameParams, as zones.ts reads them. */
export interface ZoneParams {
  Zones: string[];
  SpotOutages: SpotOutage[];
  ReclaimRates: Record<string, number>;
}

const ms = (v: unknown, what: string): number => {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const out = parseGoDuration(v.trim());
    if (out >= 0) return out;
  }
  throw new Error(`${what}: expected a non-negative duration like "1h", got ${JSON.stringify(v)}`);
};

/** Parses `SpotOutages`: a list of `{ProviderType, Zone?, From, Until}` with durations since the cloud's start. */
export function parseSpotOutages(v: unknown): SpotOutage[] {
  if (!Array.isArray(v)) throw new Error(`expected a list of {ProviderType, Zone, From, Until}, got ${JSON.stringify(v)}`);
  return v.map((raw: unknown, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`[${i}]: expected a mapping, got ${JSON.stringify(raw)}`);
    const o = raw as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!['ProviderType', 'Zone', 'From', 'Until'].includes(key)) throw new Error(`[${i}].${key}: unknown field (known: ProviderType, Zone, From, Until)`);
    }
    if (typeof o.ProviderType !== 'string' || o.ProviderType === '') throw new Error(`[${i}].ProviderType: expected a provider type name`);
    if (o.Zone !== undefined && o.Zone !== null && (typeof o.Zone !== 'string' || o.Zone === '')) throw new Error(`[${i}].Zone: expected a zone name`);
    const from = o.From === undefined || o.From === null ? 0 : ms(o.From, `[${i}].From`);
    if (o.Until === undefined || o.Until === null) throw new Error(`[${i}].Until: required`);
    const until = ms(o.Until, `[${i}].Until`);
    if (until <= from) throw new Error(`[${i}].Until: must be after From`);
    return { ProviderType: o.ProviderType, ...(typeof o.Zone === 'string' ? { Zone: o.Zone } : {}), From: from, Until: until };
  });
}

/** Parses `ReclaimRates`: `{ProviderType or ProviderType@Zone: chance per hour of running}`. */
export function parseReclaimRates(v: unknown): Record<string, number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`expected a mapping of ProviderType[@Zone] to a rate, got ${JSON.stringify(v)}`);
  const out: Record<string, number> = {};
  for (const [key, rate] of Object.entries(v as Record<string, unknown>)) {
    if (key === '' || key.startsWith('@') || key.endsWith('@')) throw new Error(`${key}: expected ProviderType or ProviderType@Zone`);
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new Error(`${key}: expected a number from 0 to 1, got ${JSON.stringify(rate)}`);
    out[key] = rate;
  }
  return out;
}

/** Cross-checks the zone knobs: every zone an outage or rate names must be one of `Zones`. Returns an error message or undefined. */
export function checkZoneParams(p: ZoneParams): string | undefined {
  if (new Set(p.Zones).size !== p.Zones.length) return 'Zones: a zone is listed twice';
  for (const [i, o] of p.SpotOutages.entries()) {
    if (o.Zone !== undefined && !p.Zones.includes(o.Zone)) return `SpotOutages[${i}].Zone: ${JSON.stringify(o.Zone)} is not one of Zones`;
  }
  for (const key of Object.keys(p.ReclaimRates)) {
    const at = key.indexOf('@');
    if (at >= 0 && !p.Zones.includes(key.slice(at + 1))) return `ReclaimRates.${key}: ${JSON.stringify(key.slice(at + 1))} is not one of Zones`;
  }
  return undefined;
}

/** True when `type`'s spot capacity is out in `zone` (undefined: the cloud has no zones) at `sinceStart` ms after the cloud started. */
export function spotOut(p: ZoneParams, type: InstanceType, zone: string | undefined, sinceStart: number): boolean {
  if (!type.Preemptible) return false;
  return p.SpotOutages.some(
    (o) => o.ProviderType === type.ProviderType && (o.Zone === undefined || o.Zone === zone) && sinceStart >= o.From && sinceStart < o.Until,
  );
}

/**
 * Picks the zone for a create of `type`: `asked` when the caller names one,
 * else the next zone (round robin per provider type, kept in `cursor`) whose
 * spot capacity is not out. Throws CapacityError for the type when the zone
 * asked for, or every zone, is out; a plain Error for a zone the cloud does
 * not have.
 */
export function pickZone(
  p: ZoneParams,
  type: InstanceType,
  asked: string | undefined,
  sinceStart: number,
  cursor: Map<string, number>,
): string | undefined {
  const outError = (where: string): CapacityError =>
    new CapacityError(`lame: insufficient spot capacity for instance type ${type.ProviderType}${where} (SpotOutages)`, { instanceType: type.ProviderType });
  const zones = p.Zones;
  if (asked !== undefined) {
    if (!zones.includes(asked)) throw new Error(`lame: no zone ${JSON.stringify(asked)} (Zones: ${zones.join(', ') || 'none'})`);
    if (spotOut(p, type, asked, sinceStart)) throw outError(` in zone ${asked}`);
    return asked;
  }
  if (zones.length === 0) {
    if (spotOut(p, type, undefined, sinceStart)) throw outError('');
    return undefined;
  }
  const start = cursor.get(type.ProviderType) ?? 0;
  for (let i = 0; i < zones.length; i++) {
    const index = (start + i) % zones.length;
    if (spotOut(p, type, zones[index], sinceStart)) continue;
    cursor.set(type.ProviderType, (index + 1) % zones.length);
    return zones[index];
  }
  throw outError(' in every zone');
}

/** The ReclaimRates chance per hour for a preemptible VM of `type` in `zone` (`Type@Zone` before `Type`), 0 for on-demand or none. */
export function reclaimRate(p: ZoneParams, type: InstanceType, zone: string | undefined): number {
  if (!type.Preemptible) return 0;
  const rates = p.ReclaimRates;
  if (zone !== undefined) {
    const inZone = rates[`${type.ProviderType}@${zone}`];
    if (inZone !== undefined) return inZone;
  }
  return rates[type.ProviderType] ?? 0;
}

/**
 * How long after boot a VM with reclaim chance `ratePerHour` runs before it
 * is taken back, from a uniform draw `u` in [0, 1): reclaims arrive at a
 * constant hazard chosen so that the chance of one within an hour of running
 * is exactly the rate. Infinity when the rate is 0; 0 when it is 1.
 */
export function reclaimDelay(ratePerHour: number, u: number): number {
  if (ratePerHour <= 0) return Infinity;
  if (ratePerHour >= 1) return 0;
  // P(T <= t) = 1 - (1 - r)^(t / 1h), so T = 1h * ln(1 - u) / ln(1 - r).
  return (3_600_000 * Math.log(1 - u)) / Math.log(1 - ratePerHour);
}
