/**
 * The list requests a poll is made of, each bounded and each safe against
 * a controller that cuts pages short: a page shorter than the limit does not
 * mean the end (the controller may cut a page to bound its response size),
 * only an empty page does.
 *
 * Every list selects `LIST_FIELDS` only: a container's runtime constraints,
 * image, scheduling parameters and mounts never change, so the queue reads
 * them once, by uuid, when it first sees the container (`details.ts`), and
 * the lists only say what moves: state, priority, lock holder and lock count.
 *
 * Items that are not well-formed records (`validate.ts`) are reported and
 * left out; the ones beside them are used. Paging goes on after the last
 * well-formed uuid of an answer, usable or not, and stops where there is
 * none: a cursor taken from garbage could go anywhere.
 */
import type { ControllerClient, ListParams } from '../arvados/client.js';
import { type PriorityRange, priorityOperand, priorityRange } from '../arvados/priority.js';
import { type Container, isContainerUuid } from '../arvados/types.js';
import type { Logger } from '../log.js';
import type { BadRecordLog } from './validate.js';

/** What the lists need of the controller client. */
export type ListClient = Pick<ControllerClient, 'listContainers'>;

/** Where the lists come from, and where items that cannot be used are reported (`validate.ts`). */
export interface ListSource {
  client: ListClient;
  bad: BadRecordLog;
  /** For the error line of a controller that ignores a filter (`checkByUuid`). */
  logger: Logger;
}

/**
 * The default for the most requests one full list read by uuid makes: pages
 * that never end (a controller that ignores the `uuid >` filter but keeps
 * inventing uuids) fail the poll instead of holding it forever.
 */
export const MAX_PAGES = 1000;

/** A container as the lists return it (`lock_count` may be missing from an answer). */
export type Listed = Pick<Container, 'uuid' | 'state' | 'priority' | 'locked_by_uuid' | 'lock_count'>;

/** The attributes every list selects; never `mounts`. */
export const LIST_FIELDS: readonly string[] = ['uuid', 'state', 'priority', 'locked_by_uuid', 'lock_count'];

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

/** One list answer: the items that can be used, and how to page on. */
export interface Page {
  items: Listed[];
  /** The answer had no items at all: the end of the list. */
  empty: boolean;
  /** The last uuid of the answer, usable or not (the next page starts after it); undefined if none was well formed. */
  lastUuid?: string;
}

async function list(src: ListSource, filters: Filters, order: string | string[], limit: number, where: string): Promise<Page> {
  const raw = (await src.client.listContainers({ filters, select: [...LIST_FIELDS], order, limit })).items as unknown[];
  const items = src.bad.usable(raw, where);
  let lastUuid: string | undefined;
  for (let i = raw.length - 1; i >= 0 && lastUuid === undefined; i--) {
    const u = (raw[i] as { uuid?: unknown } | null)?.uuid;
    if (isContainerUuid(u)) lastUuid = u;
  }
  return { items, empty: raw.length === 0, lastUuid };
}

/**
 * One page of `filters` in uuid order after `after` ('' = from the start).
 * Throws if the controller answers out of order: paging on would never end.
 */
export async function pageByUuid(src: ListSource, filters: Filters, after: string, limit: number): Promise<Page> {
  const page = await list(src, after === '' ? filters : [...filters, ['uuid', '>', after]], 'uuid', limit, 'list');
  let last = after;
  for (const c of page.items) {
    if (last !== '' && c.uuid <= last) throw new Error(`the controller answered out of uuid order (${c.uuid} after ${last})`);
    last = c.uuid;
  }
  if (page.lastUuid !== undefined && after !== '' && page.lastUuid <= after) {
    throw new Error(`the controller answered out of uuid order (${page.lastUuid} after ${after})`);
  }
  return page;
}

/** Every container matching `filters`, in uuid order, paging with `uuid > last` until an empty page (`maxPages` at most). */
export async function readAllByUuid(src: ListSource, filters: Filters, pageSize: number, maxPages = MAX_PAGES): Promise<Listed[]> {
  const out: Listed[] = [];
  let after = '';
  for (let pages = 0; pages < maxPages; pages++) {
    const page = await pageByUuid(src, filters, after, pageSize);
    out.push(...page.items);
    if (page.empty || page.lastUuid === undefined) return out;
    after = page.lastUuid;
  }
  throw new Error(`the controller's list did not end after ${maxPages} pages`);
}

export interface HeadResult {
  /** In priority order (highest first), each container once: the later copy of one read twice wins. */
  items: Listed[];
  /** The whole queued list was read (it ended with an empty page). */
  complete: boolean;
  /** Where reading stopped, when not complete: the last container read. */
  last?: Listed;
}

/** Filters for the containers whose priority reads as one number: `=` while exact, else the range it stands for. */
function samePriority(range: PriorityRange): Filters {
  return range.lo === range.hi
    ? [['priority', '=', priorityOperand(range.lo)]]
    : [
        ['priority', '>=', priorityOperand(range.lo)],
        ['priority', '<=', priorityOperand(range.hi)],
      ];
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
 * A current controller's priorities (about 5.6e17) are not exact here: p
 * stands for a range of integers (`priorityRange`), and the server orders
 * by the integers. The run is then the range, and is read by uuid from its
 * start, since the server's page may have ended in it at any uuid; the
 * containers read twice that way are counted once. The range's bounds go
 * to the server as exact strings (`priorityOperand`).
 *
 * @param isSupervisor what the queue knows of a container; one it has not
 *   seen yet counts as not a supervisor.
 */
export async function readHead(
  src: ListSource,
  pageSize: number,
  maxRequests: number,
  isSupervisor: (uuid: string) => boolean,
): Promise<HeadResult> {
  const byPriority = ['priority desc', 'uuid asc'];
  const out = new Map<string, Listed>();
  let nonSupervisors = 0;
  let requests = 0;
  const read = (filters: Filters, order: string | string[]): Promise<Page> => {
    requests++;
    return list(src, filters, order, pageSize, 'head');
  };
  let last: Listed | undefined;
  /** Set while reading one priority's run by uuid: the run, and the uuid read up to ('' = from its start). */
  let run: { range: PriorityRange; after: string } | undefined;
  let page = await read(QUEUED, byPriority);
  for (;;) {
    if (page.empty) {
      if (run === undefined) return { items: [...out.values()], complete: true };
      // The run is done: on to the priorities below it.
      if (requests >= maxRequests) break;
      page = await read([...QUEUED, ['priority', '<', priorityOperand(run.range.lo)]], byPriority);
      run = undefined;
      continue;
    }
    for (const c of page.items) {
      // A container whose priority changed mid-read can come twice: the later copy wins.
      const seen = out.delete(c.uuid);
      out.set(c.uuid, c);
      if (!seen && !isSupervisor(c.uuid)) nonSupervisors++;
    }
    const lastOfPage = page.items.at(-1);
    // A cursor is only as good as the last usable item: without one (or if it would not move on), stop here.
    if (!lastOfPage) break;
    if (run !== undefined) {
      if (lastOfPage.uuid <= run.after || lastOfPage.priority !== last?.priority) break;
      run.after = lastOfPage.uuid;
    } else {
      if (last !== undefined && !before(last, lastOfPage)) break;
      const range = priorityRange(lastOfPage.priority);
      run = { range, after: range.lo === range.hi ? lastOfPage.uuid : '' };
    }
    last = lastOfPage;
    if (nonSupervisors >= HEAD_TARGET || requests >= maxRequests) break;
    page = await read([...QUEUED, ...samePriority(run.range), ...(run.after === '' ? [] : [['uuid', '>', run.after] as Filters[number]])], 'uuid');
  }
  return { items: [...out.values()], complete: false, last };
}

/** True if `a` comes before `b` in the head's order (priority desc, then uuid). */
export function before(a: Pick<Listed, 'priority' | 'uuid'>, b: Pick<Listed, 'priority' | 'uuid'>): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.uuid < b.uuid);
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
export async function checkByUuid(src: ListSource, uuids: Iterable<string>, batchSize: number, pageSize: number): Promise<CheckResult> {
  const missing = new Set(uuids);
  const found: Listed[] = [];
  const gone: string[] = [];
  while (missing.size > 0) {
    const batch: string[] = [];
    for (const uuid of missing) {
      batch.push(uuid);
      if (batch.length >= batchSize) break;
    }
    const filters: Filters = [['uuid', 'in', batch]];
    const page = await list(src, filters, 'uuid', Math.min(pageSize, batch.length), 'check');
    if (page.empty) {
      for (const uuid of batch) {
        missing.delete(uuid);
        gone.push(uuid);
      }
      continue;
    }
    for (const c of page.items) {
      if (!missing.delete(c.uuid)) {
        // The reference's error line and fields; the poll's 'error updating queue' then carries the error.
        src.logger.error('BUG? server response did not match requested filters, erroring out rather than risk deadlock', { ContainerUUID: c.uuid, Filters: filters });
        throw new Error(`BUG? server response did not match requested filters: the controller answered a "uuid in" query with ${c.uuid}, which was not asked for`);
      }
      found.push(c);
    }
    if (page.items.length === 0) {
      // Nothing usable in the answer: these stay unknown (neither found nor gone) until the next poll.
      for (const uuid of batch) missing.delete(uuid);
    }
  }
  return { found, gone };
}
