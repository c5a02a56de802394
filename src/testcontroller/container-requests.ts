/**
 * The test controller's container requests: only what a dispatcher reads of
 * them, which request ran which container and which container (a workflow
 * runner) made the request. `GET /arvados/v1/container_requests` answers
 * filters on `container_uuid` (`=`, `in`) and `requesting_container_uuid`
 * (`=`), with `select` and `limit`, as the API server does for those.
 */
import { ApiError } from './http.js';

/** A container request as served: the attributes the dispatcher may read. */
export interface ControllerContainerRequest {
  uuid: string;
  container_uuid: string;
  /** The container whose process made this request; null for a top-level one. */
  requesting_container_uuid: string | null;
}

const ATTRIBUTES: ReadonlySet<string> = new Set(['uuid', 'container_uuid', 'requesting_container_uuid']);
const MAX_LIMIT = 1000;

export class ContainerRequestTable {
  private readonly byContainer = new Map<string, ControllerContainerRequest[]>();
  private seq = 0;

  constructor(private readonly clusterId: string) {}

  /** Records a request for `container_uuid` (made by `requesting_container_uuid`, if any). */
  add(container_uuid: string, requesting_container_uuid: string | null = null): ControllerContainerRequest {
    const cr = { uuid: `${this.clusterId}-xvhdp-${String(++this.seq).padStart(15, '0')}`, container_uuid, requesting_container_uuid };
    const list = this.byContainer.get(container_uuid) ?? [];
    list.push(cr);
    this.byContainer.set(container_uuid, list);
    return cr;
  }

  /** The list endpoint's answer for these query parameters; ApiError (422) for what it does not support. */
  list(query: URLSearchParams): Record<string, unknown> {
    const filters = parseJson(query.get('filters') ?? '[]', 'filters');
    if (!Array.isArray(filters)) throw new ApiError(422, 'filters must be a JSON array');
    let hits: ControllerContainerRequest[] | undefined;
    const keep: Array<(cr: ControllerContainerRequest) => boolean> = [];
    for (const f of filters as unknown[]) {
      if (!Array.isArray(f) || f.length !== 3) throw new ApiError(422, `Invalid filter ${JSON.stringify(f)}`);
      const [attr, op, operand] = f as [unknown, unknown, unknown];
      if (attr === 'container_uuid' && (op === '=' || op === 'in')) {
        const uuids = op === 'in' ? operand : [operand];
        if (!Array.isArray(uuids)) throw new ApiError(422, `Invalid operand for in: ${JSON.stringify(operand)}`);
        hits = uuids.flatMap((u) => this.byContainer.get(String(u)) ?? []);
      } else if (attr === 'requesting_container_uuid' && op === '=') {
        keep.push((cr) => cr.requesting_container_uuid === operand);
      } else {
        throw new ApiError(422, `filter ${JSON.stringify(f)} is not supported by the test controller`);
      }
    }
    let items = (hits ?? [...this.byContainer.values()].flat()).filter((cr) => keep.every((k) => k(cr)));
    const limit = Math.min(Number(query.get('limit') ?? 100), MAX_LIMIT);
    items = items.slice(0, Number.isFinite(limit) && limit >= 0 ? limit : 100);
    const select = parseJson(query.get('select') ?? 'null', 'select');
    if (select !== null) {
      if (!Array.isArray(select) || !select.every((a) => typeof a === 'string' && ATTRIBUTES.has(a))) {
        throw new ApiError(422, `Invalid select ${JSON.stringify(select)}`);
      }
      items = items.map((cr) => Object.fromEntries(select.map((a: string) => [a, cr[a as keyof ControllerContainerRequest]])) as unknown as ControllerContainerRequest);
    }
    return { kind: 'arvados#containerRequestList', etag: '', self_link: '', offset: 0, limit, items };
  }
}

function parseJson(raw: string, name: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    throw new ApiError(422, `could not parse ${name} parameter as JSON: ${(err as Error).message}`);
  }
}
