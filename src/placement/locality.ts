/**
 * The locality rule (issue 15, part 1), as pure functions of plain values so
 * that tests pin it with object literals. A VM that has the container's
 * image (level 1) saves the pull; one that has read some of its input
 * collections (level 2) saves cold reads. As in a build farm with one
 * global queue and two local queues per worker:
 *
 * | phase | from                                   | the container takes                        | it waits while                                               |
 * |-------|----------------------------------------|--------------------------------------------|--------------------------------------------------------------|
 * | cache | first seen with a warm VM somewhere     | a ready level-1 VM                         | a level-1 VM is expected to have room before `since + CacheTimeout`, and sooner than its image's pull |
 * | deps  | the cache phase ends (at once when it could start on a cold VM and no level-1 VM is expected in time) | a ready level-1 or level-2 VM | a level-1 or level-2 VM is expected to have room before `depsSince + DepsTimeout` |
 * | any   | the deps phase ends                     | whatever the ordinary placement gives       | never                                                        |
 *
 * It waits for a VM with its image only while that is expected sooner than
 * pulling the image would take (`pullMs`, learnt from the starts the
 * dispatcher saw): a longer wait loses more than it saves, and the waits
 * that did were the queue wait's tail. It waits only instead of starting
 * now on a ready VM without its image (`startsNow`). When the ordinary
 * placement would create a VM, or wait for one that boots, the container
 * gets that VM all the same, and still moves to a warm VM that gets room
 * first, since placement is decided afresh each pass: the boot and the pull
 * bound its wait, as without locality. (Holding it instead of the create
 * saved VMs, but a hold that failed then waited for the pull and a boot
 * too, and those waits were the tail.)
 *
 * So a VM is never left idle for a container past its timeouts, and a
 * container waits only for a VM that is expected to be free in time. Among
 * ready VMs, level 1 beats level 2 beats none.
 */

/** How warm a VM is for a container: 1 has its image, 2 some of its inputs, 0 neither. */
export type WarmLevel = 0 | 1 | 2;

/** The two timeouts of settings `Locality`, in ms. */
export interface LocalityTimeouts {
  cacheTimeoutMs: number;
  depsTimeoutMs: number;
}

/** What the rule remembers of a container between passes. Epoch ms. */
export interface HoldState {
  /** When it was first seen able to start on a VM without its image. */
  since: number;
  /** When its deps phase began; undefined while in the cache phase. */
  depsSince?: number;
}

/** A warm VM that is busy now, and when it is expected to have room for the container. */
export interface WarmOption {
  instance: string;
  level: 1 | 2;
  /** ms from now. */
  freeInMs: number;
  /** How many busy warm VMs the estimate pooled (`instance` the likeliest to free first); absent: that one alone. */
  pool?: number;
}

/** What one pass knows about a container's warm VMs. */
export interface LocalityFacts {
  now: number;
  /** The ordinary placement would start it now, on a ready VM (not a new or booting one). */
  startsNow: boolean;
  /** How long pulling its image onto a VM without it is expected to take, ms (learnt); undefined: not known yet. */
  pullMs?: number;
  /** The warmest ready VM with room for it now (0: none warm, or none ready). */
  readyLevel: WarmLevel;
  /**
   * When the busy level-1 VMs are expected to have room for it, and when
   * the busy level-1 and level-2 VMs together are (the deps phase's wait),
   * each named by one of them (of an eligible type).
   */
  soonest1?: WarmOption;
  soonest2?: WarmOption;
}

/** A container held back for a warm VM: what for, and until when at most (epoch ms). */
export interface WarmHold extends WarmOption {
  until: number;
  /** How long it may wait in all in this phase (the timeout of the phase), for the words. */
  timeoutMs: number;
}

export interface LocalityDecision {
  /** Set: do not place it anywhere this pass (and create nothing for it). */
  hold?: WarmHold;
  /** The state to remember until the container leaves the queue; undefined: none needed (a level-1 VM is ready). */
  state?: HoldState;
}

/**
 * Decides for a container that could start now (on a ready VM, a booting one
 * or a new one) whether to take that start or hold for a warmer VM.
 * `state` is what the last decision returned (undefined the first time).
 */
export function decideLocality(t: LocalityTimeouts, state: HoldState | undefined, f: LocalityFacts): LocalityDecision {
  if (f.readyLevel === 1) return {};
  const s: HoldState = state ? { ...state } : { since: f.now };
  // Waiting for the image pays only while the wait is shorter than the pull it saves.
  const o1 = f.soonest1 && (f.pullMs === undefined || f.soonest1.freeInMs <= f.pullMs) ? f.soonest1 : undefined;
  if (s.depsSince === undefined) {
    const until = s.since + t.cacheTimeoutMs;
    if (o1 && f.now < until && f.now + o1.freeInMs <= until) return f.startsNow ? { hold: { ...o1, until, timeoutMs: t.cacheTimeoutMs }, state: s } : { state: s };
    // Waiting for a VM to be created or to boot is no choice made: the phase goes on, so
    // that it may still wait for a VM with its image when a VM without it is ready first.
    if (!f.startsNow && f.now < until) return { state: s };
    // No VM with the image in time (or the time is up): on to the VMs with inputs.
    s.depsSince = f.now;
  }
  if (f.readyLevel === 2) return {};
  const until = s.depsSince + t.depsTimeoutMs;
  const o = soonest(o1, f.soonest2);
  if (o && f.now < until && f.now + o.freeInMs <= until && f.startsNow) return { hold: { ...o, until, timeoutMs: t.depsTimeoutMs }, state: s };
  // Kept after the time is up too, so that the container is not held again.
  return { state: s };
}

/** The option that frees first; level 1 on a tie. */
function soonest(a: WarmOption | undefined, b: WarmOption | undefined): WarmOption | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.freeInMs < a.freeInMs ? b : a;
}
