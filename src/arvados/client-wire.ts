/**
 * How the controller client's calls look on the wire: the URL, headers and
 * body of an attempt, and what is read back from an answer. `client.ts`
 * decides when to send them.
 */
import type { RawResponse } from './http.js';
import { ControllerError } from './errors.js';

const API = '/arvados/v1';

/** Paths of container calls: the only ones the fence guards (lock, unlock, update). */
export const CONTAINERS = `${API}/containers/`;

/**
 * A GET whose encoded parameters reach this many bytes travels as a POST
 * with `X-Http-Method-Override: GET` and the parameters as a form body: the
 * Go SDK's rule (it keeps them in the query string only while they are
 * shorter). So the `uuid in [...]` checks and container_requests lookups
 * (100 uuids, about 3.7 KB) go as the reference's do: no long query string
 * in the controller's and nginx's access logs, and nothing for a proxy that
 * limits URL length to refuse.
 */
const MAX_QUERY_BYTES = 1000;

/** A token's uuid: cluster id, the api_client_authorizations infix, 15 characters. */
export const TOKEN_UUID = /^[0-9a-z]{5}-gj3su-[0-9a-z]{15}$/;

export interface CallOptions {
  query?: Record<string, string>;
  body?: unknown;
  /** The call may be sent again after an attempt that got no usable answer. */
  retry: boolean;
  /** Sent instead of the client's own token (to ask about another token). */
  token?: string;
}

/** What every attempt carries besides the call itself. */
export interface WireSettings {
  /** Scheme, host and port of the controller. */
  base: string;
  token: string;
  userAgent: string;
  /** Default `MAX_QUERY_BYTES`. */
  maxQueryBytes?: number;
}

/** The URL, headers and body of one attempt. */
export function prepareRequest(w: WireSettings, method: string, path: string, o: CallOptions, requestId: string): { method: string; url: URL; headers: Record<string, string>; body?: string } {
  const headers: Record<string, string> = {
    Authorization: `Bearer ${o.token ?? w.token}`,
    Accept: 'application/json',
    'User-Agent': w.userAgent,
    'X-Request-Id': requestId,
  };
  // Percent-encoded, so its length in characters is its length in bytes.
  const query = new URLSearchParams(o.query ?? {}).toString();
  const url = new URL(`${w.base}${path}${query ? `?${query}` : ''}`);
  if (method === 'GET' && query !== '' && query.length >= (w.maxQueryBytes ?? MAX_QUERY_BYTES)) {
    headers['X-Http-Method-Override'] = 'GET';
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    return { method: 'POST', url: new URL(`${w.base}${path}`), headers, body: query };
  }
  if (o.body === undefined) return { method, url, headers };
  headers['Content-Type'] = 'application/json';
  return { method, url, headers, body: JSON.stringify(o.body) };
}

/** What a changing call does, for the fence's record: `lock`, `unlock` or `update`, and of which container. */
export function fencedAction(method: string, path: string): { Action: string; ContainerUUID?: string } {
  const m = /\/containers\/([^/]+)(?:\/(lock|unlock))?$/.exec(path);
  const action = m?.[2] ?? (method === 'PUT' ? 'update' : method.toLowerCase());
  return m ? { Action: action, ContainerUUID: decodeURIComponent(m[1]) } : { Action: action };
}

export function containerPath(uuid: string): string {
  return `${API}/containers/${encodeURIComponent(uuid)}`;
}

export function parseBody(method: string, path: string, res: RawResponse, attempts: number, requestId: string): unknown {
  try {
    return JSON.parse(res.text) as unknown;
  } catch {
    throw new ControllerError({ method, path, status: res.status, errors: ['malformed JSON in the response'], attempts, temporary: false, requestId });
  }
}

/** The controller's `{"errors":[...]}`, else the start of whatever it sent. */
export function errorsOf(res: RawResponse): string[] {
  try {
    const body = JSON.parse(res.text) as { errors?: unknown };
    if (Array.isArray(body.errors) && body.errors.length > 0) return body.errors.map((e) => String(e));
  } catch {
    // Not JSON: a proxy's HTML error page, say.
  }
  const text = res.text.trim().slice(0, 300);
  return [text === '' ? 'no error message' : text];
}
