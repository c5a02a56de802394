/** The parameters of the controller's list calls, and the query string they become. */

/** Parameters of a list call (`GET /arvados/v1/containers`, `/container_requests`). */
export interface ListParams {
  filters: Array<[string, string, unknown]>;
  select?: string[];
  /** `"uuid"`, `"priority desc"`, or several terms. */
  order?: string | string[];
  limit?: number;
  offset?: number;
}

/** The query of a list call, with `count=none` (the controller then skips counting the matches). */
export function listQuery(params: ListParams): Record<string, string> {
  const query: Record<string, string> = { filters: JSON.stringify(params.filters), count: 'none' };
  if (params.select) query.select = JSON.stringify(params.select);
  if (params.order !== undefined) query.order = typeof params.order === 'string' ? params.order : JSON.stringify(params.order);
  if (params.limit !== undefined) query.limit = String(params.limit);
  if (params.offset !== undefined) query.offset = String(params.offset);
  return query;
}
