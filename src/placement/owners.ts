/**
 * Who each container belongs to, for fair share and the spending cap: the
 * owner of its top-level container request (`by`: the owning user, or the
 * owner_uuid as it is, a project or a user's home).
 *
 * The requests come from the shared `RequestDirectory` (`requests.ts`):
 * never waited for, so a container whose owner is not known yet counts as
 * `UNKNOWN_OWNER`. A request made by a container (a workflow runner's
 * child: `requesting_container_uuid` set) belongs to whoever that
 * container's own request belongs to, so the chain is followed up, each step
 * one cached lookup, to the request no container made.
 *
 * Controller load: one list call per BATCH containers newly seen (plus one
 * per BATCH workflow runners whose children are seen), at most one in
 * flight, shared with the other features that read requests; nothing for
 * containers already known. A failed call is retried after RETRY_MS, with a
 * rate-limited warning.
 */
import type { FairShareBy } from '../config/settings-fair-share.js';
import type { Clock } from '../clock/index.js';
import { findControllerError } from '../arvados/errors.js';
import { type Logger, RateLimitedLog } from '../log.js';
import type { Asker, RequestDirectory, RequestFacts } from './requests.js';

export { BATCH, RETRY_MS } from './requests.js';

/** A chain of runners deeper than this is taken for a loop. */
const MAX_DEPTH = 32;

export interface OwnerResolverOptions {
  requests: RequestDirectory;
  clock: Clock;
  logger: Logger;
  by: FairShareBy;
  /** The feature that asks, first in its log messages; default "fair share". */
  label?: string;
}

/** The share key of a top-level request under `by` (see `Settings.FairShare.By`). */
export function shareKey(req: RequestFacts, by: FairShareBy): string {
  if (by === 'owner' && req.owner_uuid.includes('-j7d0g-') && req.modified_by_user_uuid) return req.modified_by_user_uuid;
  return req.owner_uuid;
}

/**
 * The request that stands for a container: a top-level one when there is
 * one (a container reused by several requests runs for the first one made
 * by a user rather than a runner), else the first by uuid.
 */
export function rootRequest<R extends Pick<RequestFacts, 'uuid' | 'requesting_container_uuid'>>(reqs: readonly R[]): R | undefined {
  let top: R | undefined;
  let first: R | undefined;
  for (const r of reqs) {
    if (!first || r.uuid < first.uuid) first = r;
    if (!r.requesting_container_uuid && (!top || r.uuid < top.uuid)) top = r;
  }
  return top ?? first;
}

export class OwnerResolver implements Asker {
  private readonly warn: RateLimitedLog;

  constructor(private readonly opts: OwnerResolverOptions) {
    this.warn = new RateLimitedLog(opts.logger, opts.clock);
  }

  get label(): string {
    return this.opts.label ?? 'fair share';
  }

  /** The container's share key, or undefined while it is not known (then asked for). */
  ownerOf(uuid: string): string | undefined {
    let at = uuid;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const reqs = this.opts.requests.requestsOf(at, this);
      const root = reqs && rootRequest(reqs);
      if (!root) return undefined;
      if (!root.requesting_container_uuid) return shareKey(root, this.opts.by);
      at = root.requesting_container_uuid;
    }
    return undefined;
  }

  /** Called by every pass with the containers in the queue: asks, in the background, for the owners not known yet. */
  update(live: Iterable<string>): void {
    for (const uuid of live) this.ownerOf(uuid);
  }

  onError(err: unknown, containers: number): void {
    const status = findControllerError(err)?.status;
    this.warn.warn(`${this.label}: cannot read container requests; their containers count as owner "unknown" until a retry succeeds`, {
      Containers: containers,
      error: (err as Error).message,
      ...(status ? { Status: status } : {}),
    });
  }
}
