/**
 * Who each container belongs to, for fair share: the owner of its
 * top-level container request (`FairShare.By`: the owning user, or the
 * owner_uuid as it is, a project or a user's home).
 *
 * Read with `GET /arvados/v1/container_requests` filtered by
 * `container_uuid in [...]`, `BATCH` containers a request, one request at a
 * time, in the background: the pass never waits for it, and a container
 * whose owner is not known yet counts as `UNKNOWN_OWNER`. A request made by
 * a container (a workflow runner's child: `requesting_container_uuid` set)
 * belongs to whoever that container's own request belongs to, so the chain
 * is followed up, each step one cached lookup, to the request no container
 * made. A container's requests do not change their owner or their
 * requesting container, so answers are kept as long as the container, or a
 * descendant of it, is in the queue.
 *
 * Controller load: one list call per BATCH containers newly seen (plus one
 * per BATCH workflow runners whose children are seen), at most one in
 * flight; nothing for containers already known. A failed call is retried
 * after RETRY_MS, with a rate-limited warning.
 */
import type { ListParams } from '../arvados/client.js';
import { findControllerError } from '../arvados/errors.js';
import type { ContainerRequest, ItemList } from '../arvados/types.js';
import type { Clock } from '../clock/index.js';
import type { FairShareBy } from '../config/settings-fair-share.js';
import { type Logger, RateLimitedLog } from '../log.js';

/** What the lookups need of the controller client. */
export interface RequestsClient {
  listContainerRequests(params: ListParams): Promise<ItemList<ContainerRequest>>;
}

/** Containers per list call: its URL stays under the client's GET length limit. */
export const BATCH = 100;
/** A failed lookup is tried again after this long. */
export const RETRY_MS = 60_000;
/** Requests a list call may return: more than one request may share a container (container reuse). */
const PAGE = 1000;
/** A chain of runners deeper than this is taken for a loop. */
const MAX_DEPTH = 32;

const SELECT = ['uuid', 'owner_uuid', 'container_uuid', 'requesting_container_uuid', 'modified_by_user_uuid'];

/** What is known of one container's request. */
type Known =
  /** The owner's share key (top-level), or the container that made the request. */
  | { kind: 'owner'; key: string }
  | { kind: 'child'; parent: string }
  /** No request found, or the lookup failed (then retried at `retryAt`). */
  | { kind: 'none'; retryAt: number };

export interface OwnerResolverOptions {
  client: RequestsClient;
  clock: Clock;
  logger: Logger;
  by: FairShareBy;
  /** The feature that asks, first in its log messages; default "fair share". */
  label?: string;
}

/** The share key of a top-level request under `by` (see `Settings.FairShare.By`). */
export function shareKey(req: ContainerRequest, by: FairShareBy): string {
  if (by === 'owner' && req.owner_uuid.includes('-j7d0g-') && req.modified_by_user_uuid) return req.modified_by_user_uuid;
  return req.owner_uuid;
}

/**
 * The request that stands for a container: a top-level one when there is
 * one (a container reused by several requests runs for the first one made
 * by a user rather than a runner), else the first by uuid.
 */
export function rootRequest(reqs: readonly ContainerRequest[]): ContainerRequest | undefined {
  const sorted = [...reqs].sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
  return sorted.find((r) => !r.requesting_container_uuid) ?? sorted[0];
}

export class OwnerResolver {
  private readonly known = new Map<string, Known>();
  private readonly pending = new Set<string>();
  private readonly warn: RateLimitedLog;
  private busy = false;
  /** List calls made, for the controller-load figure. */
  calls = 0;

  constructor(private readonly opts: OwnerResolverOptions) {
    this.warn = new RateLimitedLog(opts.logger, opts.clock);
  }

  private get label(): string {
    return this.opts.label ?? 'fair share';
  }

  /** The container's share key, or undefined while it is not known (asked for by `update`). */
  ownerOf(uuid: string): string | undefined {
    let at = uuid;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const k = this.known.get(at);
      if (!k || k.kind === 'none') return undefined;
      if (k.kind === 'owner') return k.key;
      at = k.parent;
    }
    return undefined;
  }

  /**
   * Called by every pass with the containers in the queue: looks up those
   * (and the runners above them) not known yet, in the background, and
   * forgets those no live container leads to.
   */
  update(live: Iterable<string>): void {
    const now = this.opts.clock.now();
    const keep = new Set<string>();
    for (const uuid of live) {
      let at = uuid;
      for (let depth = 0; depth < MAX_DEPTH && !keep.has(at); depth++) {
        keep.add(at);
        const k = this.known.get(at);
        if (!k || (k.kind === 'none' && k.retryAt <= now)) {
          this.pending.add(at);
          break;
        }
        if (k.kind !== 'child') break;
        at = k.parent;
      }
    }
    for (const uuid of this.known.keys()) if (!keep.has(uuid)) this.known.delete(uuid);
    for (const uuid of this.pending) if (!keep.has(uuid)) this.pending.delete(uuid);
    if (!this.busy && this.pending.size > 0) void this.drain();
  }

  /** How many containers are known (owner or parent): bounded by the live containers and their runners. */
  get size(): number {
    return this.known.size;
  }

  /** Looks up the pending containers, a batch a call, until none is left or a call fails. */
  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending].slice(0, BATCH);
        for (const uuid of batch) this.pending.delete(uuid);
        if (!(await this.lookup(batch))) break;
      }
    } finally {
      this.busy = false;
    }
  }

  private async lookup(batch: string[]): Promise<boolean> {
    this.calls++;
    let items: ContainerRequest[];
    try {
      const list = await this.opts.client.listContainerRequests({
        filters: [['container_uuid', 'in', batch]],
        select: SELECT,
        order: 'uuid',
        limit: PAGE,
      });
      items = list.items;
    } catch (err) {
      const retryAt = this.opts.clock.now() + RETRY_MS;
      for (const uuid of batch) this.known.set(uuid, { kind: 'none', retryAt });
      const status = findControllerError(err)?.status;
      this.warn.warn(`${this.label}: cannot read container requests; their containers count as owner "unknown" until a retry succeeds`, {
        Containers: batch.length,
        error: (err as Error).message,
        ...(status ? { Status: status } : {}),
      });
      return false;
    }
    const byContainer = new Map<string, ContainerRequest[]>();
    for (const r of items) {
      if (typeof r?.container_uuid !== 'string' || typeof r.owner_uuid !== 'string') continue;
      let list = byContainer.get(r.container_uuid);
      if (!list) byContainer.set(r.container_uuid, (list = []));
      list.push(r);
    }
    const retryAt = this.opts.clock.now() + RETRY_MS;
    for (const uuid of batch) {
      const root = rootRequest(byContainer.get(uuid) ?? []);
      // A full page may have left out some requests: those without any are asked again later.
      if (!root) this.known.set(uuid, { kind: 'none', retryAt });
      else if (root.requesting_container_uuid) this.known.set(uuid, { kind: 'child', parent: root.requesting_container_uuid });
      else this.known.set(uuid, { kind: 'owner', key: shareKey(root, this.opts.by) });
    }
    if (items.length >= PAGE) this.warn.warn(`${this.label}: a container request lookup filled its page; some containers will be asked again`, { Containers: batch.length });
    return true;
  }
}
