/**
 * When the pool may create instances: the provider's quota, per-type (or
 * per-group) capacity, its rate limit, and the short back-off after other
 * create failures. Each state ends by itself; when it does, `notify` runs so
 * the scheduler takes another look instead of waiting for its next pass.
 */
import type { CapacityError, RateLimitError } from '../cloud/errors.js';
import type { Clock, Timer } from '../clock/index.js';
import type { InstanceType } from '../config/types.js';
import { CAPACITY_ERROR_TTL_MS, QUOTA_ERROR_TTL_MS } from './pool-config.js';

/** A "not before" time with a reason; calls `onExpire` when it passes. Only ever extended, never shortened. */
export class Hold {
  private untilMs = 0;
  private why = '';
  private timer: Timer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly onExpire: () => void,
  ) {}

  /** Holds until `until` (epoch ms) unless already held longer. */
  extend(until: number, why: string): void {
    const now = this.clock.now();
    if (until <= now || until <= this.untilMs) return;
    this.untilMs = until;
    this.why = why;
    this.timer?.cancel();
    this.timer = this.clock.setTimer(until - now, () => {
      this.timer = undefined;
      this.onExpire();
    });
  }

  get active(): boolean {
    return this.clock.now() < this.untilMs;
  }

  /** Epoch ms the hold ends, 0 when not holding. */
  get until(): number {
    return this.active ? this.untilMs : 0;
  }

  get reason(): string {
    return this.active ? this.why : '';
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}

/**
 * Capacity keys. Spot and on-demand capacity (and quota) are separate
 * pools at every provider, so a shortage of one never holds the other: both
 * the type key and the group key carry the market.
 */
const ALL_TYPES = '*';
const market = (type: InstanceType): string => (type.Preemptible ? 'spot' : 'on-demand');
const typeKey = (type: InstanceType): string => `type:${type.ProviderType}:${market(type)}`;
const groupKey = (group: string, type: InstanceType): string => `group:${group}:${market(type)}`;

/** Why creates of a type are expected to fail: a recent CapacityError for the type, its group, or every type. */
export interface CapacityDetail {
  scope: 'type' | 'group' | 'all';
  /** When the shortage was first seen (it was seen again since, if `until` moved on). */
  since: number;
  /** When creates of it will be tried again. */
  until: number;
  /** The cloud's error message. */
  error: string;
}

/** Why the pool is at quota: MaxInstances reached, or a recent QuotaError from the cloud. */
export type QuotaDetail =
  | { bucket: 'MaxInstances'; inUse: number; limit: number }
  | { bucket: 'cloud quota'; inUse: number; since: number; until: number; liftsBelow: number; error: string };

export interface CreateLimitsOptions {
  clock: Clock;
  notify: () => void;
  /** 0 = no limit. */
  maxInstances: number;
  /** The driver's `quotaGroup`, when it has one: every type's group is then known before any failure. */
  quotaGroup?: (type: InstanceType) => string;
}

/**
 * The create-side limits. Counts ("instances") are what the provider bills
 * and counts against quota: every worker still listed, shut down or not,
 * plus creates not yet listed.
 */
export class CreateLimits {
  /** Rate-limit and error back-off: no create before this. */
  readonly createHold: Hold;
  private quotaUntil = 0;
  private quotaSince = 0;
  private quotaError = '';
  /** Quota lifts early once the instance count drops below this; 0: only the TTL lifts it. */
  private quotaFewerThan = 0;
  private quotaTimer: Timer | undefined;
  /** Capacity key -> epoch ms until which creates of it are expected to fail. */
  private readonly capacityUntil = new Map<string, number>();
  /** Capacity key -> when that shortage was first seen, and the cloud's message. */
  private readonly capacitySeen = new Map<string, { since: number; error: string }>();
  private readonly capacityTimers = new Map<string, Timer>();
  /** Type key -> quota group, as learned from CapacityErrors, for drivers that cannot tell beforehand. */
  private readonly learnedGroup = new Map<string, string>();

  constructor(private readonly opts: CreateLimitsOptions) {
    this.createHold = new Hold(opts.clock, opts.notify);
  }

  /**
   * A create failed with a QuotaError while `others` instances existed (not
   * counting the failed one). Like the reference, the pool stays at quota
   * until the count drops below `others`; unlike it, also at most
   * QUOTA_ERROR_TTL_MS, since the quota may be shared with instances this
   * dispatcher does not own (ARVADOS.md section 8). Returns when the hold
   * ends at the latest, the count it waits to go below, and whether that
   * count is new or lower than the one waited for already (the reference
   * says so only then).
   */
  noteQuotaError(others: number, error = ''): { until: number; fewerThan: number; lowered: boolean } {
    const now = this.opts.clock.now();
    const wasActive = this.quotaUntil > now;
    if (!wasActive) this.quotaSince = now;
    this.quotaError = error;
    this.quotaUntil = now + QUOTA_ERROR_TTL_MS;
    const before = wasActive ? this.quotaFewerThan : 0;
    this.quotaFewerThan = before > 0 ? Math.min(before, others) : others;
    this.quotaTimer?.cancel();
    this.quotaTimer = this.opts.clock.setTimer(QUOTA_ERROR_TTL_MS, () => {
      this.quotaTimer = undefined;
      this.opts.notify();
    });
    return { until: this.quotaUntil, fewerThan: this.quotaFewerThan, lowered: before === 0 || this.quotaFewerThan < before };
  }

  /**
   * A create of `type` failed with `err`: mark that type, its quota group,
   * or every type, for a minute. The group is the driver's answer for
   * `type` when it has one (as in the reference), else the error's.
   * Returns what was marked (`*`, `type:...` or `group:...`) and until when.
   */
  noteCapacityError(err: CapacityError, type: InstanceType): { key: string; until: number } {
    // As the reference ranks them: an error about the type holds the type
    // alone, even if it also names a group.
    let key = ALL_TYPES;
    if (err.instanceType !== undefined) {
      key = typeKey(type);
    } else if (err.quotaGroup !== undefined) {
      const group = this.opts.quotaGroup?.(type) ?? err.quotaGroup;
      if (!this.opts.quotaGroup) this.learnedGroup.set(typeKey(type), group);
      key = groupKey(group, type);
    }
    const now = this.opts.clock.now();
    if (!this.capacityActive(key)) this.capacitySeen.set(key, { since: now, error: err.message });
    else this.capacitySeen.set(key, { since: this.capacitySeen.get(key)?.since ?? now, error: err.message });
    this.capacityUntil.set(key, now + CAPACITY_ERROR_TTL_MS);
    this.capacityTimers.get(key)?.cancel();
    this.capacityTimers.set(
      key,
      this.opts.clock.setTimer(CAPACITY_ERROR_TTL_MS, () => {
        this.capacityTimers.delete(key);
        this.opts.notify();
      }),
    );
    return { key, until: now + CAPACITY_ERROR_TTL_MS };
  }

  noteRateLimit(err: RateLimitError): void {
    this.createHold.extend(err.earliestRetry, `cloud provider rate limit: ${err.message}`);
  }

  /** Any other create failure: a short pause. */
  noteCreateError(backoffMs: number, message: string): void {
    this.createHold.extend(this.opts.clock.now() + backoffMs, `create failed: ${message}`);
  }

  /** The instance count changed (a sync or a create settled): a quota error lifts once it is below the count then. */
  noteInstanceCount(count: number): void {
    if (this.quotaUntil > this.opts.clock.now() && this.quotaFewerThan > 0 && count < this.quotaFewerThan) {
      this.clearQuota();
      this.opts.notify();
    }
  }

  /** True while a quota error is in force or `count` has reached MaxInstances. */
  atQuota(count: number): boolean {
    return this.quotaErrorActive(count) || this.atMaxInstances(count);
  }

  atMaxInstances(count: number): boolean {
    return this.opts.maxInstances > 0 && count >= this.opts.maxInstances;
  }

  quotaErrorActive(count: number): boolean {
    if (this.quotaUntil === 0) return false;
    if (this.opts.clock.now() >= this.quotaUntil || (this.quotaFewerThan > 0 && count < this.quotaFewerThan)) {
      this.clearQuota();
      return false;
    }
    return true;
  }

  /** True while creates of `type` are expected to fail: its own, its group's or every type's capacity error is recent. */
  atCapacity(type: InstanceType): boolean {
    const group = this.opts.quotaGroup ? this.opts.quotaGroup(type) : this.learnedGroup.get(typeKey(type));
    return (
      this.capacityActive(typeKey(type)) ||
      (group !== undefined && this.capacityActive(groupKey(group, type))) ||
      this.capacityActive(ALL_TYPES)
    );
  }

  /** Why `type` is at capacity (the narrowest shortage in force), or undefined. */
  capacityDetail(type: InstanceType): CapacityDetail | undefined {
    const group = this.opts.quotaGroup ? this.opts.quotaGroup(type) : this.learnedGroup.get(typeKey(type));
    const keys: Array<[CapacityDetail['scope'], string | undefined]> = [
      ['type', typeKey(type)],
      ['group', group === undefined ? undefined : groupKey(group, type)],
      ['all', ALL_TYPES],
    ];
    for (const [scope, key] of keys) {
      if (key === undefined || !this.capacityActive(key)) continue;
      const seen = this.capacitySeen.get(key);
      return { scope, since: seen?.since ?? 0, until: this.capacityUntil.get(key) ?? 0, error: seen?.error ?? '' };
    }
    return undefined;
  }

  /** Why creates are at quota with `count` instances, or undefined. */
  quotaDetail(count: number): QuotaDetail | undefined {
    if (this.quotaErrorActive(count)) {
      return { bucket: 'cloud quota', inUse: count, since: this.quotaSince, until: this.quotaUntil, liftsBelow: this.quotaFewerThan, error: this.quotaError };
    }
    if (this.atMaxInstances(count)) return { bucket: 'MaxInstances', inUse: count, limit: this.opts.maxInstances };
    return undefined;
  }

  stop(): void {
    this.createHold.cancel();
    this.quotaTimer?.cancel();
    for (const t of this.capacityTimers.values()) t.cancel();
    this.capacityTimers.clear();
  }

  private capacityActive(key: string): boolean {
    const until = this.capacityUntil.get(key);
    if (until === undefined) return false;
    if (this.opts.clock.now() < until) return true;
    this.capacityUntil.delete(key);
    this.capacitySeen.delete(key);
    return false;
  }

  private clearQuota(): void {
    this.quotaUntil = 0;
    this.quotaFewerThan = 0;
    this.quotaTimer?.cancel();
    this.quotaTimer = undefined;
  }
}
