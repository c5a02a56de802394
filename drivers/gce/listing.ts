/**
 * Reading the project's instances with aggregatedList, and deciding whether
 * an answer that left zones out may stand for "every instance of ours".
 *
 * aggregatedList covers every zone of every region of the project, not only
 * the configured ones. Without `returnPartialSuccess` one zone Google cannot
 * reach fails the whole call ("To prevent failure, Google recommends that you
 * set the returnPartialSuccess parameter to true", instances.aggregatedList
 * reference), so a zone the cluster never uses could stop every listing. With
 * it, such a zone's scope comes back without instances and with an
 * UNREACHABLE warning, and the page's `unreachables` names it: read as "no
 * instances there", it would make the pool forget the workers in that zone.
 * So the driver asks for partial success, and `unreachableVerdict` says
 * whether what is missing could hold instances of ours.
 */
import type { InstancesClient, protos } from '@google-cloud/compute';
import { regionOf } from './body.js';

type AggregatedList = protos.google.cloud.compute.v1.IInstanceAggregatedList;
type ScopedList = protos.google.cloud.compute.v1.IInstancesScopedList;
type InstanceRecord = protos.google.cloud.compute.v1.IInstance;

/** The scope warning GCE puts on a zone with nothing matching on this page: the zone answered. */
const NO_RESULTS = 'NO_RESULTS_ON_PAGE';

/** What every page of one listing said, put together. */
export interface AggregatedListing {
  /** Every instance record of every page. */
  records: InstanceRecord[];
  /** How many scopes (zones) the pages named, unreachable ones included. */
  scopes: number;
  /**
   * What did not answer: the pages' `unreachables`, and every scope with a
   * warning other than NO_RESULTS_ON_PAGE (UNREACHABLE, or one not known to
   * mean "complete"), each once.
   */
  unreachable: string[];
  /** The warning code of each scope in `unreachable` that carried one (UNREACHABLE, or another), for the error that names it. */
  warnings: Record<string, string>;
}

/**
 * One page, raw. The generated client (6.x) has only `aggregatedListAsync`
 * for this call, and its iterator yields the scopes alone: the page's
 * `unreachables` and `nextPageToken` are in the raw response, which the
 * paged call the iterator is built on gives without auto-pagination.
 */
async function page(client: InstancesClient, request: protos.google.cloud.compute.v1.IAggregatedListInstancesRequest, signal: AbortSignal): Promise<AggregatedList> {
  await client.initialize();
  const call = client.innerApiCalls.aggregatedList as (req: unknown, opts: unknown) => Promise<[unknown, unknown, AggregatedList | undefined]> & { cancel?: () => void };
  const pending = call(request, {
    autoPaginate: false,
    otherArgs: { headers: { 'x-goog-request-params': `project=${encodeURIComponent(request.project ?? '')}` } },
  });
  const cancel = (): void => pending.cancel?.();
  signal.addEventListener('abort', cancel, { once: true });
  try {
    const [, , raw] = await pending;
    if (typeof raw !== 'object' || raw === null) throw new Error('gce: aggregatedList: the answer is not a list');
    return raw;
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}

/**
 * Every page of aggregatedList for `filter`, with partial success: the
 * records, and the scopes that did not answer. `signal` aborts when the
 * attempt has timed out, so pages that never end stop being asked for.
 */
export async function listAggregated(client: InstancesClient, project: string, filter: string, signal: AbortSignal): Promise<AggregatedListing> {
  const records: InstanceRecord[] = [];
  const unreachable = new Set<string>();
  const warnings: Record<string, string> = {};
  let scopes = 0;
  let pageToken: string | undefined;
  const seenTokens = new Set<string>();
  do {
    const raw = await page(client, { project, filter, returnPartialSuccess: true, ...(pageToken ? { pageToken } : {}) }, signal);
    signal.throwIfAborted();
    for (const [scope, scoped] of Object.entries(raw.items ?? {}) as Array<[string, ScopedList | null]>) {
      if (!scope.startsWith('zones/') || typeof scoped !== 'object' || scoped === null) {
        throw new Error(`gce: aggregatedList: the answer is not a list by zone (it has ${JSON.stringify(scope).slice(0, 40)})`);
      }
      scopes++;
      const code = scoped.warning?.code;
      if (code !== undefined && code !== null && String(code) !== NO_RESULTS) {
        unreachable.add(scope);
        warnings[scope] = String(code);
      }
      for (const rec of scoped.instances ?? []) {
        if (!rec.name) throw new Error('gce: aggregatedList: the answer lists an instance without a name');
        records.push(rec);
      }
    }
    for (const u of raw.unreachables ?? []) unreachable.add(u);
    pageToken = raw.nextPageToken || undefined;
    // A token that comes back again would page forever (a proxy's cached page).
    if (pageToken !== undefined) {
      if (seenTokens.has(pageToken)) throw new Error('gce: aggregatedList: the same nextPageToken came back twice');
      seenTokens.add(pageToken);
    }
  } while (pageToken !== undefined);
  return { records, scopes, unreachable: [...unreachable].sort(), warnings };
}

/**
 * The zone (`us-central1-a`) or region (`us-central1`) an unreachable entry
 * names, whichever form GCE uses: `zones/Z` (a scope), a service-relative
 * `projects/P/zones/Z`, or a URL ending so. Undefined for anything else.
 */
export function placeOf(entry: string): { zone: string } | { region: string } | undefined {
  const m = /(?:^|\/)(zones|regions)\/([a-z0-9-]+)\/?$/.exec(entry);
  if (!m) return undefined;
  return m[1] === 'zones' ? { zone: m[2] } : { region: m[2] };
}

/** What to do with a listing some places did not answer. */
export interface UnreachableVerdict {
  /** Zones (or entries) that did not answer and may hold instances of ours: the listing must fail. Empty when it may stand. */
  blocking: string[];
  /** Every zone (or entry) that did not answer, for the warning when the listing stands. */
  all: string[];
}

/**
 * Whether a listing may stand although `unreachable` did not answer: not if
 * one of them is a configured zone (`zones`), a zone where the previous
 * listing found instances of ours (`heldOurs`: a zone taken out of `Zone`
 * may still have workers), the region of one of those, or an entry that
 * names no zone or region we can tell.
 */
export function unreachableVerdict(unreachable: readonly string[], zones: readonly string[], heldOurs: ReadonlySet<string>): UnreachableVerdict {
  const ours = new Set([...zones, ...heldOurs]);
  const blocking = new Set<string>();
  const all = new Set<string>();
  for (const entry of unreachable) {
    const place = placeOf(entry);
    if (place === undefined) {
      blocking.add(entry);
      all.add(entry);
    } else if ('zone' in place) {
      all.add(place.zone);
      if (ours.has(place.zone)) blocking.add(place.zone);
    } else {
      all.add(`regions/${place.region}`);
      for (const z of ours) if (regionOf(z) === place.region) blocking.add(z);
    }
  }
  return { blocking: [...blocking].sort(), all: [...all].sort() };
}
