/**
 * Container requests in the test controller, as little of them as the
 * dispatcher's fair share reads (`src/placement/owners.ts`): who owns each,
 * its container, and the container that made it. Requests are added from
 * the test side (the simulator adds one per container it submits) and
 * listed by `GET /arvados/v1/container_requests` with filters on
 * `container_uuid` or `requesting_container_uuid` (`=` and `in`), `select`,
 * `limit` and `offset`, in uuid order. Nothing else about them is modelled:
 * they do not drive their containers.
 */
import { ApiError } from './http.js';
import { DEFAULT_LIMIT, type Filter, MAX_LIMIT, matches, parseCount, parseFilters, parseSelect } from './query.js';

export const CONTAINER_REQUEST_KIND = 'arvados#containerRequest';

export interface ControllerContainerRequest {
  uuid: string;
  owner_uuid: string;
  container_uuid: string | null;
  requesting_container_uuid: string | null;
  modified_by_user_uuid: string | null;
  priority: number;
  state: 'Uncommitted' | 'Committed' | 'Final';
}

export type ContainerRequestSeed = Partial<Omit<ControllerContainerRequest, 'uuid'>>;

const ATTRIBUTES = new Set(['uuid', 'owner_uuid', 'container_uuid', 'requesting_container_uuid', 'modified_by_user_uuid', 'priority', 'state']);
const FILTERABLE = new Set(['container_uuid', 'requesting_container_uuid']);

export class ContainerRequestStore {
  private readonly byUuid = new Map<string, ControllerContainerRequest>();
  private readonly byContainer = new Map<string, ControllerContainerRequest[]>();
  private seq = 0;

  constructor(private readonly clusterId: string) {}

  /** Adds a request: owned by the cluster's admin user, Committed, priority 1, unless the seed says otherwise. */
  add(seed: ContainerRequestSeed = {}): ControllerContainerRequest {
    const uuid = `${this.clusterId}-xvhdp-${String(++this.seq).padStart(15, '0')}`;
    const owner = seed.owner_uuid ?? `${this.clusterId}-tpzed-000000000000000`;
    const cr: ControllerContainerRequest = {
      uuid,
      owner_uuid: owner,
      container_uuid: seed.container_uuid ?? null,
      requesting_container_uuid: seed.requesting_container_uuid ?? null,
      modified_by_user_uuid: seed.modified_by_user_uuid ?? (owner.includes('-tpzed-') ? owner : null),
      priority: seed.priority ?? 1,
      state: seed.state ?? 'Committed',
    };
    this.byUuid.set(uuid, cr);
    if (cr.container_uuid !== null) {
      const list = this.byContainer.get(cr.container_uuid) ?? [];
      list.push(cr);
      this.byContainer.set(cr.container_uuid, list);
    }
    return { ...cr };
  }

  /**
   * The controller's retry of a cancelled container: the request now names
   * `containerUuid`, and a lookup by the old container finds it no more.
   */
  retarget(uuid: string, containerUuid: string): void {
    const cr = this.byUuid.get(uuid);
    if (!cr) throw new Error(`no container request ${uuid}`);
    if (cr.container_uuid !== null) {
      const rest = (this.byContainer.get(cr.container_uuid) ?? []).filter((r) => r !== cr);
      if (rest.length > 0) this.byContainer.set(cr.container_uuid, rest);
      else this.byContainer.delete(cr.container_uuid);
    }
    cr.container_uuid = containerUuid;
    const list = this.byContainer.get(containerUuid) ?? [];
    list.push(cr);
    this.byContainer.set(containerUuid, list);
  }

  all(): ControllerContainerRequest[] {
    return [...this.byUuid.values()].map((cr) => ({ ...cr }));
  }

  /** The list response for `GET /arvados/v1/container_requests`. */
  list(q: URLSearchParams): Record<string, unknown> {
    const filters = parseFilters(q.get('filters'), FILTERABLE);
    const select = parseSelect(q.get('select'), ATTRIBUTES);
    const order = q.get('order');
    if (order !== null && !/^\s*(\["uuid( asc)?"\]|uuid( asc)?)\s*$/.test(order)) throw new ApiError(422, `Invalid order ${JSON.stringify(order)}: only uuid order is served here`);
    const limit = Math.min(parseCount(q.get('limit'), 'limit', DEFAULT_LIMIT), MAX_LIMIT);
    const offset = parseCount(q.get('offset'), 'offset', 0);
    const byContainer = filters.find((f) => f.attr === 'container_uuid' && (f.op === '=' || f.op === 'in'));
    let candidates: Iterable<ControllerContainerRequest> = this.byUuid.values();
    // `= null` (IS NULL) is served by the scan; a uuid named twice finds its requests once.
    if (byContainer && byContainer.operand !== null) {
      const wanted = new Set(Array.isArray(byContainer.operand) ? byContainer.operand : [byContainer.operand]);
      candidates = [...wanted].flatMap((c) => (typeof c === 'string' ? (this.byContainer.get(c) ?? []) : []));
    }
    const hits = [...candidates].filter((cr) => filters.every((f) => matchesRequest(cr, f))).sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
    const items = hits.slice(offset, offset + limit).map((cr) => present(cr, select));
    const body: Record<string, unknown> = { kind: 'arvados#containerRequestList', etag: '', self_link: '', offset, limit, items };
    if ((q.get('count') ?? 'exact') !== 'none') body.items_available = hits.length;
    return body;
  }
}

/** `matches`, for the operators served here: the dispatcher asks for = and in only. */
function matchesRequest(cr: ControllerContainerRequest, f: Filter): boolean {
  if (f.op !== 'in' && f.op !== '=') throw new ApiError(422, `Invalid operator '${f.op}' for ${f.attr}: only = and in are served here`);
  return matches(cr, f);
}

function present(cr: ControllerContainerRequest, select?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: CONTAINER_REQUEST_KIND };
  for (const [k, v] of Object.entries(cr)) if (!select || select.includes(k)) out[k] = v;
  return out;
}
