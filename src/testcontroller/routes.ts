/**
 * The test controller's routes: the controller calls of ARVADOS.md section
 * 1, each answered from `ContainerStore`'s rules. Authentication, faults and
 * the request log are the request handler's (`handler.ts`).
 */
import { isMap } from '../config/fields.js';
import { ApiError, parseJson } from './http.js';
import { listResponse, parseListParams, parseSelect, present } from './query.js';
import { formatTime } from './record.js';
import type { ContainerStore } from './store.js';
import type { ContainerRequestStore } from './container-requests.js';
import type { TokenRecord, TokenTable } from './tokens.js';

/** The fields the reference's lock and unlock answer with (containers_controller.rb). */
const LOCK_RESPONSE_FIELDS = ['uuid', 'state', 'priority', 'auth_uuid', 'locked_by_uuid'];

/** Attributes an update may name and the API server silently ignores (its `resource_attrs`). */
const IGNORED_IN_UPDATE = ['created_at', 'modified_at', 'modified_by_user_uuid', 'modified_by_client_uuid'];

const API = '/arvados/v1';

/** A matched route: its template (for stats and the request log) and its handler. */
export interface Route {
  template: string;
  uuid?: string;
  handle(ctx: RouteContext): unknown;
}

/** What a handler gets: the authenticated caller's token uuid and the request. */
export interface RouteContext {
  caller: string;
  /** The caller's token (its uuid is `caller`), for the routes that need more than the uuid. */
  token: TokenRecord;
  query: URLSearchParams;
  rawBody: string;
  contentType: string;
}

/** The route for a request, or undefined (404). */
export function findRoute(
  store: ContainerStore,
  clusterId: string,
  method: string,
  path: string,
  requests?: ContainerRequestStore,
  tokens?: TokenTable,
): Route | undefined {
  if (requests && path === `${API}/container_requests` && method === 'GET') {
    return { template: '/arvados/v1/container_requests', handle: (ctx) => requests.list(ctx.query) };
  }
  if (path === `${API}/api_client_authorizations/current` && method === 'GET') {
    return { template: '/arvados/v1/api_client_authorizations/current', handle: (ctx) => current(clusterId, ctx) };
  }
  if (tokens && path === `${API}/api_client_authorizations` && method === 'POST') {
    return { template: '/arvados/v1/api_client_authorizations', handle: (ctx) => createToken(clusterId, tokens, ctx) };
  }
  const t = /^\/arvados\/v1\/api_client_authorizations\/([^/]+)$/.exec(path);
  if (tokens && t && method === 'DELETE') {
    const uuid = decodeURIComponent(t[1]);
    return {
      template: '/arvados/v1/api_client_authorizations/{uuid}',
      uuid,
      handle: () => {
        const gone = tokens.get(uuid);
        if (!gone || !tokens.delete(uuid)) throw new ApiError(404, `api_client_authorization ${uuid} not found`);
        return tokenRecord(clusterId, gone);
      },
    };
  }
  if (path === `${API}/containers` && method === 'GET') {
    return {
      template: '/arvados/v1/containers',
      handle: (ctx) => listResponse(store.scan(), parseListParams(ctx.query), (attr, value) => store.candidates(attr, value)),
    };
  }
  const m = /^\/arvados\/v1\/containers\/([^/]+)(\/lock|\/unlock)?$/.exec(path);
  if (!m) return undefined;
  let uuid: string;
  try {
    uuid = decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
  const action = m[2];
  if (!action && method === 'GET') {
    return { template: '/arvados/v1/containers/{uuid}', uuid, handle: (ctx) => show(store, uuid, ctx) };
  }
  if (!action && (method === 'PUT' || method === 'PATCH')) {
    return { template: '/arvados/v1/containers/{uuid}', uuid, handle: (ctx) => update(store, uuid, ctx) };
  }
  if (action && method === 'POST') {
    const lock = action === '/lock';
    return {
      template: `/arvados/v1/containers/{uuid}${action}`,
      uuid,
      handle: (ctx) => {
        const c = lock ? store.lock(uuid, ctx.caller) : store.unlock(uuid, ctx.caller);
        // The API server answers these fields whatever is selected, and the
        // controller in front of it then keeps only those the client selected
        // (if it selected any): the answer is the client's select, or these.
        return present(c, parseSelect(ctx.query.get('select')) ?? LOCK_RESPONSE_FIELDS);
      },
    };
  }
  return undefined;
}

function current(clusterId: string, ctx: RouteContext): unknown {
  return tokenRecord(clusterId, ctx.token);
}

/** A token as the API server shows it (without its secret). */
function tokenRecord(clusterId: string, t: TokenRecord): Record<string, unknown> {
  return {
    kind: 'arvados#apiClientAuthorization',
    uuid: t.uuid,
    owner_uuid: `${clusterId}-tpzed-000000000000000`,
    scopes: t.scopes,
    expires_at: t.expiresAt === undefined ? null : formatTime(t.expiresAt),
    created_at: formatTime(t.createdAt),
  };
}

/**
 * `POST /arvados/v1/api_client_authorizations` with
 * `{"api_client_authorization": {"scopes": [...], "expires_at": "..."}}`
 * (JSON, or the Go SDK's form with that value as JSON): a new token of the
 * caller's user, answered with its secret as `api_token`.
 */
function createToken(clusterId: string, tokens: TokenTable, ctx: RouteContext): unknown {
  const attrs = bodyAttributes(ctx, 'api_client_authorization') ?? {};
  if (!isMap(attrs)) throw new ApiError(422, "'api_client_authorization' must be an object of attributes");
  const scopes = attrs.scopes ?? ['all'];
  if (!Array.isArray(scopes) || !scopes.every((x) => typeof x === 'string')) throw new ApiError(422, 'scopes must be an array of strings');
  let expiresAt: number | undefined;
  if (attrs.expires_at !== undefined && attrs.expires_at !== null) {
    expiresAt = typeof attrs.expires_at === 'string' ? Date.parse(attrs.expires_at) : NaN;
    if (!Number.isFinite(expiresAt)) throw new ApiError(422, `expires_at ${JSON.stringify(attrs.expires_at)} is not a time`);
  }
  const made = tokens.create(scopes as string[], expiresAt);
  return { ...tokenRecord(clusterId, made), api_token: made.secret };
}

function show(store: ContainerStore, uuid: string, ctx: RouteContext): unknown {
  const c = store.peek(uuid);
  if (!c) throw new ApiError(404, `container ${uuid} not found`);
  return present(c, parseSelect(ctx.query.get('select')));
}

function update(store: ContainerStore, uuid: string, ctx: RouteContext): unknown {
  if (!store.peek(uuid)) throw new ApiError(404, `container ${uuid} not found`);
  const attrs = bodyAttributes(ctx, 'container');
  if (!isMap(attrs)) throw new ApiError(422, "the body needs a 'container' object of attributes to update");
  // The API server drops these from any update without a word.
  for (const k of IGNORED_IN_UPDATE) delete attrs[k];
  const c = store.update(uuid, attrs, ctx.caller);
  return present(c, parseSelect(ctx.query.get('select')));
}

/**
 * The `name` parameter of a create or update: `{"name": {...}}` in a JSON
 * body, or the Go SDK's form, where each parameter's value is JSON.
 * Undefined when absent.
 */
function bodyAttributes(ctx: RouteContext, name: string): unknown {
  if (ctx.contentType.includes('application/x-www-form-urlencoded')) {
    const raw = new URLSearchParams(ctx.rawBody).get(name);
    return raw === null ? undefined : parseJson(raw, `the '${name}' parameter`);
  }
  const body = ctx.rawBody.trim() === '' ? {} : parseJson(ctx.rawBody, 'the request body');
  return isMap(body) ? body[name] : undefined;
}
