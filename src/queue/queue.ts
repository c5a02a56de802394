/**
 * The container queue: the controller's containers that this dispatcher
 * may run, is running or has just finished, refreshed by polling (see
 * `poll.ts`), with the lock, unlock and cancel operations the scheduler
 * performs. Behaviour follows the reference's lib/dispatchcloud/container/queue.go:
 *
 * - A container first seen gets its eligible instance types and resource
 *   needs once; later polls replace only its record.
 * - An entry the poll no longer returns is dropped: a final container is
 *   kept for one poll after it became final (the scheduler sees the end),
 *   then dropped; `forget` drops it sooner.
 * - A container no instance type can run is locked, given
 *   `runtime_status.error`, and cancelled (`unsatisfiable.ts`).
 * - A poll answer about a container we changed (lock, unlock, cancel) while
 *   that poll was in flight is stale and ignored for that container.
 */
import type { ControllerClient, ContainerPatch } from '../arvados/client.js';
import type { Container } from '../arvados/types.js';
import { isAbortError, type Clock } from '../clock/index.js';
import type { Cluster, InstanceType } from '../config/types.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { Notifier } from '../notifier.js';
import type { ContainerQueue, InstanceResources, QueueEntry } from '../scheduler/interfaces.js';
import { chooseInstanceTypes, instanceResourcesNeeded } from './instance-types.js';
import { Interner } from './interner.js';
import { pollContainers, SELECT_FIELDS, type PollResult } from './poll.js';
import { UnsatisfiableCanceller } from './unsatisfiable.js';

/** What the queue needs of the controller client; tests may pass an object literal. */
export type QueueClient = Pick<
  ControllerClient,
  'currentTokenUuid' | 'listContainers' | 'getContainer' | 'lockContainer' | 'unlockContainer' | 'updateContainer'
>;

export interface ContainerQueueOptions {
  client: QueueClient;
  cluster: Cluster;
  clock: Clock;
  logger: Logger;
  /** Eligible types, cheapest first; throws if none. Default `chooseInstanceTypes(cluster, c)`. */
  chooseTypes?: (container: Container) => InstanceType[];
  /** Items per list request. Default 1000 (the controller's usual cap). */
  pageSize?: number;
  /** Uuids per `uuid in [...]` request. Default 100. */
  batchSize?: number;
  /** Polls on which to try cancelling an unsatisfiable container before giving up. Default 3. */
  unsatisfiableAttempts?: number;
}

/** A second lock, unlock or cancel for a container while one is in flight. */
export class ContainerBusyError extends Error {
  override readonly name = 'ContainerBusyError';
  constructor(
    readonly uuid: string,
    readonly operation: string,
    readonly inProgress: string,
  ) {
    super(`cannot ${operation} ${uuid}: ${inProgress} already in progress`);
  }
}

const FINAL = new Set(['Complete', 'Cancelled']);

/** Record attributes an entry keeps: what the poll selects, less the mounts (big, and only used to size scratch). */
const KEPT_FIELDS: readonly string[] = SELECT_FIELDS.filter((f) => f !== 'mounts');

/** A copy of `c` with only the attributes the queue keeps. */
function keep(c: Partial<Container>): Partial<Container> {
  const out: Record<string, unknown> = {};
  for (const f of KEPT_FIELDS) {
    const v = (c as Record<string, unknown>)[f];
    if (v !== undefined) out[f] = v;
  }
  return out as Partial<Container>;
}

export class ContainerQueueImpl implements ContainerQueue {
  private readonly client: QueueClient;
  private readonly cluster: Cluster;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly chooseTypes: (container: Container) => InstanceType[];
  private readonly pollErrors: RateLimitedLog;
  private readonly unsatisfiable: UnsatisfiableCanceller;
  private current = new Map<string, QueueEntry>();
  /**
   * Equal type lists and sizes share one object across entries: a backlog
   * of 100k containers has a few dozen shapes, and the scheduler keys its
   * per-pass placement memo on these objects' identity.
   */
  private readonly interned = new Interner();
  /** `current` has been handed out by `entries()`: copy it before the next change. */
  private shared = false;
  private updatedAt = 0;
  private tokenUuid?: string;
  /** Containers changed locally during the poll in flight; undefined when no poll is. */
  private touched?: Set<string>;
  /** Container uuid -> the operation in flight on it. */
  private readonly busy = new Map<string, string>();
  private readonly notifier: Notifier;
  private polling?: Promise<void>;
  private nextPoll?: Promise<void>;
  private loop?: { abort: AbortController; done: Promise<void> };

  constructor(private readonly opts: ContainerQueueOptions) {
    this.client = opts.client;
    this.cluster = opts.cluster;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.chooseTypes = opts.chooseTypes ?? ((c) => chooseInstanceTypes(opts.cluster, c));
    this.pollErrors = new RateLimitedLog(opts.logger, opts.clock, 60_000);
    this.notifier = new Notifier((err) => this.logger.error('queue subscriber threw', { error: err }));
    this.unsatisfiable = new UnsatisfiableCanceller({
      client: opts.client,
      logger: opts.logger,
      maxAttempts: opts.unsatisfiableAttempts ?? 3,
      runExclusive: (uuid, name, fn) => this.exclusive(uuid, name, fn),
      applyReply: (uuid, reply) => this.applyReply(uuid, reply),
    });
  }

  // ---- ContainerQueue ----

  entries(): { entries: ReadonlyMap<string, QueueEntry>; updated: number } {
    // Entries are replaced, never changed in place, and the map is copied
    // before the first change after it was handed out (copy on write): the
    // caller gets a consistent snapshot, and a scheduling pass over a large
    // queue does not pay for copying it.
    this.shared = true;
    return { entries: this.current, updated: this.updatedAt };
  }

  get(uuid: string): Container | undefined {
    return this.current.get(uuid)?.container;
  }

  /** Drops a final container, or one with priority 0 that is not Locked/Running by us; otherwise does nothing. */
  forget(uuid: string): void {
    const c = this.current.get(uuid)?.container;
    if (!c) return;
    const ours = (c.state === 'Locked' || c.state === 'Running') && c.locked_by_uuid === this.tokenUuid;
    if (!FINAL.has(c.state) && (c.priority !== 0 || ours)) return;
    // Deleted in place, not copied first: a snapshot handed out earlier may
    // lose what the scheduler itself forgets (it no longer needs it), and a
    // pass that forgets a finished container does not copy a 100k-entry map.
    this.current.delete(uuid);
    this.logger.info('dropping container from queue', { ContainerUUID: uuid, State: 'forgotten' });
  }

  lock(uuid: string): Promise<void> {
    return this.exclusive(uuid, 'lock', async () => {
      this.applyReply(uuid, await this.client.lockContainer(uuid));
    });
  }

  unlock(uuid: string): Promise<void> {
    return this.exclusive(uuid, 'unlock', async () => {
      this.applyReply(uuid, await this.client.unlockContainer(uuid));
    });
  }

  /**
   * Cancels: sets only `state`, as the reference's scheduler does. A
   * container's runtime_status is crunch-run's (its errors and warnings
   * for the user) and must not be replaced; `reason` goes to the log.
   */
  cancel(uuid: string, reason?: string): Promise<void> {
    return this.exclusive(uuid, 'cancel', async () => {
      this.applyReply(uuid, await this.client.updateContainer(uuid, { state: 'Cancelled' }));
      this.logger.info('cancelled container', { ContainerUUID: uuid, ...(reason === undefined ? {} : { Reason: reason }) });
    });
  }

  subscribe(listener: () => void): () => void {
    return this.notifier.subscribe(listener);
  }


  /**
   * Polls now. A call while a poll is in flight waits for one more poll that
   * starts after it (calls in the meantime share that one), so the caller
   * always gets data at least as new as its call.
   */
  update(): Promise<void> {
    if (!this.polling) return this.startPoll();
    this.nextPoll ??= this.polling
      .catch(() => undefined)
      .then(() => {
        this.nextPoll = undefined;
        return this.startPoll();
      });
    return this.nextPoll;
  }

  // ---- poll loop ----

  /**
   * Polls every PollInterval, or as slowly as the controller answers: if a
   * poll took longer than the interval, the controller is probably
   * overloaded, so the next one waits that long instead.
   */
  start(): void {
    if (this.loop) throw new Error('container queue already started');
    const abort = new AbortController();
    this.loop = { abort, done: this.run(abort.signal) };
  }

  /** Stops the loop at once (a poll in flight finishes in the background). */
  async stop(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    loop.abort.abort();
    await loop.done;
    this.loop = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const interval = this.cluster.Containers.CloudVMs.PollInterval;
    const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    aborted.catch(() => undefined);
    while (!signal.aborted) {
      const started = this.clock.now();
      try {
        await Promise.race([this.update(), aborted]);
      } catch (err) {
        if (signal.aborted) break;
        this.pollErrors.warn('polling the controller failed', { error: (err as Error).message });
      }
      const took = this.clock.now() - started;
      try {
        await this.clock.sleep(Math.max(interval, took), signal);
      } catch (err) {
        if (!isAbortError(err) && !signal.aborted) throw err;
        break;
      }
    }
  }

  private startPoll(): Promise<void> {
    const p = this.poll().finally(() => {
      if (this.polling === p) this.polling = undefined;
    });
    this.polling = p;
    return p;
  }

  private async poll(): Promise<void> {
    const started = this.clock.now();
    const touched = new Set<string>();
    this.touched = touched;
    try {
      this.tokenUuid ??= await this.client.currentTokenUuid();
      const result = await pollContainers(this.client, this.tokenUuid, () => this.unfinished(), {
        pageSize: this.opts.pageSize ?? 1000,
        batchSize: this.opts.batchSize ?? 100,
      });
      this.apply(result, touched, started);
    } finally {
      if (this.touched === touched) this.touched = undefined;
    }
  }

  /** Uuids of entries not yet final: phase 3 asks about those the lists did not return. */
  private *unfinished(): Iterable<string> {
    for (const [uuid, e] of this.current) if (!FINAL.has(e.container.state)) yield uuid;
  }

  private apply(result: PollResult, touched: Set<string>, started: number): void {
    for (const [uuid, ctr] of result.containers) {
      // A lock, unlock or cancel answered after the poll began is newer than this record.
      if (touched.has(uuid)) continue;
      const cur = this.current.get(uuid);
      if (cur) this.put(uuid, { ...cur, container: keep(ctr) as Container });
      else this.add(ctr);
    }
    for (const uuid of result.notFound) {
      this.logger.warn('container not found by controller (deleted?)', { ContainerUUID: uuid });
    }
    for (const [uuid, e] of [...this.current]) {
      if (touched.has(uuid) || result.containers.has(uuid)) continue;
      // Final for a poll already, deleted, or taken by another dispatcher.
      this.drop(uuid, e.container.state);
    }
    this.unsatisfiable.retain((uuid) => result.containers.has(uuid));
    this.updatedAt = started;
    // Even with no entry changed, `updated` moved: the scheduler waits on that after a crunch-run exits.
    this.notify();
  }

  private writable(): Map<string, QueueEntry> {
    if (this.shared) {
      this.current = new Map(this.current);
      this.shared = false;
    }
    return this.current;
  }

  private put(uuid: string, entry: QueueEntry): void {
    this.writable().set(uuid, entry);
  }

  private add(ctr: Container): void {
    let types: InstanceType[];
    let resources;
    try {
      types = this.interned.types(this.chooseTypes(ctr));
      resources = this.interned.resources(instanceResourcesNeeded(this.cluster, ctr));
    } catch (err) {
      if (ctr.state === 'Queued' || ctr.state === 'Locked') {
        // No point retrying or leaving it to another dispatcher: the config decides.
        this.unsatisfiable.handle(ctr, err as Error);
        return;
      }
      // Already Running: it runs wherever it is; the scheduler can still watch and kill it.
      this.logger.warn('no instance type fits a container that is already running', { ContainerUUID: ctr.uuid, error: (err as Error).message });
      types = [];
      resources = { vcpus: 0, ram: 0, scratch: 0, gpus: 0, gpuVRAM: 0 };
    }
    this.put(ctr.uuid, { container: keep(ctr) as Container, instanceTypes: types, instanceResources: resources, firstSeenAt: this.clock.now() });
    this.logger.info('adding container to queue', {
      ContainerUUID: ctr.uuid,
      State: ctr.state,
      Priority: ctr.priority,
      InstanceTypes: types.map((t) => t.Name).join(', '),
    });
  }

  /**
   * No notification of its own: a poll notifies once for all its changes,
   * and `forget` is called by the scheduler, which needs no wake-up for
   * what it just did itself (as the reference).
   */
  private drop(uuid: string, why: string): void {
    if (!this.current.has(uuid)) return;
    this.writable().delete(uuid);
    this.logger.info('dropping container from queue', { ContainerUUID: uuid, State: why });
  }

  /** Merges the answer of a lock, unlock or cancel into the entry (those answers may carry only a few attributes). */
  private applyReply(uuid: string, reply: ContainerPatch | Container): void {
    this.touched?.add(uuid);
    const cur = this.current.get(uuid);
    // Not tracked (e.g. an unsatisfiable container being cancelled): nothing to merge into.
    if (!cur) return;
    this.put(uuid, { ...cur, container: { ...cur.container, ...keep(reply) } });
    this.notify();
  }

  /** Runs `fn` as the one operation on `uuid`; rejects at once if another is in flight. */
  private async exclusive<T>(uuid: string, name: string, fn: () => Promise<T>): Promise<T> {
    const other = this.busy.get(uuid);
    if (other !== undefined) throw new ContainerBusyError(uuid, name, other);
    this.busy.set(uuid, name);
    try {
      return await fn();
    } finally {
      this.busy.delete(uuid);
    }
  }

  /** Calls the listeners once, after the current turn, however many changes it made. */
  private notify(): void {
    this.notifier.notify();
  }

}
