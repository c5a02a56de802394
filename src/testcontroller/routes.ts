/**
 * The test controller's routes: the controller calls of ARVADOS.md section
 * 1, each answered from `ContainerStore`'s rules. Authentication, faults and
 * the request log are the server's (`server.ts`).
 */
import { isMap } from '../config/fields.js';
import { ApiError, parseJson } from './http.js';
import { listResponse, parseListParams, parseSelect, present } from './query.js';
import { formatTime } from './record.js';
import type { ContainerStore } from './store.js';
import type { ContainerRequestStore } from './container-requests.js';

/** The fields the reference's lock and unlock answer with (containers_controller.rb). */
const LOCK_RESPONSE_FIELDS = ['uuid', 'state', 'priority', 'auth_uuid', 'locked_by_uuid'];

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
  query: URLSearchParams;
  rawBody: string;
  contentType: string;
}

/** The route for a request, or undefined (404). */
export function findRoute(store: ContainerStore, clusterId: string, method: string, path: string, requests?: ContainerRequestStore): Route | undefined {
  if (requests && path === `${API}/container_requests` && method === 'GET') {
    return { template: '/arvados/v1/container_requests', handle: (ctx) => requests.list(ctx.query) };
  }
  if (path === `${API}/api_client_authorizations/current` && method === 'GET') {
    return { template: '/arvados/v1/api_client_authorizations/current', handle: (ctx) => current(clusterId, ctx) };
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
        return present(c, parseSelect(ctx.query.get('select')) ?? LOCK_RESPONSE_FIELDS);
      },
    };
  }
  return undefined;
}

function current(clusterId: string, ctx: RouteContext): unknown {
  return {
    kind: 'arvados#apiClientAuthorization',
    uuid: ctx.caller,
    owner_uuid: `${clusterId}-tpzed-000000000000000`,
    scopes: ['all'],
    expires_at: null,
    created_at: formatTime(0),
  };
}

function show(store: ContainerStore, uuid: string, ctx: RouteContext): unknown {
  const c = store.peek(uuid);
  if (!c) throw new ApiError(404, `container ${uuid} not found`);
  return present(c, parseSelect(ctx.query.get('select')));
}

function update(store: ContainerStore, uuid: string, ctx: RouteContext): unknown {
  if (!store.peek(uuid)) throw new ApiError(404, `container ${uuid} not found`);
  let attrs: unknown;
  if (ctx.contentType.includes('application/x-www-form-urlencoded')) {
    // The Go SDK's form: each parameter's value is JSON.
    const raw = new URLSearchParams(ctx.rawBody).get('container');
    attrs = raw === null ? undefined : parseJson(raw, "the 'container' parameter");
  } else {
    const body = ctx.rawBody.trim() === '' ? {} : parseJson(ctx.rawBody, 'the request body');
    attrs = isMap(body) ? body.container : undefined;
  }
  if (!isMap(attrs)) throw new ApiError(422, "the body needs a 'container' object of attributes to update");
  const c = store.update(uuid, attrs, ctx.caller);
  return present(c, parseSelect(ctx.query.get('select')));
}
