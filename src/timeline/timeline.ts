/**
 * `Timeline`: per container, the moments of its life in this dispatcher
 * (see `TimelineKind` in `sink.ts`), in memory and bounded.
 *
 * Bounds: at most `maxContainers` containers; a new one beyond that first
 * pushes out the finished container that finished longest ago, or, when
 * none has finished, the one first recorded longest ago. At most
 * `maxEvents` events per container; beyond that the oldest event after the
 * first is dropped (the first says when the container was first seen,
 * which the phases need) and counted in `dropped`.
 *
 * Linking a VM to its containers: the scheduler says which container an
 * instance was created for, under the pool's placeholder id; the pool's
 * `instanceCreated` event turns the placeholder into the cloud's id, and the
 * instance's boot events are then copied to the containers waiting on it.
 * The link ends when the instance is ready, when crunch-run starts for the
 * container, or when the container is requeued or finishes.
 */
import type { Clock } from '../clock/index.js';
import type { PoolEvent } from '../worker/pool.js';
import type { SeenContainer, TimelineEvent, TimelineKind, TimelineSink } from './sink.js';

export type { SeenContainer, TimelineEvent, TimelineKind, TimelineSink, QueueTimeline, SchedulerTimeline } from './sink.js';

/** Default bound on the containers kept. */
export const DEFAULT_MAX_CONTAINERS = 10_000;
/** Default bound on the events kept per container. */
export const DEFAULT_MAX_EVENTS = 100;

export interface TimelineOptions {
  clock: Clock;
  /** At most this many containers. Default `DEFAULT_MAX_CONTAINERS`. */
  maxContainers?: number;
  /** At most this many events per container (at least 2). Default `DEFAULT_MAX_EVENTS`. */
  maxEvents?: number;
  /** Told of every event as it is recorded (kept or not). */
  onEvent?: (uuid: string, event: TimelineEvent) => void;
}

/** One container's timeline, as `Timeline.get` gives it. */
export interface ContainerTimeline {
  readonly events: readonly TimelineEvent[];
  /** Events dropped to keep within `maxEvents`. */
  readonly dropped: number;
  /** When this was read (the Clock's now): where a phase still open ends for now. */
  readonly asOf: number;
}

interface Entry {
  uuid: string;
  events: TimelineEvent[];
  dropped: number;
  /** The state the queue last showed; undefined before the queue has shown it. */
  state?: string;
  /** Why we last asked to unlock it, until the queue shows it requeued. */
  unlockReason?: string;
  /** Instance (or placeholder) ids whose boot events this container waits for. */
  links: Set<string>;
}

const FINAL = new Set(['Complete', 'Cancelled']);

export class Timeline implements TimelineSink {
  private readonly clock: Clock;
  private readonly maxContainers: number;
  private readonly maxEvents: number;
  private readonly onEvent?: (uuid: string, event: TimelineEvent) => void;
  /** In the order first recorded: the oldest is first. */
  private readonly entries = new Map<string, Entry>();
  /** Finished containers, in the order they finished. */
  private readonly finished = new Set<string>();
  /** Instance or placeholder id -> the containers waiting for it to boot. */
  private readonly waiting = new Map<string, Set<string>>();

  constructor(opts: TimelineOptions) {
    this.clock = opts.clock;
    this.maxContainers = Math.max(1, opts.maxContainers ?? DEFAULT_MAX_CONTAINERS);
    this.maxEvents = Math.max(2, opts.maxEvents ?? DEFAULT_MAX_EVENTS);
    this.onEvent = opts.onEvent;
  }

  /** The container's timeline, or undefined if it is not (or no longer) kept. */
  get(uuid: string): ContainerTimeline | undefined {
    const e = this.entries.get(uuid);
    return e && { events: e.events, dropped: e.dropped, asOf: this.clock.now() };
  }

  /** How many containers are kept. */
  get size(): number {
    return this.entries.size;
  }

  containerSeen(c: SeenContainer): void {
    const existing = this.entries.get(c.uuid);
    const prev = existing?.state;
    if (prev === c.state) return;
    const e = existing ?? this.entry(c.uuid);
    e.state = c.state;
    if (prev === undefined) {
      this.push(e, 'first_seen', {
        state: c.state,
        priority: c.priority,
        ...(c.created_at ? { created: c.created_at } : {}),
        ...(c.started_at ? { started: c.started_at } : {}),
      });
      if (FINAL.has(c.state)) this.finish(c.uuid, e);
      return;
    }
    switch (c.state) {
      case 'Queued':
        this.push(e, 'requeued', e.unlockReason === undefined ? undefined : { reason: e.unlockReason });
        e.unlockReason = undefined;
        // A VM that boots now boots for whichever container the scheduler places there next.
        this.unlink(c.uuid, e);
        break;
      case 'Locked':
        this.push(e, 'locked');
        break;
      case 'Running':
        this.push(e, 'running', c.started_at ? { started: c.started_at } : undefined);
        break;
      case 'Complete':
      case 'Cancelled':
        this.push(e, 'finished', { state: c.state, ...(typeof c.exit_code === 'number' ? { exit_code: c.exit_code } : {}) });
        this.finish(c.uuid, e);
        break;
    }
  }

  vmRequested(uuid: string, instanceType: string, pendingId: string): void {
    const e = this.entry(uuid);
    this.push(e, 'vm_requested', { instance_type: instanceType, pending_id: pendingId });
    this.link(uuid, e, pendingId);
  }

  placedOnBooting(uuid: string, instanceId: string, instanceType: string): void {
    const e = this.entry(uuid);
    if (e.links.has(instanceId)) return;
    this.push(e, 'vm_assigned', { instance: instanceId, instance_type: instanceType });
    this.link(uuid, e, instanceId);
  }

  placedOnPrepared(uuid: string, instanceId: string, note: string): void {
    const e = this.entry(uuid);
    // Said once per VM: its note is unique, its id changes from pending to real.
    if (e.events.some((ev) => ev.kind === 'vm_prepared' && ev.detail?.note === note)) return;
    this.push(e, 'vm_prepared', { instance: instanceId, note });
  }

  unlocking(uuid: string, reason: string): void {
    const e = this.entry(uuid);
    // Asked again, for the same reason, before the queue saw it Queued (the
    // call failed and a later pass retries it): still the one requeue, said
    // once, so that a controller outage does not multiply it.
    if (e.unlockReason === reason) return;
    e.unlockReason = reason;
    this.push(e, 'unlocked', { reason });
  }

  warmWait(uuid: string, detail: Record<string, string | number>): void {
    this.push(this.entry(uuid), 'warm_wait', detail);
  }

  spendingCap(uuid: string, detail: Record<string, string | number>): void {
    this.push(this.entry(uuid), 'spending_cap', detail);
  }

  startsHeld(uuid: string, detail: Record<string, string | number>): void {
    this.push(this.entry(uuid), 'starts_held', detail);
  }

  cancelling(uuid: string, reason: string): void {
    this.push(this.entry(uuid), 'cancelled_by_dispatcher', { reason });
  }

  drainWait(uuid: string, instanceType: string, drainedInstance: string): void {
    this.push(this.entry(uuid), 'drain_wait', {
      instance_type: instanceType,
      drained_instance: drainedInstance,
      reason: 'drain to save emptied an instance of this type that has since shut down',
    });
  }

  onDemand(uuid: string, detail: Record<string, string | number>): void {
    this.push(this.entry(uuid), 'on_demand', detail);
  }

  spotFallback(uuid: string, detail: Record<string, string | number>): void {
    this.push(this.entry(uuid), 'spot_fallback', detail);
  }

  poolEvent(event: PoolEvent): void {
    switch (event.type) {
      case 'instanceReclaimed':
        for (const uuid of event.containers) this.push(this.entry(uuid), 'vm_reclaimed', { instance: event.instanceId, phase: event.phase, reason: event.reason });
        break;
      case 'instanceCreated':
        this.instanceCreated(event.pendingId, event.instanceId);
        break;
      case 'sshConnected':
        this.toWaiting(event.instanceId, 'vm_booted');
        break;
      case 'readyForContainer':
        this.toWaiting(event.instanceId, 'vm_ready');
        this.release(event.instanceId);
        break;
      case 'crunchRunStarted': {
        const e = this.entry(event.containerUUID);
        this.push(e, 'crunch_run_started', { instance: event.instanceId });
        this.unlink(event.containerUUID, e);
        break;
      }
      case 'crunchRunStartReturned':
        if (event.outcome !== 'started') {
          const detail: Record<string, string | number> = { instance: event.instanceId, outcome: event.outcome };
          if (event.exitCode !== undefined) Object.assign(detail, { exit_code: event.exitCode, stderr: event.stderr ?? '' });
          this.push(this.entry(event.containerUUID), 'crunch_run_start_failed', detail);
        }
        break;
      case 'crunchRunDetected':
        this.push(this.entry(event.containerUUID), 'adopted', { instance: event.instanceId });
        break;
    }
  }

  /** The cloud gave the id of a create: the requests that named its placeholder get the id, and the link follows. */
  private instanceCreated(pendingId: string, instanceId: string): void {
    const uuids = this.waiting.get(pendingId);
    if (!uuids) return;
    this.waiting.delete(pendingId);
    for (const uuid of uuids) {
      const e = this.entries.get(uuid);
      if (!e) continue;
      e.links.delete(pendingId);
      const req = e.events.find((ev) => ev.kind === 'vm_requested' && ev.detail?.pending_id === pendingId);
      if (req?.detail) {
        delete req.detail.pending_id;
        req.detail.instance = instanceId;
      }
      this.link(uuid, e, instanceId);
    }
  }

  private toWaiting(instanceId: string, kind: TimelineKind): void {
    for (const uuid of this.waiting.get(instanceId) ?? []) {
      const e = this.entries.get(uuid);
      if (e) this.push(e, kind, { instance: instanceId });
    }
  }

  /** The instance has nothing more to tell its containers. */
  private release(instanceId: string): void {
    for (const uuid of this.waiting.get(instanceId) ?? []) this.entries.get(uuid)?.links.delete(instanceId);
    this.waiting.delete(instanceId);
  }

  private link(uuid: string, e: Entry, id: string): void {
    e.links.add(id);
    let set = this.waiting.get(id);
    if (!set) {
      set = new Set();
      this.waiting.set(id, set);
    }
    set.add(uuid);
  }

  private unlink(uuid: string, e: Entry): void {
    for (const id of e.links) {
      const set = this.waiting.get(id);
      set?.delete(uuid);
      if (set?.size === 0) this.waiting.delete(id);
    }
    e.links.clear();
  }

  private finish(uuid: string, e: Entry): void {
    this.unlink(uuid, e);
    this.finished.add(uuid);
  }

  /** The container's entry, made (and room made for it) if it has none. */
  private entry(uuid: string): Entry {
    const found = this.entries.get(uuid);
    if (found) return found;
    while (this.entries.size >= this.maxContainers) this.evictOne();
    const e: Entry = { uuid, events: [], dropped: 0, links: new Set() };
    this.entries.set(uuid, e);
    return e;
  }

  private evictOne(): void {
    const uuid = this.finished.values().next().value ?? this.entries.keys().next().value;
    if (uuid === undefined) return;
    const e = this.entries.get(uuid);
    if (e) this.unlink(uuid, e);
    this.entries.delete(uuid);
    this.finished.delete(uuid);
  }

  private push(e: Entry, kind: TimelineKind, detail?: Record<string, string | number>): void {
    if (e.events.length >= this.maxEvents) {
      e.events.splice(1, 1);
      e.dropped++;
    }
    const event: TimelineEvent = detail === undefined ? { at: this.clock.now(), kind } : { at: this.clock.now(), kind, detail };
    e.events.push(event);
    this.onEvent?.(e.uuid, event);
  }
}
