/**
 * Fair share in the scheduling pass: before the pass walks its order, the
 * owners of the containers are read (`owners.ts`, never waited for), what
 * runs is credited to its owners (`share-usage.ts`), and the order is
 * rewritten by `fairShareOrder` within each run of containers of one pass
 * group and one priority band. The concurrency limit, MaxInstances and the
 * quota still cut the order as before: fair share only changes who comes
 * first.
 */
import type { Clock } from '../clock/index.js';
import type { Settings } from '../config/settings.js';
import type { CrunchRunRecord, PassReorder } from '../scheduler/deps.js';
import { type FairShareNote, type FairShareNotes, type PassView, State } from '../scheduler/pass-view.js';
import { CHARGE_SECONDS, fairShareOrder, NO_SEGMENT, segmentOf, UNKNOWN_OWNER } from './fair-share.js';
import type { OwnerResolver } from './owners.js';
import { ShareUsage } from './share-usage.js';

/** How many passes fair share reordered, and how many it left as they were: the operator's sign that it works. */
export interface FairShareCounts {
  reordered: number;
  unchanged: number;
}

export class FairSharePass implements PassReorder {
  readonly usage: ShareUsage;
  readonly counts: FairShareCounts = { reordered: 0, unchanged: 0 };

  constructor(
    private readonly settings: Settings['FairShare'],
    private readonly owners: Pick<OwnerResolver, 'ownerOf'>,
    private readonly clock: Clock,
  ) {
    this.usage = new ShareUsage(settings.Window);
  }

  reorder(view: PassView, records: ReadonlyMap<string, CrunchRunRecord>): FairShareNotes | undefined {
    const n = view.size;
    const { list, hasRecord, state, priority } = view;
    const uuids = list.map((e) => e.container.uuid);
    // Reading an owner not known yet asks for it, in the background.
    const owner = uuids.map((u) => this.owners.ownerOf(u) ?? UNKNOWN_OWNER);
    const vcpus = list.map((e) => e.container.runtime_constraints?.vcpus ?? 0);

    const running: Array<[string, number]> = [];
    for (let k = 0; k < n; k++) {
      if (hasRecord[k] && records.get(uuids[k])?.exitedAt === undefined) running.push([owner[k], vcpus[k]]);
    }
    this.usage.observe(this.clock.now(), running);
    const usage = (o: string): number => this.usage.used(o) + this.usage.running(o) * CHARGE_SECONDS;
    const weight = (o: string): number => this.settings.Weights[o] ?? 1;
    const bands = this.settings.PriorityBands;
    // The pass's groups: crunch-run first (never reordered: they are past scheduling), then Locked, then Queued.
    const segment = (k: number): number =>
      hasRecord[k] || state[k] === State.Other ? NO_SEGMENT : segmentOf(state[k] === State.Locked ? 1 : 2, priority[k], bands);

    const { order, movedBack } = fairShareOrder({ order: view.order, segment, owner: (k) => owner[k], vcpus: (k) => vcpus[k], usage, weight });
    if (movedBack.size === 0) {
      this.counts.unchanged++;
      return undefined;
    }
    this.counts.reordered++;
    view.order.set(order);
    return this.notes(view, owner, movedBack, usage, weight);
  }

  /** Shares among the owners with containers waiting, worked out once and read by each note. */
  private notes(view: PassView, owner: string[], movedBack: Map<number, number>, usage: (o: string) => number, weight: (o: string) => number): FairShareNotes {
    const waiting = new Set<string>();
    for (let k = 0; k < view.size; k++) if (!view.hasRecord[k] && view.state[k] !== State.Other) waiting.add(owner[k]);
    let used = 0;
    let weights = 0;
    for (const o of waiting) {
      used += usage(o);
      weights += weight(o);
    }
    const windowMs = this.settings.Window;
    return {
      note(k: number): FairShareNote | undefined {
        const back = movedBack.get(k);
        if (back === undefined) return undefined;
        const o = owner[k];
        return { owner: o, usedShare: used > 0 ? usage(o) / used : 0, targetShare: weights > 0 ? weight(o) / weights : 0, movedBack: back, windowMs };
      },
    };
  }
}
