/**
 * Warm pools: how many idle VMs of each instance type to keep ready now.
 *
 * Per type, the target is the larger of
 * - the biggest `Min` among the pools of that type whose schedule is open
 *   (or that have none), and
 * - `BusyFraction` times that type's busy VMs, rounded down (as GitLab's
 *   IdleScaleFactor: the buffer grows with the load; rounding down means a
 *   type with a few busy VMs gets no idle one from the fraction alone).
 * Booting VMs with nothing placed on them count as idle: they will be.
 * The fraction applies to every type with busy VMs, listed in a pool or not.
 */
import type { Cluster } from '../config/types.js';
import type { Settings } from '../config/settings.js';
import { scheduleOpen } from './schedule.js';

/** What one type's target is made of: the count, and what to write on a VM created for it. */
export interface WarmTarget {
  count: number;
  /** "warm pool 0 (m5.large)", or "warm pool busy fraction (m5.large)". */
  note: string;
}

/**
 * The pools naming a type the cluster does not configure, one line each
 * with its YAML path: the settings file is read without the cluster config,
 * so this is checked once both are loaded (daemon start, check-config).
 */
export function warmPoolTypeProblems(settings: Settings['WarmPools'], cluster: Pick<Cluster, 'InstanceTypes'>): string[] {
  const out: string[] = [];
  settings.Pools.forEach((p, i) => {
    if (!Object.hasOwn(cluster.InstanceTypes, p.InstanceType)) {
      out.push(`WarmPools.Pools.${i}.InstanceType: no instance type ${JSON.stringify(p.InstanceType)} in the cluster config`);
    }
  });
  return out;
}

/** True when the settings ask for nothing: the scheduler then skips warm pools with one check. */
export function warmPoolsOff(settings: Settings['WarmPools']): boolean {
  return settings.Pools.length === 0 && settings.BusyFraction === 0;
}

/**
 * The idle VMs wanted now, by type name (types wanting none are absent).
 * @param busy busy VMs (running or allocated a container) by type name
 */
export function warmTargets(settings: Settings['WarmPools'], now: number, busy: ReadonlyMap<string, number>): Map<string, WarmTarget> {
  const out = new Map<string, WarmTarget>();
  settings.Pools.forEach((p, i) => {
    if (p.Schedule && !scheduleOpen(p.Schedule, now)) return;
    const prev = out.get(p.InstanceType);
    if (!prev || prev.count < p.Min) out.set(p.InstanceType, { count: p.Min, note: `warm pool ${i} (${p.InstanceType})` });
  });
  if (settings.BusyFraction > 0) {
    for (const [type, n] of busy) {
      const count = Math.floor(n * settings.BusyFraction + 1e-9);
      const prev = out.get(type);
      if (count > 0 && (!prev || prev.count < count)) out.set(type, { count, note: `warm pool busy fraction (${type})` });
    }
  }
  return out;
}
