/**
 * Containers the queue has seen but cannot hand out yet: their details
 * (mounts included) are read once, by uuid, and only then do they get their
 * instance types and become queue entries (as in the reference, a container
 * is not scheduled until its mounts are known).
 *
 * Which details are read on a poll: every new container of ours and of the
 * head of the queued list (what the scheduler acts on now, as the reference
 * reads them), then others, highest priority first, until `perPoll` reads
 * in all (the reference's first poll reads a page's worth, 1000). A read
 * that fails is tried again on the next poll, and the warning is
 * rate-limited. Containers that turn out to be unsatisfiable (no instance
 * type fits, or mounts the reference could not decode) go to the
 * `UnsatisfiableCanceller`.
 */
import type { Container } from '../arvados/types.js';
import { firstInOrder } from '../first-in-order.js';
import type { Clock } from '../clock/index.js';
import type { Cluster, InstanceType } from '../config/types.js';
import { RateLimitedLog, type Logger } from '../log.js';
import type { InstanceResources, QueueEntry } from '../scheduler/interfaces.js';
import { kept, readAllDetails, type Details, type DetailsClient } from './details.js';
import { collectionPDHs } from '../placement/mounts.js';
import { instanceResourcesNeeded } from './instance-types.js';
import { Interner } from './interner.js';
import type { PollResult } from './poll.js';
import type { UnsatisfiableCanceller } from './unsatisfiable.js';
import type { BadRecordLog } from './validate.js';

export interface ArrivalsOptions {
  client: DetailsClient;
  cluster: Cluster;
  clock: Clock;
  logger: Logger;
  /** Eligible types, cheapest first; throws if none. */
  chooseTypes: (container: Container) => InstanceType[];
  unsatisfiable: UnsatisfiableCanceller;
  /** Where unusable records are reported. */
  badRecords: BadRecordLog;
  /** Details read per poll, unless ours and the head's alone are more. */
  perPoll: number;
  /** Details reads in flight at once. */
  concurrency: number;
}

export class Arrivals {
  /** Seen, details not read yet; only containers we may run. */
  private readonly waiting = new Map<string, Container>();
  /** Of those, the ones whose last read failed: read after the others, so one bad record holds up none. */
  private readonly failedBefore = new Set<string>();
  /**
   * Equal type lists and sizes share one object across entries: a backlog
   * of 100k containers has a few dozen shapes, and the scheduler keys its
   * per-pass placement memo on these objects' identity.
   */
  private readonly interned = new Interner();
  private readonly readErrors: RateLimitedLog;

  constructor(private readonly opts: ArrivalsOptions) {
    this.readErrors = new RateLimitedLog(opts.logger, opts.clock, 60_000);
  }

  has(uuid: string): boolean {
    return this.waiting.has(uuid);
  }

  /** One waiting for its details, as last known. */
  get(uuid: string): Container | undefined {
    return this.waiting.get(uuid);
  }

  /** Those waiting for their details, as last known: the poll keeps them fresh. */
  containers(): Iterable<[string, Container]> {
    return this.waiting.entries();
  }

  forget(uuid: string): void {
    this.waiting.delete(uuid);
    this.failedBefore.delete(uuid);
  }

  /**
   * Reads the details this poll needs: of `result`'s containers that are
   * new (`known` false) and that we may run, ours and the head's first,
   * those whose last read failed last.
   */
  async read(result: PollResult, known: (uuid: string) => boolean, mayRun: (c: Pick<Container, 'state' | 'priority' | 'locked_by_uuid'>) => boolean): Promise<Map<string, Details>> {
    const wanted = (uuid: string, c: Pick<Container, 'state' | 'priority' | 'locked_by_uuid'> | undefined): boolean =>
      c !== undefined && !known(uuid) && mayRun(c);
    const urgent = new Set<string>();
    for (const uuid of result.urgent) if (wanted(uuid, result.containers.get(uuid))) urgent.add(uuid);
    const others: Array<{ uuid: string; priority: number }> = [];
    for (const [uuid, c] of result.containers) if (!urgent.has(uuid) && wanted(uuid, c)) others.push({ uuid, priority: c.priority });
    // One this poll's checks found gone is dropped with it: no read, which would only find it gone again and warn twice.
    const gone = new Set(result.notFound);
    for (const [uuid, c] of this.waiting) if (!result.containers.has(uuid) && !gone.has(uuid)) others.push({ uuid, priority: c.priority });
    const failed = (uuid: string): boolean => this.failedBefore.has(uuid);
    const budget = Math.max(0, this.opts.perPoll - urgent.size);
    const byPriority = (a: { priority: number }, b: { priority: number }): number => b.priority - a.priority;
    const rest = firstInOrder(
      others.filter((o) => !failed(o.uuid)),
      budget,
      byPriority,
    );
    const retry = firstInOrder(
      others.filter((o) => failed(o.uuid)),
      budget - rest.length,
      byPriority,
    );
    const order = [...[...urgent].filter((u) => !failed(u)), ...rest.map((o) => o.uuid), ...[...urgent].filter(failed), ...retry.map((o) => o.uuid)];
    return this.readNow(order);
  }

  /** Reads the details of `uuids`, in that order (a refresh between polls reads those the feed named). */
  async readNow(uuids: readonly string[]): Promise<Map<string, Details>> {
    const out = await readAllDetails(this.opts.client, uuids, this.opts.concurrency);
    for (const [uuid, d] of out) {
      if (d.outcome === 'invalid') this.opts.badRecords.report('read', d.problem, uuid);
      else if (d.outcome === 'ok') this.opts.badRecords.lockCount('read', d.container);
    }
    return out;
  }

  /**
   * What becomes of a container that is not an entry yet, given its latest
   * listed record and the details read on this poll (if any): the new
   * entry, or undefined (still waiting, unsatisfiable, or not ours to run).
   */
  settle(uuid: string, listed: Partial<Container> | undefined, details: Details | undefined, mayRun: (c: Container) => boolean): QueueEntry | undefined {
    const latest = { ...this.waiting.get(uuid), ...kept(listed ?? {}) } as Container;
    if (details?.outcome === 'failed' || details?.outcome === 'invalid') this.failedBefore.add(uuid);
    else if (details) this.failedBefore.delete(uuid);
    switch (details?.outcome) {
      case 'ok':
        this.waiting.delete(uuid);
        // Moved on since the list was read (cancelled, locked by someone else): nothing to run.
        return mayRun(details.container) ? this.entry(details.container) : undefined;
      case 'gone':
        this.waiting.delete(uuid);
        this.opts.logger.warn('container not found by controller (deleted?)', { ContainerUUID: uuid });
        return undefined;
      case 'malformed':
        this.waiting.delete(uuid);
        // As the reference: this warning first, then the cancel.
        this.opts.logger.warn('error getting mounts', { ContainerUUID: uuid, error: details.reason });
        this.opts.unsatisfiable.handle(latest, details.reason, true);
        return undefined;
      case 'invalid':
        // Reported when read (`read`), and read again on the next poll.
        break;
      case 'failed':
        this.readErrors.warn('error getting mounts', { ContainerUUID: uuid, error: details.error.message });
        break;
    }
    if (mayRun(latest)) this.waiting.set(uuid, latest);
    else this.forget(uuid);
    return undefined;
  }

  /** The entry for a container whose details are known, or undefined if it goes to the unsatisfiable canceller. */
  private entry(ctr: Container): QueueEntry | undefined {
    const { cluster, logger } = this.opts;
    // What the container needs is known whether or not a type fits it: a
    // Running one that fits none (the config changed since it started) still
    // occupies its VM, and the scheduler must not start others into that room.
    const resources: InstanceResources = this.interned.resources(instanceResourcesNeeded(cluster, ctr));
    let types: InstanceType[];
    try {
      types = this.interned.types(this.opts.chooseTypes(ctr));
    } catch (err) {
      if (ctr.state === 'Queued' || ctr.state === 'Locked') {
        // No point retrying or leaving it to another dispatcher: the config decides.
        this.opts.unsatisfiable.handle(ctr, (err as Error).message);
        return undefined;
      }
      // Already Running: it runs wherever it is; the scheduler can still watch and kill it.
      logger.warn('no instance type fits a container that is already running', { ContainerUUID: ctr.uuid, error: (err as Error).message });
      types = [];
    }
    const entry: QueueEntry = { container: kept(ctr) as Container, instanceTypes: types, instanceResources: resources, firstSeenAt: this.opts.clock.now() };
    const inputs = collectionPDHs(ctr.mounts);
    if (inputs.length > 0) entry.inputs = inputs;
    return entry;
  }
}
