/**
 * The on-demand types a preemptible container could run on instead: what
 * the reference's type choice gives for its constraints with preemptible
 * off, cheapest first, within MaximumPriceFactor. The spot fallback and the
 * reclaim rules both send containers there.
 */
import type { Cluster, InstanceType } from '../config/types.js';
import { chooseInstanceTypes } from '../queue/instance-types.js';
import type { QueueEntry } from '../scheduler/interfaces.js';

export class OnDemandTypes {
  /**
   * Keyed by the entry's type list and then its resources: the queue shares
   * one type list between containers of different sizes that fit the same
   * spot types, and their on-demand types may differ.
   */
  private readonly cache = new WeakMap<readonly InstanceType[], WeakMap<object, InstanceType[]>>();

  constructor(private readonly cluster: Cluster) {}

  /** Empty when no on-demand type fits (or none is configured). */
  of(entry: QueueEntry): InstanceType[] {
    let byResources = this.cache.get(entry.instanceTypes);
    if (!byResources) this.cache.set(entry.instanceTypes, (byResources = new WeakMap()));
    let out = byResources.get(entry.instanceResources);
    if (!out) {
      const c = entry.container;
      try {
        out = chooseInstanceTypes(this.cluster, { ...c, scheduling_parameters: { ...c.scheduling_parameters, preemptible: false } });
      } catch {
        out = [];
      }
      byResources.set(entry.instanceResources, out);
    }
    return out;
  }
}
