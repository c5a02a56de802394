/**
 * The list requests a poll is made of, each bounded and each safe against
 * a controller that cuts pages short: a page shorter than the limit does not
 * mean the end (the controller may cut a page to bound its response size),
 * only an empty page does.
 *
 * Every list selects `LIST_FIELDS` only: a container's runtime constraints,
 * image, scheduling parameters and mounts never change, so the queue reads
 * them once, by uuid, when it first sees the container (`details.ts`), and
 * the lists only say what moves: state, priority and lock holder.
 */
import type { ControllerClient, ListParams } from '../arvados/client.js';
import type { Container } from '../arvados/types.js';

/** What the lists need of the controller client. */
export type ListClient = Pick<ControllerClient, 'listContainers'>;

/** A container as the lists return it. */
export type Listed = Pick<Container, 'uuid' | 'state' | 'priority' | 'locked_by_uuid'>;

/** The attributes every list selects; never `mounts`. */
export const LIST_FIELDS: readonly string[] = ['uuid', 'state', 'priority', 'locked_by_uuid'];

export type Filters = ListParams['filters'];

/** Containers that may be dispatched: Queued, and wanted by someone. */
export const QUEUED: Filters = [
  ['state', '=', 'Queued'],
  ['priority', '>', 0],
];

/**
 * The reference stops reading the queued list once it holds this many
 * containers that are not supervisors (its `queuedContainersTarget`).
 */
export const HEAD_TARGET = 100;

function list(client: ListClient, filters: Filters, order: string | string[], limit: number): Promise<Listed[]> {
  return client
    .listContainers({ filters, select: [...LIST_FIELDS], order, limit })
    .then((page) => page.items as Listed[]);
}

/**
 * One page of `filters` in uuid order after `after` ('' = from the start).
 * Throws if the controller answers out of order: paging on would never end.
 */
export async function pageByUuid(client: ListClient, filters: Filters, after: string, limit: number): Promise<Listed[]> {
  const items = await list(client, after === '' ? filters : [...filters, ['uuid', '>', after]], 'uuid', limit);
  let last = after;
  for (const c of items) {
    if (last !== '' && c.uuid <= last) throw new Error(`the controller answered out of uuid order (${c.uuid} after ${last})`);
    last = c.uuid;
  }
  return items;
}

/** Every container matching `filters`, in uuid order, paging with `uuid > last` until an empty page. */
export async function readAllByUuid(client: ListClient, filters: Filters, pageSize: number): Promise<Listed[]> {
  const out: Listed[] = [];
  let after = '';
  for (;;) {
    const page = await pageByUuid(client, filters, after, pageSize);
    if (page.length === 0) return out;
    out.push(...page);
    after = page[page.length - 1].uuid;
  }
}

export interface HeadResult {
  /** In priority order (highest first), each container once: the later copy of one read twice wins. */
  items: Listed[];
  /** The whole queued list was read (it ended with an empty page). */
  complete: boolean;
  /** Where reading stopped, when not complete: the last container read. */
  last?: Listed;
}

/**
 * The head of the queued list, highest priority first: pages until
 * `HEAD_TARGET` containers that are not supervisors have been read (as the
 * reference), or the list ends, or `maxRequests` requests were made.
 *
 * Paged by a (priority, uuid) cursor rather than by offset: with offsets,
 * every container that leaves the list mid-read (locked by someone,
 * cancelled) shifts the rest and one of them goes unseen, and one whose
 * priority rises is read twice. Filters cannot say "(priority < p) or
 * (priority = p and uuid > u)", so the cursor first finishes the run of
 * priority p by uuid, then moves on to priorities below p.
 *
 * @param isSupervisor what the queue knows of a container; one it has not
 *   seen yet counts as not a supervisor.
 */
export async function readHead(
  client: ListClient,
  pageSize: number,
  maxRequests: number,
  isSupervisor: (uuid: string) => boolean,
): Promise<HeadResult> {
  const byPriority = ['priority desc', 'uuid asc'];
  const out = new Map<string, Listed>();
  let nonSupervisors = 0;
  let requests = 0;
  const read = (filters: Filters, order: string | string[]): Promise<Listed[]> => {
    requests++;
    return list(client, filters, order, pageSize);
  };
  let last: Listed | undefined;
  let page = await read(QUEUED, byPriority);
  for (;;) {
    if (page.length === 0) return { items: [...out.values()], complete: true };
    for (const c of page) {
      // A container whose priority changed mid-read can come twice: the later copy wins.
      out.delete(c.uuid);
      out.set(c.uuid, c);
      if (!isSupervisor(c.uuid)) nonSupervisors++;
    }
    last = page[page.length - 1];
    if (nonSupervisors >= HEAD_TARGET || requests >= maxRequests) break;
    page = await read([...QUEUED, ['priority', '=', last.priority], ['uuid', '>', last.uuid]], 'uuid');
    if (page.length === 0) {
      if (requests >= maxRequests) break;
      page = await read([...QUEUED, ['priority', '<', last.priority]], byPriority);
    }
  }
  return { items: [...out.values()], complete: false, last };
}

export interface CheckResult {
  found: Listed[];
  /** Asked about, and the controller has no such container (deleted). */
  gone: string[];
}

/**
 * Asks about each of `uuids` by `uuid in [...]`, `batchSize` at a time. A
 * batch answered in part leaves the rest for a later batch: only an empty
 * answer proves its containers are gone. Throws if the controller answers
 * with a container it was not asked about (going on could loop forever on
 * a server that ignores the filter).
 */
export async function checkByUuid(client: ListClient, uuids: Iterable<string>, batchSize: number, pageSize: number): Promise<CheckResult> {
  const missing = new Set(uuids);
  const found: Listed[] = [];
  const gone: string[] = [];
  while (missing.size > 0) {
    const batch: string[] = [];
    for (const uuid of missing) {
      batch.push(uuid);
      if (batch.length >= batchSize) break;
    }
    const page = await list(client, [['uuid', 'in', batch]], 'uuid', Math.min(pageSize, batch.length));
    if (page.length === 0) {
      for (const uuid of batch) {
        missing.delete(uuid);
        gone.push(uuid);
      }
      continue;
    }
    for (const c of page) {
      if (!missing.delete(c.uuid)) throw new Error(`the controller answered a "uuid in" query with ${c.uuid}, which was not asked for`);
      found.push(c);
    }
  }
  return { found, gone };
}
