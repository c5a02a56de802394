/**
 * The input collections of a container, as locality sees them: the portable
 * data hashes of its `collection` mounts. Shared by the queue (which keeps
 * only these of a container's mounts, since mounts can be big) and the lame
 * cloud's cache model.
 */

/** The PDHs of the `collection` mounts in `mounts`, in mount order, without repeats. */
export function collectionPDHs(mounts: unknown): string[] {
  if (typeof mounts !== 'object' || mounts === null) return [];
  const out: string[] = [];
  for (const m of Object.values(mounts as Record<string, { kind?: unknown; portable_data_hash?: unknown } | null>)) {
    const pdh = m?.kind === 'collection' ? m.portable_data_hash : undefined;
    if (typeof pdh === 'string' && pdh !== '' && !out.includes(pdh)) out.push(pdh);
  }
  return out;
}
