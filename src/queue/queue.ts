/**
 * The container queue: the controller's containers that this dispatcher
 * may run, is running or has just finished, refreshed by polling (see
 * `poll.ts`, `poll-loop.ts`) and, between polls, by reading the containers
 * the event feed names (`refresh`, `hints.ts`), with the lock, unlock and
 * cancel operations the scheduler performs (`operations.ts`). Behaviour follows the reference's lib/dispatchcloud/container/queue.go:
 *
 * - A container first seen has its details (mounts included) read once by
 *   uuid (`details.ts`), then gets its eligible instance types and resource
 *   needs; until then it is tracked but not handed out, so it is not
 *   scheduled. Later polls replace only its state, priority, lock holder
 *   and lock count.
 * - A final container is kept for one poll after it became final (the
 *   scheduler sees the end), then dropped; `forget` drops it sooner. A
 *   container the controller no longer has is dropped.
 * - A container no instance type can run is locked, given
 *   `runtime_status.error`, and cancelled (`unsatisfiable.ts`).
 * - A poll or refresh answer about a container changed (by a lock, unlock,
 *   cancel, or another read's answer) while it was in flight is stale and
 *   ignored for that container (`reads.ts`).
 * - A record that is not well formed (a field of the wrong type, an unknown
 *   state, a bad uuid, ...) is not used, with a rate-limited warning naming
 *   the field (`validate.ts`); the rest of the answer is.
 */
import type { Container } from '../arvados/types.js';
import type { Clock } from '../clock/index.js';
import type { InstanceType } from '../config/types.js';
import type { Logger } from '../log.js';
import { Notifier } from '../notifier.js';
import type { QueueTimeline } from '../timeline/sink.js';
import type { ContainerQueue, QueueEntry } from '../scheduler/interfaces.js';
import { chooseInstanceTypes } from './instance-types.js';
import { Arrivals } from './arrivals.js';
import { kept, type Details } from './details.js';
import { MAX_PAGES } from './lists.js';
import { Poller, type PollResult, type Tracked, type TrackedContainer } from './poll.js';
import { PollLoop } from './poll-loop.js';
import { ReadsInFlight } from './reads.js';
import { EntryMap } from './entry-map.js';
import { ContainerOperations } from './operations.js';
import { UnsatisfiableCanceller } from './unsatisfiable.js';
import { BadRecordLog } from './validate.js';
import type { ContainerQueueOptions, QueueClient } from './options.js';

export type { ContainerQueueOptions, QueueClient } from './options.js';

export { ContainerBusyError } from './exclusive.js';

const FINAL = new Set(['Complete', 'Cancelled']);

/**
 * How long before the queue started a container may have been created and
 * still count as new for the deaf-feed check: the controller's clock and
 * ours may differ by this much.
 */
const CREATED_BEFORE_START_MS = 2 * 60_000;

export class ContainerQueueImpl implements ContainerQueue {
  private readonly client: QueueClient;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly badRecords: BadRecordLog;
  private readonly unsatisfiable: UnsatisfiableCanceller;
  private readonly arrivals: Arrivals;
  private readonly poller: Poller;
  private readonly current = new EntryMap();
  private updatedAt = 0;
  private tokenUuid?: string;
  private readonly reads = new ReadsInFlight();
  private readonly operations: ContainerOperations;
  private readonly notifier: Notifier;
  private polling?: Promise<void>;
  private nextPoll?: Promise<void>;
  private readonly loop: PollLoop;
  private readonly timeline?: QueueTimeline;
  private polledNew = 0;
  /** Containers created before this (clock ms) are not counted in `polledNew`: the feed could not have told of them. */
  private readonly countCreatedFrom: number;

  constructor(opts: ContainerQueueOptions) {
    this.client = opts.client;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.timeline = opts.timeline;
    this.countCreatedFrom = opts.clock.now() - CREATED_BEFORE_START_MS;
    this.loop = new PollLoop(opts.clock, opts.logger, opts.cluster.Containers.CloudVMs.PollInterval, () => this.update());
    this.notifier = new Notifier((err) => this.logger.error('queue subscriber threw', { error: err }));
    this.badRecords = new BadRecordLog(opts.logger, opts.clock);
    this.poller = new Poller({ client: opts.client, bad: this.badRecords, logger: opts.logger }, {
      pageSize: opts.pageSize ?? 1000,
      batchSize: opts.batchSize ?? 100,
      sweepPages: opts.sweepPages ?? 2,
      headPages: opts.headPages ?? 10,
      checksPerPoll: opts.checksPerPoll ?? 1000,
      maxPages: opts.maxListPages ?? MAX_PAGES,
    });
    this.operations = new ContainerOperations({
      client: opts.client,
      logger: opts.logger,
      badRecords: this.badRecords,
      reads: this.reads,
      entries: this.current,
      put: (uuid, entry) => this.put(uuid, entry),
      suspect: (uuid) => this.poller.suspect(uuid),
      notify: () => this.notify(),
    });
    this.unsatisfiable = new UnsatisfiableCanceller({
      client: opts.client,
      logger: opts.logger,
      clock: opts.clock,
      firstRetryMs: opts.unsatisfiableRetryMs?.first,
      maxRetryMs: opts.unsatisfiableRetryMs?.max,
      runExclusive: (uuid, name, fn) => this.operations.run(uuid, name, fn),
      applyReply: (uuid, reply, locked) => this.operations.applyReply(uuid, reply, locked),
    });
    this.arrivals = new Arrivals({
      client: opts.client,
      cluster: opts.cluster,
      clock: opts.clock,
      logger: opts.logger,
      chooseTypes: opts.chooseTypes ?? ((c) => chooseInstanceTypes(opts.cluster, c)),
      unsatisfiable: this.unsatisfiable,
      badRecords: this.badRecords,
      perPoll: opts.detailsPerPoll ?? 1000,
      concurrency: opts.detailsConcurrency ?? 8,
    });
  }

  // ---- ContainerQueue ----

  entries(): { entries: ReadonlyMap<string, QueueEntry>; updated: number } {
    return { entries: this.current.snapshot(), updated: this.updatedAt };
  }

  get(uuid: string): Container | undefined {
    return this.current.get(uuid)?.container;
  }

  /**
   * The types `uuid` may run on, read from the live entries: unlike
   * `entries()`, it takes no snapshot, so it may be called while the queue
   * is being filled without making the next write copy the whole map.
   */
  instanceTypesOf(uuid: string): readonly InstanceType[] | undefined {
    return this.current.get(uuid)?.instanceTypes;
  }

  readingDetails(uuid: string): boolean {
    return !this.current.has(uuid) && this.arrivals.get(uuid) !== undefined;
  }

  /** Drops a final container, or one with priority 0 that is not Locked/Running by us; otherwise does nothing. */
  forget(uuid: string): void {
    const c = this.current.get(uuid)?.container;
    if (!c) return;
    const ours = (c.state === 'Locked' || c.state === 'Running') && c.locked_by_uuid === this.tokenUuid;
    if (!FINAL.has(c.state) && (c.priority !== 0 || ours)) return;
    this.current.deleteInPlace(uuid);
    this.logger.info('dropping container from queue', { ContainerUUID: uuid, State: c.state, Reason: 'forgotten' });
  }

  /** Locks the container for this dispatcher (`operations.ts`). */
  lock(uuid: string): Promise<void> {
    return this.operations.lock(uuid);
  }

  /** Gives the container back to the queue (`operations.ts`). */
  unlock(uuid: string): Promise<void> {
    return this.operations.unlock(uuid);
  }

  /** Cancels, setting only `state`, once a read shows it has not ended (`operations.ts`). */
  cancel(uuid: string, reason?: string): Promise<void> {
    return this.operations.cancel(uuid, reason);
  }

  /** Locks, unlocks and cancels in flight (the queue's own included); for tests. */
  operationsInFlight(): number {
    return this.operations.inFlight;
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

  /** Polls every PollInterval (see `poll-loop.ts`). */
  start(): void {
    this.loop.start();
  }

  /** Stops the loop at once (a poll in flight finishes in the background). */
  stop(): Promise<void> {
    return this.loop.stop();
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
    const touched = this.reads.begin();
    try {
      this.tokenUuid ??= await this.client.currentTokenUuid();
      const result = await this.poller.poll(this.tokenUuid, this.tracked());
      const details = await this.arrivals.read(result, (uuid) => this.current.has(uuid) || this.unsatisfiable.has(uuid), this.mayRun);
      this.apply(result, details, touched, started);
      this.unsatisfiable.retryDue();
    } finally {
      this.reads.end(touched);
    }
  }

  /**
   * Reads these containers now and applies what the controller says of
   * them, between polls (the event feed said they changed: `hints.ts`).
   * Containers the queue tracks are read by `uuid in [...]`, as a poll's
   * checks; others have their details read by uuid at once, as a poll
   * reads a new container's, and become entries if this dispatcher may run
   * them. Unlike a poll, a refresh does not move `entries().updated`: it
   * says nothing of the containers it did not read.
   */
  async refresh(uuids: Iterable<string>): Promise<void> {
    const touched = this.reads.begin();
    try {
      this.tokenUuid ??= await this.client.currentTokenUuid();
      const known: string[] = [];
      const fresh: string[] = [];
      for (const uuid of new Set(uuids)) (this.current.has(uuid) || this.unsatisfiable.has(uuid) ? known : fresh).push(uuid);
      const [checked, details] = await Promise.all([this.poller.check(known), this.arrivals.readNow(fresh)]);
      this.apply({ containers: new Map(checked.found.map((c) => [c.uuid, c])), urgent: [], notFound: checked.gone }, details, touched);
    } finally {
      this.reads.end(touched);
    }
  }

  /**
   * Containers a poll found that the queue did not track (new to it, and
   * ones it may run), since start; not those a refresh found first, nor
   * those created before the queue started (`createdSinceStart`). Every
   * container's creation makes a feed event, so the event feed link
   * compares these with the feed's events to notice a feed that is
   * connected but brings nothing (`event-feed-link.ts`).
   */
  newFromPolls(): number {
    return this.polledNew;
  }

  /**
   * Whether a container a poll found new counts for the deaf-feed check:
   * its details were read with it, and it was created while this queue ran.
   * After a restart, a backlog too big to read at once is found over many
   * polls, long after its containers' creation events went by; those are
   * not what a deaf feed failed to bring.
   */
  private createdSinceStart(d: Details | undefined): boolean {
    if (d?.outcome !== 'ok') return false;
    return !(Date.parse(d.container.created_at) < this.countCreatedFrom);
  }

  /** What the queue last knew of a container it tracks (an entry, or one waiting for its details or being cancelled). */
  known(uuid: string): TrackedContainer | undefined {
    return this.tracked().get(uuid);
  }

  /** Queued and wanted, or ours: a container this dispatcher may run or is running. */
  private readonly mayRun = (c: Pick<Container, 'state' | 'priority' | 'locked_by_uuid'>): boolean =>
    (c.state === 'Queued' && c.priority > 0) || ((c.state === 'Locked' || c.state === 'Running') && c.locked_by_uuid === this.tokenUuid);

  /** Every container the queue tracks (entries, those waiting for details, those being cancelled), as last known. */
  private tracked(): Tracked {
    const { arrivals, unsatisfiable } = this;
    const current = (): ReadonlyMap<string, QueueEntry> => this.current.view();
    return {
      get: (uuid) => current().get(uuid)?.container ?? arrivals.get(uuid) ?? unsatisfiable.get(uuid),
      *[Symbol.iterator](): Iterator<[string, TrackedContainer]> {
        for (const [uuid, e] of current()) yield [uuid, e.container];
        yield* arrivals.containers();
        yield* unsatisfiable.containers();
      },
    };
  }

  /**
   * Applies a read's answer. `started` is given for a poll (which also drops
   * containers final for a poll already, and moves `updated`), not for a
   * refresh.
   */
  private apply(result: PollResult, details: Map<string, Details>, touched: Set<string>, started?: number): void {
    // Another read in flight began before this one answered: its answer about these containers is older.
    const others = this.reads.overlapping;
    for (const [uuid, listed] of result.containers) {
      // A lock, unlock or cancel (or another read) answered after this read began is newer than this record.
      if (touched.has(uuid)) continue;
      if (others) this.reads.touch(uuid, touched);
      const cur = this.current.get(uuid);
      if (cur) {
        // Unchanged records leave the map alone: no copy of a 100k-entry snapshot for nothing.
        const c = cur.container;
        const lockCountMoved = listed.lock_count !== undefined && listed.lock_count !== c.lock_count;
        if (c.state !== listed.state || c.priority !== listed.priority || (c.locked_by_uuid ?? null) !== (listed.locked_by_uuid ?? null) || lockCountMoved) {
          this.put(uuid, { ...cur, container: { ...c, ...kept(listed) } });
        }
      } else if (this.unsatisfiable.has(uuid)) this.unsatisfiable.refresh(uuid, kept(listed), this.mayRun(listed));
      else {
        if (started !== undefined && !this.arrivals.has(uuid) && this.mayRun(listed) && this.createdSinceStart(details.get(uuid))) this.polledNew++;
        this.settle(uuid, listed, details.get(uuid));
      }
    }
    // Waiting for details and not listed on this poll, but read now.
    for (const [uuid, d] of details) {
      if (result.containers.has(uuid) || touched.has(uuid)) continue;
      if (others) this.reads.touch(uuid, touched);
      this.settle(uuid, undefined, d);
    }
    for (const uuid of result.notFound) {
      if (others) this.reads.touch(uuid, touched);
      this.logger.warn('container not found by controller (deleted?)', { ContainerUUID: uuid });
      this.drop(uuid, 'deleted');
      this.arrivals.forget(uuid);
      this.unsatisfiable.forget(uuid);
    }
    if (started !== undefined) {
      const ended: QueueEntry[] = [];
      for (const [uuid, e] of this.current.view()) {
        // Final for a poll already: the scheduler has seen the end.
        if (!touched.has(uuid) && !result.containers.has(uuid) && FINAL.has(e.container.state)) ended.push(e);
      }
      for (const e of ended) this.drop(e.container.uuid);
      this.updatedAt = started;
    }
    // Even with no entry changed, `updated` moved: the scheduler waits on that after a crunch-run exits.
    this.notify();
  }

  /** A container not yet an entry: becomes one once its details are known. */
  private settle(uuid: string, listed: Partial<Container> | undefined, d: Details | undefined): void {
    const entry = this.arrivals.settle(uuid, listed, d, this.mayRun);
    if (!entry) return;
    this.put(uuid, entry);
    const ctr = entry.container;
    this.logger.info('adding container to queue', {
      ContainerUUID: uuid,
      State: ctr.state,
      Priority: ctr.priority,
      InstanceTypes: entry.instanceTypes.map((t) => t.Name).join(', '),
    });
  }

  /** Every entry added or changed goes through here, so the timeline sees each change once. */
  private put(uuid: string, entry: QueueEntry): void {
    this.current.set(uuid, entry);
    this.timeline?.containerSeen(entry.container);
  }

  /**
   * No notification of its own: a poll notifies once for all its changes,
   * and `forget` is called by the scheduler, which needs no wake-up for
   * what it just did itself (as the reference).
   */
  private drop(uuid: string, reason?: string): void {
    const state = this.current.get(uuid)?.container.state;
    if (!this.current.delete(uuid)) return;
    // State is the container's last known state, as the reference logs it.
    this.logger.info('dropping container from queue', { ContainerUUID: uuid, State: state, ...(reason === undefined ? {} : { Reason: reason }) });
  }

  /** Calls the listeners once, after the current turn, however many changes it made. */
  private notify(): void {
    this.notifier.notify();
  }

}
