/**
 * The structured blocker of a queued or locked container: why it is not
 * running, as the management API shows it beside the reference's
 * `scheduling_status` text (which stays as it is). `why.ts` builds it.
 *
 * | reason              | when                                                                   | detail |
 * |---------------------|------------------------------------------------------------------------|--------|
 * | priority_zero       | priority 0                                                             | state |
 * | supervisor_cap      | a workflow runner over the supervisor cap                              | cap, running |
 * | concurrency_limit   | the concurrency limit is taken by containers ahead                     | limit, running, controller state, last 503 |
 * | locking             | Queued, the lock was asked for; placed once it is answered             | instance (if placed) |
 * | previous_attempt    | a crunch-run of an earlier attempt has not exited                      | instance |
 * | booting             | placed on an instance that is not ready yet                            | type, instance, since |
 * | preparing           | handed to crunch-run                                                   | instance |
 * | types_at_capacity   | every eligible type recently failed with a capacity error              | each type's scope, since, until, error |
 * | quota               | at MaxInstances or the cloud's quota                                   | bucket, in use, limit or the error |
 * | create_declined     | the pool would not create now (rate limit, back-off, create ops cap)   | why, until |
 * | cluster_capacity    | waiting for room with no more specific cause                           | |
 * | fair_share          | moved back by fair share behind owners further below their share       | owner, used and target share, places |
 * | waiting_warm_instance | held by locality for a busy VM with its image or inputs (settings `Locality`) | instance, has, frees_in_ms, wait_until, timeout_ms, pool |
 * | spot_capacity_out   | preemptible, every eligible spot type at capacity; the spot fallback (settings `SpotFallback`) runs it on demand at `fallback_at` | types, since, fallback_at |
 * | spending_cap        | no new VM within the spending cap's level (settings `SpendingCap`)     | level, scope, owner, burn and cap $/h |
 * | starts_held         | not locked: containers keep going back to the queue without running (settings `StartBreaker`) | since, next_trial |
 * | last_attempt_held   | not locked: its lock would be its last attempt, and no container has run since the daemon started (`StartBreaker.LastAttemptWait`) | lock_count, max_dispatch_attempts, until |
 *
 * Waiting reasons also carry `ahead` (the waiting containers before it in
 * scheduling order that could use one of its types, and what they need)
 * and, when MaximumPriceFactor left out types that would fit, `price_cap`.
 */
import type { ControllerState } from './limits.js';

/** A type's capacity shortage, as the API shows it. */
export interface TypeShortage {
  name: string;
  scope: 'type' | 'group' | 'all';
  since?: string;
  until?: string;
  error: string;
}

/** Waiting containers ahead of this one that could use one of its types, and what they need. */
export interface Ahead {
  containers: number;
  vcpus: number;
  ram_bytes: number;
}

export interface PriceCap {
  maximum_price_factor: number;
  /**
   * Types that fit but cost more than MaximumPriceFactor times the cheapest
   * that fits, and could run it now: an idle instance is there, or (every
   * eligible type being at capacity) one could be created. The cheapest few.
   */
  types: Array<{ name: string; price: number; now: 'idle instance' | 'can be created' }>;
}


export type Blocker = (
  | { reason: 'priority_zero'; state: string }
  | { reason: 'supervisor_cap'; position: number; cap: number; running: number }
  | { reason: 'concurrency_limit'; position: number; limit: number; running: number; controller: ControllerState; last_503?: string }
  | { reason: 'locking'; instance?: string }
  | { reason: 'previous_attempt'; instance?: string }
  | { reason: 'booting'; instance_type: string; instance?: string; booting_since?: string }
  | { reason: 'preparing'; instance?: string }
  | { reason: 'types_at_capacity'; position: number; types: TypeShortage[] }
  | {
      reason: 'quota';
      position: number;
      bucket: 'MaxInstances' | 'cloud quota';
      in_use: number;
      limit?: number;
      since?: string;
      until?: string;
      error?: string;
    }
  | { reason: 'create_declined'; position: number; why: string; until?: string }
  | { reason: 'cluster_capacity'; position: number }
  | { reason: 'fair_share'; position: number; owner: string; used_share: number; target_share: number; moved_back: number; window_ms: number }
  | {
      reason: 'waiting_warm_instance';
      position: number;
      /** The warm VM likeliest to free first. */
      instance: string;
      has: 'image' | 'inputs';
      frees_in_ms: number;
      wait_until: string;
      timeout_ms: number;
      /** How many busy warm VMs the wait counts on, when more than `instance`. */
      pool?: number;
    }
  | { reason: 'spot_capacity_out'; position: number; types: string[]; since: string; fallback_at?: string }
  | { reason: 'starts_held'; position: number; since: string; next_trial: string }
  | { reason: 'last_attempt_held'; position: number; lock_count: number; max_dispatch_attempts: number; until: string }
  | {
      reason: 'spending_cap';
      position: number;
      level: 'soft' | 'hard';
      scope: 'cluster' | 'owner';
      owner?: string;
      burn_per_hour: number;
      cap_per_hour: number;
      behind_higher_priority?: boolean;
    }
) & {
  ahead?: Ahead;
  price_cap?: PriceCap;
  /** The blocker in one sentence (`why-text.ts`); added by the management API. */
  summary?: string;
};
