/**
 * What the queue reads once per container, when it first sees it: the
 * attributes that never change (constraints, image, scheduling parameters,
 * creation time) and `mounts`, whose `tmp` capacities size the scratch disk
 * in the instance-type choice. As the reference, mounts are fetched by
 * `GET /arvados/v1/containers/{uuid}` one container at a time, never in a
 * list: JSON mounts can carry a whole CWL input document, and they are
 * expensive for the controller to produce.
 *
 * Until that read succeeds the container is not scheduled (the queue does
 * not hand it out); a failed read is tried again on the next poll. Mounts
 * the reference could not decode (a `capacity` that is not an integer, a
 * `kind` that is not a string, ...) make the container unsatisfiable, as
 * there.
 */
import type { ControllerClient } from '../arvados/client.js';
import { findControllerError } from '../arvados/errors.js';
import { mountMisfit, type MountGoType } from '../arvados/mount-fit.js';
import type { Container } from '../arvados/types.js';
import { detailsProblem, lockCountOf, type RecordProblem } from './validate.js';

/** What a details read needs of the controller client. */
export type DetailsClient = Pick<ControllerClient, 'getContainer'>;

/** The attributes a details read selects. */
export const DETAIL_FIELDS: readonly string[] = [
  'uuid',
  'state',
  'priority',
  'locked_by_uuid',
  'lock_count',
  'runtime_constraints',
  'container_image',
  'scheduling_parameters',
  'created_at',
  'mounts',
];

/** Record attributes the queue keeps: the details, less the mounts (big, and only used to size scratch). */
const KEPT_FIELDS: readonly string[] = DETAIL_FIELDS.filter((f) => f !== 'mounts');

/** A copy of `c` with only the attributes the queue keeps (no mounts, no `kind`). */
export function kept(c: Partial<Container>): Partial<Container> {
  const out: Record<string, unknown> = {};
  for (const f of KEPT_FIELDS) {
    const v = (c as Record<string, unknown>)[f];
    // A bad lock_count is left out (the lists say so: `BadRecordLog.lockCount`).
    if (v !== undefined && (f !== 'lock_count' || lockCountOf(v) !== undefined)) out[f] = v;
  }
  return out as Partial<Container>;
}

export type Details =
  | { outcome: 'ok'; container: Container }
  /** The controller has no such container. */
  | { outcome: 'gone' }
  /** The record's mounts are not what Arvados allows: the container cannot be run. */
  | { outcome: 'malformed'; reason: string }
  /** The answer is not a usable record of this container (a field of the wrong type, ...): read again on the next poll. */
  | { outcome: 'invalid'; problem: RecordProblem }
  | { outcome: 'failed'; error: Error };

/** How `mountsProblem` names each Go type a mount field must have. */
const WANTED: Record<MountGoType, string> = { string: 'a string', bool: 'a boolean', int64: 'an integer' };

/** The text of the controller's 500 for a record it cannot decode (Go's encoding/json error). */
const UNDECODABLE = 'json: cannot unmarshal';

/** What is wrong with a `mounts` value, or undefined if it is well formed. */
export function mountsProblem(mounts: unknown): string | undefined {
  const misfit = mountMisfit(mounts);
  if (misfit === undefined) return undefined;
  if (misfit.at === 'mounts') return 'mounts is not a JSON object';
  if (misfit.at === 'mount') return `mount ${JSON.stringify(misfit.path)} is not a JSON object`;
  return `mount ${JSON.stringify(misfit.path)}: ${misfit.field} must be ${WANTED[misfit.type]}, not ${JSON.stringify(misfit.value)}`;
}

/** Reads one container's details. Never throws: the outcome says what happened. */
export async function readDetails(client: DetailsClient, uuid: string): Promise<Details> {
  let container: Container;
  try {
    container = await client.getContainer(uuid, [...DETAIL_FIELDS]);
  } catch (err) {
    const ce = findControllerError(err);
    if (ce?.status === 404) return { outcome: 'gone' };
    // The controller could not decode the record into its Go type (an old
    // record's mounts, Arvados issue 21314): it will never read, so the
    // container is cancelled as unsatisfiable, as by the reference.
    const undecodable = ce?.errors.find((e) => e.includes(UNDECODABLE));
    if (undecodable !== undefined) return { outcome: 'malformed', reason: `error getting mounts from container record: ${undecodable}` };
    return { outcome: 'failed', error: err as Error };
  }
  const invalid = detailsProblem(container, uuid);
  if (invalid) return { outcome: 'invalid', problem: invalid };
  const problem = mountsProblem((container as { mounts?: unknown }).mounts);
  if (problem !== undefined) return { outcome: 'malformed', reason: `error getting mounts from container record: ${problem}` };
  return { outcome: 'ok', container };
}

/**
 * Reads the details of `uuids`, at most `concurrency` at a time (the
 * controller's cost is the bound, not ours), in the order given. After a
 * read fails in a way that may pass (network, timeout, 5xx: the client has
 * already retried it for a while), no more are started: the rest would
 * only pile up retries on a controller in trouble, and the poll would not
 * end. Those left out have no entry in the result; the next poll reads them.
 */
export async function readAllDetails(client: DetailsClient, uuids: readonly string[], concurrency: number): Promise<Map<string, Details>> {
  const out = new Map<string, Details>();
  let next = 0;
  let trouble = false;
  const worker = async (): Promise<void> => {
    while (!trouble && next < uuids.length) {
      const uuid = uuids[next++];
      const d = await readDetails(client, uuid);
      out.set(uuid, d);
      if (d.outcome === 'failed' && (findControllerError(d.error)?.temporary ?? true)) trouble = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, uuids.length) }, worker));
  return out;
}
