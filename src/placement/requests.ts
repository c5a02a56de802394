/**
 * The container requests behind the queue's containers, read once for every
 * feature that needs them: fair share and the spending cap (whose owner a
 * container works for, `owners.ts`), pre-warming (which runner made it) and
 * reclaim escalation (which request it runs for, `parents.ts`). Before this
 * directory each of them read the same requests with list calls of its own,
 * so with all four on the controller answered every lookup four times.
 *
 * A container is asked about with `GET /arvados/v1/container_requests`
 * filtered by `container_uuid in [...]`, `BATCH` containers a call, one call
 * at a time, in the background: nobody waits for an answer, and a container
 * not known yet reads as `undefined` until one comes. The answer is every
 * request naming the container (several when the controller reused it), with
 * the fields all the features read.
 *
 * A container's requests never change their uuid, owner or requesting
 * container, so an answer is kept while its container is in the queue, and
 * for `FORGET_MS` after it left or after a feature last read it (a runner
 * above a live child is read with every look at the child). A failed call
 * leaves its containers unknown until `RETRY_MS` later, and tells each
 * feature that was waiting for them, which logs it in its own words.
 */
import type { ListParams } from '../arvados/client.js';
import type { ItemList } from '../arvados/types.js';
import type { Clock } from '../clock/index.js';
import { type Logger, RateLimitedLog } from '../log.js';
import { compareCodeUnits } from '../compare.js';

/** Containers per list call: about 3.7 KB of parameters, which the client sends as a form body (a POST with X-Http-Method-Override: GET). */
export const BATCH = 100;
/** A failed lookup is tried again after this long. */
export const RETRY_MS = 60_000;
/** An answer outside the queue, and not read, is forgotten after this long. */
export const FORGET_MS = 10 * 60_000;
/** Forgetting is looked at this often, at most. */
const SWEEP_MS = 60_000;
/** Answers kept at most, whatever the queue holds; the oldest go first. */
const MAX_KNOWN = 200_000;
/** Requests a list call may return: more than one request may share a container (container reuse). */
const PAGE = 1000;

const SELECT = ['uuid', 'owner_uuid', 'container_uuid', 'requesting_container_uuid', 'modified_by_user_uuid'];

/** What the features read of a container request. */
export interface RequestFacts {
  uuid: string;
  owner_uuid: string;
  container_uuid: string;
  requesting_container_uuid: string | null;
  modified_by_user_uuid?: string | null;
}

/** What the directory needs of the controller client. */
export interface RequestsClient {
  listContainerRequests(params: ListParams): Promise<ItemList<object>>;
}

/** A feature that reads the directory: told when a lookup it waits for fails. */
export interface Asker {
  onError(err: unknown, containers: number): void;
}

export interface RequestDirectoryOptions {
  client: RequestsClient;
  clock: Clock;
  logger: Logger;
  /** Whether the container is in the dispatcher's queue now (its answer is then kept); none: answers are kept while read. */
  inQueue?: (uuid: string) => boolean;
}

type Entry =
  /** The container's requests, sorted by uuid (empty: it has none). */
  | { requests: readonly RequestFacts[]; readAt: number }
  /** Not known: the lookup failed or left it out; asked again from `retryAt`. */
  | { requests?: undefined; retryAt: number; readAt: number };

export class RequestDirectory {
  private readonly known = new Map<string, Entry>();
  /** Containers to ask about, with the features waiting for each. */
  private readonly pending = new Map<string, Set<Asker>>();
  private readonly warn: RateLimitedLog;
  private busy = false;
  private sweptAt = -Infinity;
  /** Grows with each answer, so that a reader knows to look again. */
  version = 0;

  constructor(private readonly opts: RequestDirectoryOptions) {
    this.warn = new RateLimitedLog(opts.logger, opts.clock);
  }

  /**
   * The container's requests (an empty list when it has none), or undefined
   * while they are not known: they are then asked for, on `asker`'s behalf.
   */
  requestsOf(uuid: string, asker: Asker): readonly RequestFacts[] | undefined {
    const now = this.opts.clock.now();
    this.sweep(now);
    const e = this.known.get(uuid);
    if (e) e.readAt = now;
    if (e?.requests) return e.requests;
    if (e && e.retryAt > now) return undefined;
    let askers = this.pending.get(uuid);
    if (!askers) this.pending.set(uuid, (askers = new Set()));
    askers.add(asker);
    if (!this.busy) {
      // After the caller's pass has asked for everything it reads, so that the first call is a full batch.
      this.busy = true;
      queueMicrotask(() => void this.drain());
    }
    return undefined;
  }

  /** Containers whose answers are kept (for tests and the bench). */
  get size(): number {
    return this.known.size;
  }

  /** Forgets answers whose container is neither in the queue nor read lately (at most once a SWEEP_MS). */
  private sweep(now: number): void {
    if (now - this.sweptAt < SWEEP_MS) return;
    this.sweptAt = now;
    const inQueue = this.opts.inQueue ?? (() => false);
    for (const [uuid, e] of this.known) if (e.readAt < now - FORGET_MS && !inQueue(uuid)) this.known.delete(uuid);
  }

  /** Looks up the pending containers, a batch a call, until none is left or a call fails. */
  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending].slice(0, BATCH);
        for (const [uuid] of batch) this.pending.delete(uuid);
        if (!(await this.lookup(batch))) break;
      }
    } finally {
      this.busy = false;
    }
  }

  private async lookup(batch: Array<[string, Set<Asker>]>): Promise<boolean> {
    let items: unknown[];
    let list: ItemList<object>;
    try {
      list = await this.opts.client.listContainerRequests({
        filters: [['container_uuid', 'in', batch.map(([uuid]) => uuid)]],
        select: SELECT,
        order: 'uuid',
        limit: PAGE,
      });
      items = Array.isArray(list?.items) ? (list.items as unknown[]) : [];
    } catch (err) {
      const now = this.opts.clock.now();
      const waiting = new Map<Asker, number>();
      for (const [uuid, askers] of batch) {
        this.remember(uuid, { retryAt: now + RETRY_MS, readAt: now });
        for (const a of askers) waiting.set(a, (waiting.get(a) ?? 0) + 1);
      }
      for (const [a, n] of waiting) a.onError(err, n);
      return false;
    }
    const byContainer = new Map<string, RequestFacts[]>();
    for (const r of items) {
      const facts = validFacts(r);
      if (!facts) continue;
      let list = byContainer.get(facts.container_uuid);
      if (!list) byContainer.set(facts.container_uuid, (list = []));
      list.push(facts);
    }
    const now = this.opts.clock.now();
    // The controller caps a page at its MaxItemsPerResponse (1000 by default, maybe lower) and says so in `limit`.
    const full = items.length >= Math.min(PAGE, pageLimit(list.limit));
    for (const [uuid] of batch) {
      const requests = (byContainer.get(uuid) ?? []).sort((a, b) => compareCodeUnits(a.uuid, b.uuid));
      // A full page may have left out some containers' requests: those without any are asked again later.
      if (requests.length === 0 && full) this.remember(uuid, { retryAt: now + RETRY_MS, readAt: now });
      else this.remember(uuid, { requests, readAt: now });
    }
    if (full) this.warn.warn('a container request lookup filled its page; some containers will be asked again', { Containers: batch.length });
    this.version++;
    return true;
  }

  private remember(uuid: string, e: Entry): void {
    if (this.known.size >= MAX_KNOWN && !this.known.has(uuid)) this.known.delete(this.known.keys().next().value!);
    this.known.set(uuid, e);
  }
}

/** The page size a list answer says it was cut to, if it says (a positive integer); else PAGE. */
function pageLimit(limit: unknown): number {
  return typeof limit === 'number' && Number.isInteger(limit) && limit > 0 ? limit : PAGE;
}

/** A request as the features read it, or undefined when the controller's item lacks what they need. */
function validFacts(item: unknown): RequestFacts | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const r = item as Partial<Record<keyof RequestFacts, unknown>>;
  if (typeof r.uuid !== 'string' || typeof r.owner_uuid !== 'string' || typeof r.container_uuid !== 'string') return undefined;
  return {
    uuid: r.uuid,
    owner_uuid: r.owner_uuid,
    container_uuid: r.container_uuid,
    requesting_container_uuid: typeof r.requesting_container_uuid === 'string' && r.requesting_container_uuid !== '' ? r.requesting_container_uuid : null,
    ...(typeof r.modified_by_user_uuid === 'string' ? { modified_by_user_uuid: r.modified_by_user_uuid } : {}),
  };
}
