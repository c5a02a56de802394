/**
 * One poll of the controller's container table, in the three phases of the
 * reference (lib/dispatchcloud/container/queue.go):
 *
 * 1. containers locked by our token, by uuid, paging with `uuid > last`;
 * 2. containers `Queued` with `priority > 0`, highest priority first;
 * 3. every container the queue still tracks (not final) that neither list
 *    returned, by `uuid in [...]` in batches: this is how a priority drop to
 *    0, a cancellation, or a finished container is seen.
 *
 * Every list is read to the end: a page shorter than the limit does not mean
 * the end (the controller may cut a page to bound its response size), only an
 * empty page does.
 */
import type { Container } from '../arvados/types.js';
import type { ControllerClient, ListParams } from '../arvados/client.js';

/** What a poll needs of the controller client. */
export type ListClient = Pick<ControllerClient, 'listContainers'>;

/**
 * The attributes the queue reads. `mounts` is needed to size scratch when a
 * container is first seen; the queue does not keep it.
 */
export const SELECT_FIELDS = [
  'uuid',
  'state',
  'priority',
  'runtime_constraints',
  'container_image',
  'scheduling_parameters',
  'created_at',
  'lock_count',
  'locked_by_uuid',
  'mounts',
  'runtime_status',
] as const;

export interface PollOptions {
  /** Items asked for per list request (the controller caps it, at 1000 by default). */
  pageSize: number;
  /** Uuids per `uuid in [...]` request in phase 3. */
  batchSize: number;
}

export interface PollResult {
  /** Every container the three phases returned, by uuid. */
  containers: Map<string, Container>;
  /** Tracked containers the controller no longer has (deleted). */
  notFound: string[];
}

type Filters = ListParams['filters'];

/**
 * Polls the three phases. `tracked` is called after phases 1 and 2 and
 * gives the uuids the queue holds in a non-final state.
 */
export async function pollContainers(
  client: ListClient,
  tokenUuid: string,
  tracked: () => Iterable<string>,
  opts: PollOptions,
): Promise<PollResult> {
  const containers = new Map<string, Container>();
  const add = (items: Container[]): void => {
    for (const c of items) containers.set(c.uuid, c);
  };
  add(await fetchByUuid(client, [['locked_by_uuid', '=', tokenUuid]], opts.pageSize));
  add(await fetchQueued(client, opts.pageSize));
  const notFound: string[] = [];
  const missing = new Set<string>();
  for (const uuid of tracked()) if (!containers.has(uuid)) missing.add(uuid);
  while (missing.size > 0) {
    const batch: string[] = [];
    for (const uuid of missing) {
      batch.push(uuid);
      if (batch.length >= opts.batchSize) break;
    }
    const found = await fetchByUuid(client, [['uuid', 'in', batch]], opts.pageSize);
    if (found.length === 0) {
      // Only an empty answer proves a container is gone; leftovers of a
      // partial answer are asked about again in a later batch.
      for (const uuid of batch) {
        missing.delete(uuid);
        notFound.push(uuid);
      }
      continue;
    }
    for (const c of found) {
      if (!missing.has(c.uuid)) {
        // Going on could loop forever on a server that ignores the filter.
        throw new Error(`the controller answered a "uuid in" query with ${c.uuid}, which was not asked for`);
      }
      missing.delete(c.uuid);
      containers.set(c.uuid, c);
    }
  }
  return { containers, notFound };
}

/** Every container matching `filters`, in uuid order, paging with `uuid > last`. */
async function fetchByUuid(client: ListClient, filters: Filters, pageSize: number): Promise<Container[]> {
  const out: Container[] = [];
  let last: string | undefined;
  for (;;) {
    const page = await client.listContainers({
      filters: last === undefined ? filters : [...filters, ['uuid', '>', last]],
      select: [...SELECT_FIELDS],
      order: 'uuid',
      limit: pageSize,
    });
    if (page.items.length === 0) return out;
    for (const c of page.items) {
      // Ascending and past the cursor, or paging would never end.
      if (last !== undefined && c.uuid <= last) throw new Error(`the controller answered out of uuid order (${c.uuid} after ${last})`);
      out.push(c);
      last = c.uuid;
    }
  }
}

/**
 * Queued containers with priority > 0, highest priority first, paged by a
 * (priority, uuid) cursor rather than by offset: with offsets, every
 * container that leaves the list mid-poll (locked by someone, cancelled)
 * shifts the rest and one of them goes unseen, and one whose priority rises
 * is seen twice. Filters cannot say "(priority < p) or (priority = p and
 * uuid > u)", so the cursor first finishes the run of priority p by uuid,
 * then moves on to priorities below p.
 */
async function fetchQueued(client: ListClient, pageSize: number): Promise<Container[]> {
  const base: Filters = [
    ['state', '=', 'Queued'],
    ['priority', '>', 0],
  ];
  const list = (filters: Filters, order: string | string[]) =>
    client.listContainers({ filters, select: [...SELECT_FIELDS], order, limit: pageSize });
  const byPriority = ['priority desc', 'uuid asc'];
  const out = new Map<string, Container>();
  let cursor: { priority: number; uuid: string } | undefined;
  for (;;) {
    let page: Container[];
    if (!cursor) {
      page = (await list(base, byPriority)).items;
    } else {
      page = (await list([...base, ['priority', '=', cursor.priority], ['uuid', '>', cursor.uuid]], 'uuid')).items;
      if (page.length === 0) page = (await list([...base, ['priority', '<', cursor.priority]], byPriority)).items;
    }
    if (page.length === 0) break;
    // A container whose priority changed mid-poll can come twice: the later copy wins.
    for (const c of page) out.set(c.uuid, c);
    const last = page[page.length - 1];
    cursor = { priority: last.priority, uuid: last.uuid };
  }
  return [...out.values()];
}
