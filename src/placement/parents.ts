/**
 * Which workflow runner submitted a container: Arvados records it on the
 * container request (`requesting_container_uuid`), not on the container, so
 * pre-warming asks the controller, in batches, once per container, and
 * remembers the answer. Lookups run in the background, one request at a
 * time; `version` grows with each answer so that the learner knows to look
 * again.
 */
import type { ListParams } from '../arvados/client.js';
import type { ItemList } from '../arvados/types.js';
import type { RateLimitedLog } from '../log.js';

/** Containers asked about per request (a filter `container_uuid in [...]`). */
export const BATCH = 100;
/** Answers remembered at most; the oldest are forgotten first. */
const MAX_KNOWN = 200_000;

/** What the lookup reads of a container request. */
export interface RequestRef {
  container_uuid: string | null;
  requesting_container_uuid: string | null;
  /** Read only by a lookup of the request itself (`field: 'uuid'`). */
  uuid?: string;
}

/**
 * What a lookup answers for a container: the runner that made its request
 * (pre-warming), or the request's own uuid (reclaim escalation links a
 * container's retries through it, `reclaim-plan.ts`).
 */
export interface LookupOptions {
  field: 'requesting_container_uuid' | 'uuid';
  /** Names the lookup in its warning. */
  label: string;
}

/** What the lookup needs of the controller client. */
export interface RequestSource {
  listContainerRequests(params: ListParams): Promise<ItemList<RequestRef>>;
}

/** The learner's view: the runner that made a container's request, null for none, undefined while unknown. */
export interface Parents {
  parentOf(uuid: string): string | null | undefined;
  readonly version: number;
}

export class ParentLookup implements Parents {
  private readonly known = new Map<string, string | null>();
  private readonly wanted = new Set<string>();
  private inFlight = false;
  version = 0;

  constructor(
    private readonly source: RequestSource,
    private readonly log: RateLimitedLog,
    private readonly opts: LookupOptions = { field: 'requesting_container_uuid', label: 'pre-warming' },
  ) {}

  /** The answer if known; otherwise undefined, and the container is looked up soon. */
  parentOf(uuid: string): string | null | undefined {
    const p = this.known.get(uuid);
    if (p === undefined) {
      this.wanted.add(uuid);
      this.next();
    }
    return p;
  }

  private next(): void {
    if (this.inFlight || this.wanted.size === 0) return;
    const batch: string[] = [];
    for (const u of this.wanted) {
      batch.push(u);
      this.wanted.delete(u);
      if (batch.length >= BATCH) break;
    }
    this.inFlight = true;
    const field = this.opts.field;
    this.source
      .listContainerRequests({
        filters: [['container_uuid', 'in', batch]],
        select: ['container_uuid', field],
        // Requests are reused, so one container may have several.
        limit: BATCH * 10,
      })
      .then(
        (list) => {
          for (const u of batch) if (!this.known.has(u)) this.remember(u, null);
          for (const cr of list.items) if (cr.container_uuid && cr[field]) this.remember(cr.container_uuid, cr[field]);
          this.version++;
        },
        // Not remembered: asked again when the learner next looks at them.
        (err: unknown) => this.log.warn(`${this.opts.label}: cannot read container requests`, { error: err }, `${this.opts.label} requests`),
      )
      .finally(() => {
        this.inFlight = false;
        this.next();
      });
  }

  private remember(uuid: string, parent: string | null): void {
    if (this.known.size >= MAX_KNOWN && !this.known.has(uuid)) this.known.delete(this.known.keys().next().value!);
    this.known.set(uuid, parent);
  }
}
