/**
 * What a container's timeline records, and the hooks the queue, the
 * scheduler and the pool call to feed it. Each collaborator is handed only
 * the methods it calls (`QueueTimeline`, `SchedulerTimeline`), so a test can
 * pass an object literal or nothing at all.
 */
import type { Container } from '../arvados/types.js';
import type { PoolEvent } from '../worker/pool.js';

/**
 * The moments of a container's life in this dispatcher:
 * - `first_seen`: the queue took it in (`state`, `priority`, and the
 *   controller's `created` and `started` times where the record has them);
 * - `locked`, `running`: the queue saw it move to that state;
 * - `unlocked`: the scheduler asked to requeue it (`reason`);
 * - `requeued`: the queue saw it go from Locked back to Queued (`reason`
 *   when we did it);
 * - `vm_requested`: an instance was created for it (`instance_type`, and
 *   `instance` once the cloud has given the id);
 * - `vm_assigned`: it was placed on an instance already booting (created
 *   for another container, or earlier): `instance`, `instance_type`;
 * - `vm_booted`, `vm_ready`: that instance answered SSH, passed its boot
 *   probe (`instance`);
 * - `crunch_run_started`: crunch-run was started for it (`instance`);
 * - `crunch_run_start_failed`: a start did not succeed (`instance`;
 *   `outcome`: failed, or unknown when the connection dropped mid-way and
 *   the next probe tells; `exit_code` and the first line of `stderr` when
 *   crunch-run refused it);
 * - `adopted`: its crunch-run was found on a VM, started by an earlier
 *   dispatcher process (`instance`);
 * - `cancelled_by_dispatcher`: the scheduler cancelled it (`reason`);
 * - `finished`: the queue saw it Complete or Cancelled (`state`, and
 *   `exit_code` where the record has it);
 * - `vm_prepared`: it was placed on a VM created ahead of work, by a warm
 *   pool or pre-warming (`instance`, and the VM's `note` saying which).
 * - `warm_wait`: locality held it for a busy VM that has its image or
 *   inputs (`waiting_for`: the likeliest to free first, `has`, `frees_in_ms`,
 *   `wait_until`, and `pool` when it counts on several such VMs), or such a
 *   wait ended (`ended`: what it took, `instance`).
 * - `drain_wait`: it waits for a new VM (`instance_type`) although drain to
 *   save had, shortly before, emptied a VM of that type which has since
 *   shut down (`drained_instance`, `reason`).
 * - `vm_reclaimed`: the provider took back the VM it ran on, or gave notice
 *   that it will (`instance`, `phase`: notice or gone, `reason`).
 * - `on_demand`: it goes to on-demand types although it asked for
 *   preemptible ones (`reason`; `losses` when its request's earlier
 *   attempts were lost to reclaims, `expected_runtime_ms` when it is
 *   expected to run long); `Reclaims` settings.
 * - `spot_fallback`: it asked for preemptible, every eligible spot type had
 *   been out of capacity for SpotFallback.After, and it was placed on an
 *   on-demand VM (`instance_type`; `spot_instance_type`: the cheapest spot
 *   type it would have had; `spot_out_since`).
 * - `spending_cap`: the spending cap first held it back from a new VM
 *   (`level`, `scope`, `owner`, `burn_per_hour`, `cap_per_hour`, and
 *   `behind_higher_priority` when a higher-priority container waits first).
 */
export type TimelineKind =
  | 'first_seen'
  | 'locked'
  | 'unlocked'
  | 'requeued'
  | 'vm_requested'
  | 'vm_assigned'
  | 'vm_booted'
  | 'vm_ready'
  | 'crunch_run_started'
  | 'crunch_run_start_failed'
  | 'adopted'
  | 'running'
  | 'cancelled_by_dispatcher'
  | 'finished'
  | 'vm_prepared'
  | 'warm_wait'
  | 'drain_wait'
  | 'vm_reclaimed'
  | 'on_demand'
  | 'spot_fallback'
  | 'spending_cap'
  | 'starts_held';

/** One moment: epoch ms from the dispatcher's Clock, what happened, and what there is to say about it. */
export interface TimelineEvent {
  at: number;
  kind: TimelineKind;
  detail?: Record<string, string | number>;
}

/** The fields of a queue record the timeline reads; `started_at` and `exit_code` only if the record has them. */
export type SeenContainer = Pick<Container, 'uuid' | 'state' | 'priority' | 'created_at'> &
  Partial<Pick<Container, 'started_at' | 'exit_code'>>;

/** Every hook, as `Timeline` implements them. */
export interface TimelineSink {
  /** The queue added or changed an entry (new, or a state, priority or lock change). */
  containerSeen(c: SeenContainer): void;
  /** The scheduler created an instance for this container; `pendingId` is the pool's placeholder id for it until the cloud answers. */
  vmRequested(uuid: string, instanceType: string, pendingId: string): void;
  /** The scheduler placed this container on an instance that is still booting (said once per instance). */
  placedOnBooting(uuid: string, instanceId: string, instanceType: string): void;
  /** The scheduler placed this container on a VM a warm pool or pre-warming created (`note` says which; said once per VM). */
  placedOnPrepared(uuid: string, instanceId: string, note: string): void;
  /** The scheduler is about to ask the controller to unlock this container. */
  unlocking(uuid: string, reason: string): void;
  /** The scheduler is about to ask the controller to cancel this container. */
  cancelling(uuid: string, reason: string): void;
  /** The scheduler created an instance for this container that a VM drain to save emptied could have spared it. */
  drainWait(uuid: string, instanceType: string, drainedInstance: string): void;
  /** The spot fallback placed this preemptible container on an on-demand VM (`src/placement/spot-fallback.ts`). */
  spotFallback(uuid: string, detail: Record<string, string | number>): void;
  /** Every pool event (the pool's `onEvent`). */
  poolEvent(event: PoolEvent): void;
  /** Locality held this container for a warm VM, or stopped holding it (`src/placement/locality-planner.ts`). */
  warmWait(uuid: string, detail: Record<string, string | number>): void;
  /** Reclaims sent this preemptible container to on-demand types (`src/placement/reclaim-plan.ts`). */
  onDemand(uuid: string, detail: Record<string, string | number>): void;
  /** The spending cap held this container back from a new VM, the first pass of a hold (`src/placement/spending-cap.ts`). */
  spendingCap(uuid: string, detail: Record<string, string | number>): void;
  /** The start breaker held this Queued container back from a lock, the first pass it did so while open (`src/scheduler/start-breaker.ts`). */
  startsHeld(uuid: string, detail: Record<string, string | number>): void;
}

/** What the queue calls. */
export type QueueTimeline = Pick<TimelineSink, 'containerSeen'>;

/** What the scheduler calls. */
export type SchedulerTimeline = Pick<TimelineSink, 'vmRequested' | 'unlocking' | 'cancelling'> &
  Partial<Pick<TimelineSink, 'placedOnBooting' | 'placedOnPrepared' | 'warmWait' | 'drainWait' | 'onDemand' | 'spotFallback' | 'spendingCap'>>;
