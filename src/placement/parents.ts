/**
 * Which workflow runner submitted a container, or which request it runs for.
 * Arvados records both on the container request (`requesting_container_uuid`,
 * `uuid`), not on the container, so pre-warming and reclaim escalation read
 * them from the shared `RequestDirectory` (`requests.ts`): in the
 * background, batched, once per container. `version` grows with each answer
 * so that a reader knows to look again.
 */
import type { RateLimitedLog } from '../log.js';
import { rootRequest } from './owners.js';
import type { Asker, RequestDirectory } from './requests.js';

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

/** The reader's view: the answer for a container, null for none, undefined while unknown. */
export interface Parents {
  parentOf(uuid: string): string | null | undefined;
  readonly version: number;
}

export class ParentLookup implements Parents, Asker {
  constructor(
    private readonly requests: RequestDirectory,
    private readonly log: RateLimitedLog,
    private readonly opts: LookupOptions = { field: 'requesting_container_uuid', label: 'pre-warming' },
  ) {}

  get version(): number {
    return this.requests.version;
  }

  /**
   * The answer if known; otherwise undefined, and the container is looked up
   * soon. A container reused by several requests answers, for its runner,
   * the first request (by uuid) that a runner made; for its request, the
   * one `rootRequest` picks.
   */
  parentOf(uuid: string): string | null | undefined {
    const reqs = this.requests.requestsOf(uuid, this);
    if (reqs === undefined) return undefined;
    if (this.opts.field === 'requesting_container_uuid') return reqs.find((r) => r.requesting_container_uuid)?.requesting_container_uuid ?? null;
    return rootRequest(reqs)?.uuid ?? null;
  }

  onError(err: unknown): void {
    // Not remembered: asked again when the reader next looks, after the directory's retry delay.
    this.log.warn(`${this.opts.label}: cannot read container requests`, { error: err }, `${this.opts.label} requests`);
  }
}
