/**
 * The simulator report's figures per owner (the workload's `owner` field):
 * each owner's queue wait and makespan, so fair share can be judged by the
 * light users' waits and the heavy user's makespan. Present only when the
 * workload names owners.
 */
import type { ContainerOutcome } from './result.js';
import { type WaitSummary, waitSummary } from './accuracy.js';

export interface OwnerFigures {
  containers: number;
  /** Submission to Running, for the containers that ran. */
  queueWait: Omit<WaitSummary, 'meanMs'>;
  /** The owner's first submission to its last container becoming final (0 if none did). */
  makespanMs: number;
}

/** Figures by owner, sorted by name; undefined when no container has an owner. */
export function figuresByOwner(containers: readonly ContainerOutcome[]): Record<string, OwnerFigures> | undefined {
  const by = new Map<string, ContainerOutcome[]>();
  for (const c of containers) {
    if (c.owner === undefined) continue;
    let list = by.get(c.owner);
    if (!list) by.set(c.owner, (list = []));
    list.push(c);
  }
  if (by.size === 0) return undefined;
  const out: Record<string, OwnerFigures> = {};
  for (const owner of [...by.keys()].sort()) {
    const list = by.get(owner)!;
    const waits: number[] = [];
    let first = Infinity;
    let last = -Infinity;
    for (const c of list) {
      if (c.submittedAt !== undefined) first = Math.min(first, c.submittedAt);
      if (c.finalAt !== undefined) last = Math.max(last, c.finalAt);
      if (c.runningAt !== undefined && c.submittedAt !== undefined) waits.push(c.runningAt - c.submittedAt);
    }
    // The report's owner figures have no mean.
    const { meanMs: _mean, ...queueWait } = waitSummary(waits.sort((a, b) => a - b));
    out[owner] = {
      containers: list.length,
      queueWait,
      makespanMs: first === Infinity || last === -Infinity ? 0 : Math.max(0, last - first),
    };
  }
  return out;
}
