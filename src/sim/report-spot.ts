/**
 * The simulator report's spot figures: what the spot fallback did and cost
 * (when it was on), and how long preemptible containers that arrived while
 * spot capacity was out waited (when the lame cloud had `SpotOutages`).
 *
 * Extra cost of a fallback: the container's cost (the cost ledger's share of
 * its on-demand VM's price over the time it ran there) minus what the same
 * time would have cost at the price of the spot type it would have had (its
 * cheapest eligible one), i.e. cost x (1 - spot price / on-demand price).
 * It assumes the container's share of a spot VM would have been the same as
 * of the on-demand one; it leaves out the on-demand VM's boot and idle time,
 * which are the VM's and not the container's (as in the ledger).
 */
import type { CostLedger } from '../cost/ledger.js';
import type { SpotFallbackRecord } from '../placement/spot-fallback.js';
import type { ContainerOutcome } from './result.js';

/** What the spot fallback did over a run. */
export interface FallbackFigures {
  /** Containers placed on demand by the fallback. */
  containers: number;
  /** Dollars those containers cost on demand beyond the same time at their spot type's price. */
  extraCostDollars: number;
}

/** One dispatcher's fallbacks with the ledger that charged its containers. */
export interface FallbackSource {
  records: readonly SpotFallbackRecord[];
  ledger: Pick<CostLedger, 'container'>;
}

export function fallbackFigures(sources: readonly FallbackSource[]): FallbackFigures {
  let containers = 0;
  let extra = 0;
  for (const { records, ledger } of sources) {
    for (const r of records) {
      containers++;
      const dollars = ledger.container(r.uuid)?.dollars ?? 0;
      if (r.onDemandPrice > 0) extra += dollars * (1 - r.spotPrice / r.onDemandPrice);
    }
  }
  return { containers, extraCostDollars: Math.round(extra * 1e6) / 1e6 };
}

/** A period of a spot outage, ms since the run's start. */
export interface OutageWindow {
  from: number;
  until: number;
}

/**
 * The queue waits (submitted to Running, sorted) of the preemptible
 * containers submitted during one of `windows`, `start` being the run's
 * start; a container not running by the end counts from its submission to
 * `end`, so a wait that never ended is not left out.
 */
export function outageArrivalWaits(containers: readonly ContainerOutcome[], windows: readonly OutageWindow[], start: number, end: number): number[] {
  const waits: number[] = [];
  for (const c of containers) {
    if (!c.preemptible || c.submittedAt === undefined) continue;
    const t = c.submittedAt - start;
    if (!windows.some((w) => t >= w.from && t < w.until)) continue;
    waits.push((c.runningAt ?? end) - c.submittedAt);
  }
  return waits.sort((a, b) => a - b);
}
