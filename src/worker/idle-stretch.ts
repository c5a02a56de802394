/**
 * Stretching TimeoutIdle to the end of a paid period (settings file
 * `Billing.StretchIdle`). A VM billed per hour that goes idle 10 minutes
 * into its hour has already paid for 50 more: shutting it down at
 * TimeoutIdle saves nothing, and if a container that fits it comes 20
 * minutes later, a new VM (a new hour, and a boot) is bought for it. So an
 * idle VM past TimeoutIdle is kept until just before its paid period ends
 * (minus `marginMs`, for the destroy call to land in time), when:
 * - its type has a billing rule and this dispatcher created it (an adopted
 *   VM's billing start is unknown, so its period's end is too);
 * - that end is at most `maxStretchMs` after TimeoutIdle would have shut it
 *   down (a longer wait is not stretched at all: a VM goes at TimeoutIdle
 *   or at the end of its paid period, never in between, and never just
 *   after a new increment began);
 * - work that fits it is likely to arrive before then (`likely`).
 * The decision is taken once per idle spell, the first time the pool asks
 * after TimeoutIdle (a warm pool or another hold may ask later: then the
 * paid period is the one in force at that moment, already paid as well).
 * With per-second billing the paid period ends within a second, so nothing
 * is ever stretched: the feature only changes per-hour (or coarser) types.
 */
import { describeIncrement, paidUntil, type BillingRule } from '../cost/billing.js';

/** What the stretcher needs from the dispatcher. */
export interface IdleStretchPolicy {
  /** The billing rule of a type (by name); undefined: billed exactly, never stretched. */
  rule(typeName: string): BillingRule | undefined;
  /** Never keep a VM longer than this past TimeoutIdle, ms. */
  maxStretchMs: number;
  /** Shut down this long before the paid period ends, ms. */
  marginMs: number;
  /** Whether a container that fits `typeName` is likely to arrive within `withinMs` of `now`. */
  likely(typeName: string, withinMs: number, now: number): boolean;
}

/** A worker's stretch decision for one idle spell (the one that began at `busy`). */
export interface StretchMark {
  busy: number;
  /** Kept until then (epoch ms); 0: not kept. */
  until: number;
  /** The billed unit, for the note ("hour"). */
  unit: string;
}

/** What the stretcher reads and writes on a worker. */
export interface StretchCandidate {
  readonly type: { readonly Name: string };
  /** Last time it ran something (its idle spell began then). */
  readonly busy: number;
  /** When its billing started (its create call); undefined for a VM this dispatcher did not create. */
  readonly billedFrom: number | undefined;
  kept: StretchMark | undefined;
}

/**
 * The time an idle VM is kept until, or undefined to shut it down now.
 * `idleDeadline` is when TimeoutIdle is reached (`busy + TimeoutIdle`), `now` at or after it.
 */
export function keptUntil(rule: BillingRule, billedFrom: number, idleDeadline: number, now: number, maxStretchMs: number, marginMs: number): number | undefined {
  const until = paidUntil(rule, billedFrom, now) - marginMs;
  if (until <= now) return undefined;
  if (until - idleDeadline > maxStretchMs) return undefined;
  return until;
}

/** Counts for the metrics and the simulator's report. */
export interface StretchStats {
  /** Idle VMs kept past TimeoutIdle to the end of their paid period. */
  kept: number;
  /** Of those, the ones that got a container while kept. */
  reused: number;
}

export class IdleStretcher {
  readonly stats: StretchStats = { kept: 0, reused: 0 };

  constructor(private readonly policy: IdleStretchPolicy) {}

  /** True to keep `w`, idle past TimeoutIdle (`timeoutIdle` ms after `w.busy`), at `now`. */
  keeps(w: StretchCandidate, now: number, timeoutIdle: number): boolean {
    const mark = w.kept;
    if (mark && mark.busy === w.busy) return now < mark.until;
    const rule = this.policy.rule(w.type.Name);
    let until: number | undefined;
    if (rule && w.billedFrom !== undefined) {
      until = keptUntil(rule, w.billedFrom, w.busy + timeoutIdle, now, this.policy.maxStretchMs, this.policy.marginMs);
      if (until !== undefined && !this.policy.likely(w.type.Name, until - now, now)) until = undefined;
    }
    // Within a minimum longer than the increment (per second, 60 s minimum), what is paid is the minimum.
    const inMinimum = rule !== undefined && until !== undefined && rule.minimumMs > rule.incrementMs && until + this.policy.marginMs === w.billedFrom! + rule.minimumMs;
    const unit = inMinimum ? 'minimum' : rule ? describeIncrement(rule) : '';
    w.kept = { busy: w.busy, until: until ?? 0, unit };
    if (until !== undefined) this.stats.kept++;
    return until !== undefined;
  }

  /** `w` is about to start a container: counted when it was being kept for one. */
  starting(w: StretchCandidate, now: number): void {
    const mark = w.kept;
    if (mark && mark.busy === w.busy && now < mark.until) this.stats.reused++;
    w.kept = undefined;
  }

  /** Why `w` is still up, for its management API item and the status page: "idle, kept to the end of its paid hour (12 min)". */
  static note(w: StretchCandidate, now: number): string | undefined {
    const mark = w.kept;
    if (!mark || mark.busy !== w.busy || now >= mark.until) return undefined;
    return `idle, kept to the end of its paid ${mark.unit} (${Math.ceil((mark.until - now) / 60_000)} min)`;
  }
}
