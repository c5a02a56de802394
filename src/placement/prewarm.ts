/**
 * Pre-warming: learn, per workflow runner image, which children a runner
 * submits and when, and say which VMs to have ready before they arrive.
 *
 * A runner is a container with `scheduling_parameters.supervisor`; its
 * children's container requests name it in `requesting_container_uuid`
 * (`parents.ts` reads them). Its life is cut into
 * stages by anchors: stage 0 begins when it starts running, and each later
 * stage when its last active child has finished (the moment a workflow
 * engine submits the next step). A child belongs to the stage open when it
 * is first seen, at its `created_at` less the anchor.
 *
 * When a runner finishes, its stages go into the history of its image (the
 * last `MAX_RUNS` runners). For a live runner in stage k, each instance type
 * that at least `MinConfidence` of those runs had children of in the first
 * burst of stage k (`firstWave`) is predicted: as many VMs as the median of those runs needed (children's
 * shares of the type, summed and rounded up), at the median first arrival.
 * The VMs are wanted from `boot time + Lead` before that arrival until the
 * first such child arrives (it and its siblings then take them) or a boot
 * time after the predicted arrival (the prediction was wrong: let them go).
 * A runner not started yet is expected to start one boot of its own type
 * after it was first seen: that is what lets children's VMs boot alongside
 * the runner's. One still not running `Lead` after that is waiting for
 * something else, and gets nothing until it starts.
 */
import type { QueueEntry } from '../scheduler/interfaces.js';
import type { Parents } from './parents.js';
import { compareCodeUnits } from '../compare.js';

/** Runs remembered per runner image. */
export const MAX_RUNS = 20;
/** Runner images remembered at most (those run longest ago are forgotten first). */
export const MAX_IMAGES = 1_000;
/** Runs of an image needed before anything is predicted for it. */
export const MIN_RUNS = 2;
/** Children arriving within this of one another belong to one burst (`firstWave`). */
export const WAVE_GAP_MS = 60_000;
/** Live runners tracked at most (the oldest are dropped): a bound on memory. */
const MAX_LIVE = 10_000;

/** One child as learnt: ms after its stage's anchor, its cheapest type, and the share of that type it takes. */
export interface ChildSeen {
  offsetMs: number;
  type: string;
  share: number;
}

/** A predicted need: `vms` VMs of `type` at `arriveAt` (epoch ms), for `runner`'s stage. */
export interface PreWarmNeed {
  runner: string;
  type: string;
  vms: number;
  arriveAt: number;
  confidence: number;
}

/** What the learner needs to know about time and types. */
export interface PreWarmEnv {
  /** Expected create-to-ready time of the type, ms. */
  bootMs(type: string): number;
  lead: number;
  minConfidence: number;
}

interface LiveRunner {
  uuid: string;
  image: string;
  /** When first seen (epoch ms), and the cheapest type it runs on. */
  seenAt: number;
  type: string;
  /** Stage anchors, epoch ms; empty until it runs. */
  anchors: number[];
  stages: ChildSeen[][];
  /** Children still active (not final), by uuid. */
  active: Set<string>;
  known: Set<string>;
}

/** History per image: what each finished runner's stages held. */
export class PreWarmHistory {
  private readonly runs = new Map<string, ChildSeen[][][]>();

  add(image: string, stages: ChildSeen[][]): void {
    const list = this.runs.get(image) ?? [];
    // Most recently run images last, so the one dropped at the bound is the one run longest ago.
    this.runs.delete(image);
    this.runs.set(image, list);
    if (this.runs.size > MAX_IMAGES) this.runs.delete(this.runs.keys().next().value!);
    list.push(stages);
    if (list.length > MAX_RUNS) list.shift();
  }

  /** Per type, the VMs a runner of `image` needs in `stage`, with the first arrival's offset and the confidence. */
  predict(image: string, stage: number, minConfidence: number): Array<{ type: string; vms: number; offsetMs: number; confidence: number }> {
    const runs = this.runs.get(image) ?? [];
    if (runs.length < MIN_RUNS) return [];
    const perType = new Map<string, { vms: number[]; offsets: number[] }>();
    for (const run of runs) {
      const byType = new Map<string, { share: number; first: number }>();
      for (const c of firstWave(run[stage] ?? [])) {
        const t = byType.get(c.type);
        if (t) {
          t.share += c.share;
          t.first = Math.min(t.first, c.offsetMs);
        } else byType.set(c.type, { share: c.share, first: c.offsetMs });
      }
      for (const [type, t] of byType) {
        let p = perType.get(type);
        if (!p) perType.set(type, (p = { vms: [], offsets: [] }));
        p.vms.push(Math.max(1, Math.ceil(t.share - 1e-9)));
        p.offsets.push(t.first);
      }
    }
    const out: Array<{ type: string; vms: number; offsetMs: number; confidence: number }> = [];
    for (const [type, p] of perType) {
      const confidence = p.vms.length / runs.length;
      if (confidence < minConfidence) continue;
      out.push({ type, vms: median(p.vms), offsetMs: median(p.offsets), confidence });
    }
    return out.sort((a, b) => compareCodeUnits(a.type, b.type));
  }
}

/**
 * The children of a stage that arrived in its first burst: from the first
 * arrival on, each within `WAVE_GAP_MS` of the one before. Later bursts in
 * the same stage follow something that cannot be seen coming (a timer in
 * the runner, a step that ended without the stage ending), so they are not
 * predicted: their timing varies too much from run to run to be met.
 */
export function firstWave(children: readonly ChildSeen[]): ChildSeen[] {
  const sorted = [...children].sort((a, b) => a.offsetMs - b.offsetMs);
  let end = 0;
  while (end < sorted.length && (end === 0 || sorted[end].offsetMs - sorted[end - 1].offsetMs <= WAVE_GAP_MS)) end++;
  return sorted.slice(0, end);
}

/** The lower median, so a prediction never exceeds what most runs needed. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** The share of its cheapest type a container takes (VCPUs or RAM, whichever is scarcer); 1 when unknown. */
export function shareOf(entry: QueueEntry): number {
  const t = entry.instanceTypes[0];
  if (!t || t.VCPUs <= 0 || t.RAM <= 0) return 1;
  return Math.min(1, Math.max(entry.instanceResources.vcpus / t.VCPUs, entry.instanceResources.ram / t.RAM));
}

function isFinal(state: string): boolean {
  return state === 'Complete' || state === 'Cancelled';
}

/** Follows the live runners and their children in the queue, and feeds the history. */
export class PreWarmLearner {
  readonly history = new PreWarmHistory();
  private readonly live = new Map<string, LiveRunner>();
  private lastSnapshot: unknown;
  private lastVersion = -1;

  /**
   * Reads the queue's entries, when the snapshot or what `parents` knows has
   * changed (a scan costs one look at every entry). Only containers first
   * seen after a live runner was can be its children, so only those are
   * looked up. `now` is epoch ms.
   */
  observe(snapshot: ReadonlyMap<string, QueueEntry>, now: number, parents: Parents): void {
    if (snapshot === this.lastSnapshot && parents.version === this.lastVersion) return;
    this.lastSnapshot = snapshot;
    this.lastVersion = parents.version;
    const present = new Set<string>();
    for (const entry of snapshot.values()) {
      const c = entry.container;
      if (!c.scheduling_parameters?.supervisor) continue;
      present.add(c.uuid);
      let r = this.live.get(c.uuid);
      if (!r && !isFinal(c.state)) {
        if (this.live.size >= MAX_LIVE) this.live.delete(this.live.keys().next().value!);
        r = { uuid: c.uuid, image: c.container_image, seenAt: now, type: entry.instanceTypes[0]?.Name ?? '', anchors: [], stages: [], active: new Set(), known: new Set() };
        this.live.set(c.uuid, r);
      }
      if (r && c.state === 'Running' && r.anchors.length === 0) {
        r.anchors.push(now);
        r.stages.push([]);
      }
    }
    let earliest = Infinity;
    for (const r of this.live.values()) earliest = Math.min(earliest, r.seenAt);
    for (const entry of snapshot.values()) {
      const c = entry.container;
      if (entry.firstSeenAt < earliest || c.scheduling_parameters?.supervisor) continue;
      const parent = parents.parentOf(c.uuid);
      const r = parent ? this.live.get(parent) : undefined;
      if (!r) continue;
      if (!r.known.has(c.uuid)) {
        r.known.add(c.uuid);
        if (r.anchors.length === 0) {
          r.anchors.push(now);
          r.stages.push([]);
        }
        const created = Date.parse(c.created_at);
        const at = Number.isFinite(created) ? created : now;
        const type = entry.instanceTypes[0]?.Name;
        if (type !== undefined) r.stages.at(-1)!.push({ offsetMs: Math.max(0, at - r.anchors.at(-1)!), type, share: shareOf(entry) });
      }
      if (isFinal(c.state)) r.active.delete(c.uuid);
      else r.active.add(c.uuid);
    }
    for (const r of [...this.live.values()]) {
      for (const uuid of r.active) if (!snapshot.has(uuid)) r.active.delete(uuid);
      const ctr = snapshot.get(r.uuid)?.container;
      if (!present.has(r.uuid) || (ctr && isFinal(ctr.state))) {
        if (r.anchors.length > 0) this.history.add(r.image, r.stages);
        this.live.delete(r.uuid);
        continue;
      }
      // The last active child finished: a new stage begins.
      const last = r.stages.at(-1);
      if (last && last.length > 0 && r.active.size === 0) {
        r.anchors.push(now);
        r.stages.push([]);
      }
    }
  }

  /** The VMs the live runners' coming children need now. */
  needs(now: number, env: PreWarmEnv): PreWarmNeed[] {
    const out: PreWarmNeed[] = [];
    for (const r of this.live.values()) {
      const stage = Math.max(0, r.stages.length - 1);
      const expectedStart = r.seenAt + (r.type === '' ? 0 : env.bootMs(r.type));
      // A runner still not running well after one boot waits for something else (quota, the
      // supervisor cap, a backlog): VMs for its children would only idle until it starts.
      if (r.anchors.length === 0 && now > expectedStart + env.lead) continue;
      const anchor = r.anchors.at(-1) ?? Math.max(now, expectedStart);
      const arrived = new Set((r.stages[stage] ?? []).map((c) => c.type));
      for (const p of this.history.predict(r.image, stage, env.minConfidence)) {
        if (arrived.has(p.type)) continue;
        const arriveAt = anchor + p.offsetMs;
        const boot = env.bootMs(p.type);
        if (now < arriveAt - boot - env.lead || now > arriveAt + boot) continue;
        out.push({ runner: r.uuid, type: p.type, vms: p.vms, arriveAt, confidence: p.confidence });
      }
    }
    return out;
  }
}
