/**
 * Copies of a compiled cluster that keep its config file section.
 *
 * `Cluster.RawSection` (the file's whole cluster section, secrets included)
 * is not enumerable, so logs, dumps and comparisons of a cluster leave it
 * out; a spread copy leaves it out too, and crunch-run would then be given
 * only what this daemon compiles. Code that adapts a loaded cluster to one
 * run (the demo, the simulator, cloudtest's passes, the suggester) copies it
 * with `copyCluster`.
 */
import type { Cluster } from './types.js';

/** Sets `cluster`'s file section, not enumerable (as the loader does). */
export function attachRawSection(cluster: Cluster, raw: Cluster['RawSection']): void {
  if (raw === undefined) return;
  Object.defineProperty(cluster, 'RawSection', { value: raw, enumerable: false });
}

/** `cluster` with `changes` laid over its top-level fields, its file section kept. */
export function copyCluster(cluster: Cluster, changes: Partial<Omit<Cluster, 'RawSection'>>): Cluster {
  const copy: Cluster = { ...cluster, ...changes };
  attachRawSection(copy, cluster.RawSection);
  return copy;
}
