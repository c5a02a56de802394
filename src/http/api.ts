/**
 * The management API (ARVADOS.md section 7): the reference dispatcher's
 * routes, status codes and error texts, over node:http. It sees the
 * dispatcher only through `ManagementTarget`, small enough for a test to
 * pass an object literal; `managementTarget(dispatcher)` builds the real one.
 *
 * Order of checks, as the reference's layers (its service command wraps
 * the dispatcher's own handler):
 * 1. `GET|HEAD /metrics` and `/metrics.json`: the token if one is configured
 *    (401 none offered, 403 wrong); with no ManagementToken, served to all;
 * 2. `/_health/ping`: the health handler's own rules (404 "disabled" with no
 *    ManagementToken, then only `Authorization: Bearer <token>` counts);
 * 3. everything else: no ManagementToken configured -> 403; then the token
 *    (401 none offered, 403 wrong); then the route (404 unknown path, 405
 *    known path with another method, OPTIONS lists the methods); then the
 *    parameters (400 missing, 404 unknown container or instance).
 * `Layers` lets the server put its request instrumentation around 2 and 3,
 * and its request limiter around 3, where the reference has them.
 */
import type { WhyBuilder } from '../scheduler/why.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { IdleBehavior, InstanceView } from '../scheduler/interfaces.js';
import type { QueueViewEntry } from '../scheduler/scheduler.js';
import type { ContainerTimeline } from '../timeline/timeline.js';
import type { HistoryJSON } from '../history/history.js';
import { isInstanceNotFoundError } from '../worker/pool.js';
import { requestTokens, requireHealthToken, requireToken } from './auth.js';
import { type InstanceDraining, instanceViewJSON, queueEntJSON, type QueueEntExtras, spendingCapJSON } from './format.js';
import type { SpendingCapView } from '../placement/spending-cap.js';
import { timelineJSON } from './timeline-json.js';
import { redirectFor, sendRedirect } from './redirect.js';
import { formValues } from './form.js';
import { NOT_DISPATCHING_HEADER } from './not-dispatching.js';

/** What the management API needs from a dispatcher. */
export interface ManagementTarget {
  /** `ManagementToken`; '' refuses every request. */
  readonly managementToken: string;
  readonly logger: Logger;
  /** The queue in scheduling order with each entry's scheduling status, as of the last scheduling pass. */
  queueView(): QueueViewEntry[];
  /** Why each entry of `queueView()` waits (a fresh builder per request); absent: no `blocker` field. */
  why?(): WhyBuilder | undefined;
  /** When the container should start; absent: no `estimate` field. */
  estimate?(uuid: string): QueueEntExtras['estimate'];
  /** The time to append the estimate to scheduling_status as of (the settings file's SchedulingStatus.AppendEstimate), or undefined not to. */
  appendEstimateAt?(): number | undefined;
  /** What would help the container start sooner; absent: no `suggestions` field. */
  suggestions?(uuid: string): QueueEntExtras['suggestions'];
  /** Every worker (shut-down ones included) and every create in flight (empty id), sorted by id. */
  instances(): InstanceView[];
  /** Why the instance drains (drain to save), as of the last scheduling pass; absent or undefined: no `draining` field. */
  draining?(instanceId: string): InstanceDraining | undefined;
  /** Dollars the instance has cost so far; absent or undefined: no `cost` field. */
  instanceCost?(instanceId: string): number | undefined;
  /** Dollars the container's runs have cost so far; absent or undefined: no `cost` field. */
  containerCost?(uuid: string): number | undefined;
  /** The spending cap and the day's forecast, beside the instances' costs; absent or undefined (the cap is off): no `spending_cap` field. */
  spendingCap?(): SpendingCapView | undefined;
  /** SIGTERM to the container's crunch-run; false when it runs nowhere. */
  killContainer(uuid: string, reason: string): boolean;
  /**
   * Sets the idle behaviour at once; throws InstanceNotFoundError for an
   * unknown id. Saving its tag in the cloud is not waited for (as the
   * reference: a slow cloud must not hold the request).
   */
  setIdleBehavior(instanceId: string, behavior: IdleBehavior): void;
  /** Throws InstanceNotFoundError for an unknown id. */
  killInstance(instanceId: string, reason: string): void;
  /** Throws when the dispatcher cannot work (the health check's error text). */
  checkHealth(): void;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The `/metrics.json` body (`metrics-json.ts`); without it, /metrics.json is 404. */
  metricsJSON?(): Promise<string>;
  /** The container's timeline (`src/timeline/`); without this method, every timeline is 404. */
  containerTimeline?(uuid: string): ContainerTimeline | undefined;
  /** The last hours for the status page's charts (`src/history/`); without this method, /history is 404. */
  history?(): HistoryJSON;
}

/** A layer around part of the chain; resolves when the request has been handled. */
export type Wrap = (req: IncomingMessage, res: ServerResponse, next: (req: IncomingMessage, res: ServerResponse) => Promise<void>) => Promise<void>;

/** What the server adds around the API (see the order above); all optional. */
export interface Layers {
  /** Around everything but the metrics endpoints. */
  instrument?: Wrap;
  /** Handles a request before the limiter (the status page); true if it did. */
  before?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Around the token-checked routes. */
  limit?: Wrap;
}

const API = '/arvados/v1/dispatch';
interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  /** `r.FormValue`: from the form body or the query string, in Go's order (`form.ts`); '' when absent. */
  param(name: string): string;
}

type Handler = (r: Request, t: ManagementTarget) => void | Promise<void>;

const ROUTES: Record<string, Partial<Record<string, Handler>>> = {
  [`${API}/containers`]: { GET: listContainers },
  [`${API}/container`]: { GET: getContainer },
  [`${API}/container/timeline`]: { GET: getTimeline },
  [`${API}/containers/kill`]: { POST: killContainer },
  [`${API}/instances`]: { GET: listInstances },
  [`${API}/instances/hold`]: { POST: (r, t) => setIdleBehavior(r, t, 'hold') },
  [`${API}/instances/drain`]: { POST: (r, t) => setIdleBehavior(r, t, 'drain') },
  [`${API}/instances/run`]: { POST: (r, t) => setIdleBehavior(r, t, 'run') },
  [`${API}/instances/kill`]: { POST: killInstance },
  // Ours: the reference keeps no history.
  [`${API}/history`]: { GET: getHistory },
  // GET and HEAD are served before the token check (see the order above);
  // these entries give other methods their 405.
  '/metrics': { GET: metrics },
  '/metrics.json': { GET: metrics },
};

const ROUTE_PATHS = Object.keys(ROUTES);

const HEALTH_PING = '/_health/ping';

/** The request handler for `http.createServer`. */
export function managementHandler(target: ManagementTarget, layers: Layers = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const instrument: Wrap = layers.instrument ?? ((req, res, next) => next(req, res));
  const limit: Wrap = layers.limit ?? ((req, res, next) => next(req, res));
  const inner = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req);
    if (path === HEALTH_PING) return healthPing(req, res, target);
    // The reference's health interceptor has a router of its own, which
    // redirects before any token check.
    const toHealth = path.startsWith('/') && req.method === 'GET' ? redirectFor(req, 'GET', path, [HEALTH_PING]) : undefined;
    if (toHealth !== undefined) return sendRedirect(req, res, toHealth);
    if (layers.before?.(req, res)) return;
    await limit(req, res, (req, res) => handle(req, res, target));
  };
  return (req, res) => {
    const path = pathOf(req);
    const done = (req.method === 'GET' || req.method === 'HEAD') && ROUTES[path]?.GET === metrics ? metricsEndpoint(req, res, target, path) : instrument(req, res, inner);
    done.catch((err: unknown) => {
      // An error that names its status (503: no dispatcher right now) is an answer, not a failure.
      const status = (err as { httpStatus?: unknown } | undefined)?.httpStatus;
      if (typeof status !== 'number') target.logger.error('management API request failed', { Method: req.method, Path: path, error: err });
      if (!res.headersSent) jsonError(res, typeof status === 'number' ? status : 500, String((err as Error)?.message ?? err));
      else res.destroy();
    });
  };
}

/** /metrics and /metrics.json: the token only when one is configured, as the reference's metrics layer. */
async function metricsEndpoint(req: IncomingMessage, res: ServerResponse, t: ManagementTarget, path: string): Promise<void> {
  if (t.managementToken !== '') {
    const url = requestURL(req);
    if (!url) return textError(res, 400, 'Bad Request');
    const auth = requireToken(t.managementToken, requestTokens(req, url.searchParams));
    if (!auth.ok) return textError(res, auth.status, auth.message);
  }
  if (path === '/metrics.json') {
    if (!t.metricsJSON) return textError(res, 404, '404 page not found');
    // No type set there, so Go sniffs one: JSON text is text/plain.
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(await t.metricsJSON());
    return;
  }
  const { contentType, body } = await t.metrics();
  res.writeHead(200, { 'Content-Type': contentType });
  res.end(body);
}

/** `/_health/ping`, answered before the API's own token check, as the reference's service command does. */
function healthPing(req: IncomingMessage, res: ServerResponse, t: ManagementTarget): void {
  if (req.method === 'GET') return health(req, res, t);
  res.setHeader('Allow', 'GET, OPTIONS');
  if (req.method === 'OPTIONS') {
    res.end();
    return;
  }
  textError(res, 405, 'Method Not Allowed');
}

async function handle(req: IncomingMessage, res: ServerResponse, target: ManagementTarget): Promise<void> {
  const url = requestURL(req);
  if (!url) {
    textError(res, 400, 'Bad Request');
    return;
  }
  if (target.managementToken === '') {
    textError(res, 403, 'Management API authentication is not configured');
    return;
  }
  const auth = requireToken(target.managementToken, requestTokens(req, url.searchParams));
  if (!auth.ok) {
    textError(res, auth.status, auth.message);
    return;
  }
  // The reference routes GET /_health/:check to its health handler, which
  // knows only ping (answered before this): any other check is not found.
  const healthCheck = url.pathname.startsWith('/_health/') && !url.pathname.slice('/_health/'.length).includes('/');
  const route = healthCheck ? { GET: () => textError(res, 404, '404 page not found') } : ROUTES[url.pathname];
  if (!route) {
    const method = req.method ?? '';
    const moved = redirectFor(req, method, pathOf(req), ROUTE_PATHS.filter((p) => ROUTES[p]![method]));
    if (moved !== undefined) return sendRedirect(req, res, moved);
    textError(res, 404, '404 page not found');
    return;
  }
  const handler = route[req.method ?? ''];
  if (!handler) {
    if (req.method === 'OPTIONS') {
      res.setHeader('Allow', allowed(Object.keys(route)));
      res.end();
      return;
    }
    return methodNotAllowed(res, Object.keys(route));
  }
  const param = await formValues(req, url);
  if (param === undefined) {
    jsonError(res, 413, 'request body too large');
    return;
  }
  await handler({ req, res, param }, target);
}

function listContainers(r: Request, t: ManagementTarget): void {
  const why = t.why?.();
  const at = t.appendEstimateAt?.();
  sendJSON(r.res, { items: t.queueView().map((v) => queueEntJSON(v.entry, v.schedulingStatus, extrasOf(t, v, why, at))) });
}

function extrasOf(t: ManagementTarget, v: QueueViewEntry, why: WhyBuilder | undefined, appendEstimateAt: number | undefined): QueueEntExtras {
  return { blocker: why?.blockerAt(v.listIndex), estimate: t.estimate?.(v.entry.container.uuid), appendEstimateAt, suggestions: t.suggestions?.(v.entry.container.uuid), cost: t.containerCost?.(v.entry.container.uuid) };
}

function getContainer(r: Request, t: ManagementTarget): void {
  const uuid = r.param('container_uuid');
  let view: QueueViewEntry[];
  try {
    view = t.queueView();
  } catch (err) {
    // The controller asks every InternalURL for a Queued or Locked container's status,
    // skips a 404 and keeps any other answer as an error: a standby's 503 (as the
    // reference's standby, which does not listen) made it answer 502 whenever the
    // dispatching process had not seen the container yet, where "not here" lets it
    // say the container is queued.
    const status = (err as { httpStatus?: unknown } | undefined)?.httpStatus;
    if (status !== 503) throw err;
    const reason = String((err as Error).message);
    r.res.setHeader(NOT_DISPATCHING_HEADER, reason.replace(/[^\x20-\x7e]/g, '?'));
    return jsonError(r.res, 404, `container not found: ${reason}`);
  }
  const found = view.find((v) => v.entry.container.uuid === uuid);
  if (!found) return jsonError(r.res, 404, 'container not found');
  sendJSON(r.res, queueEntJSON(found.entry, found.schedulingStatus, extrasOf(t, found, t.why?.(), t.appendEstimateAt?.())));
}

function getTimeline(r: Request, t: ManagementTarget): void {
  const uuid = r.param('container_uuid');
  if (uuid === '') return jsonError(r.res, 400, 'container_uuid parameter not provided');
  const found = t.containerTimeline?.(uuid);
  if (!found) return jsonError(r.res, 404, 'container not found');
  sendJSON(r.res, timelineJSON(uuid, found));
}

function getHistory(r: Request, t: ManagementTarget): void {
  if (!t.history) return jsonError(r.res, 404, 'no history kept');
  sendJSON(r.res, t.history());
}

function killContainer(r: Request, t: ManagementTarget): void {
  const uuid = r.param('container_uuid');
  if (uuid === '') return jsonError(r.res, 400, 'container_uuid parameter not provided');
  if (!t.killContainer(uuid, `via management API: ${r.param('reason')}`)) return jsonError(r.res, 404, 'container not found');
  r.res.end();
}

function listInstances(r: Request, t: ManagementTarget): void {
  const items = t.instances().map((v) => instanceViewJSON(v, t.draining?.(v.instance), v.instance === '' ? undefined : t.instanceCost?.(v.instance)));
  const cap = t.spendingCap?.();
  sendJSON(r.res, cap ? { items, spending_cap: spendingCapJSON(cap) } : { items });
}

function setIdleBehavior(r: Request, t: ManagementTarget, behavior: IdleBehavior): void {
  const id = r.param('instance_id');
  if (id === '') return jsonError(r.res, 400, 'instance_id parameter not provided');
  try {
    t.setIdleBehavior(id, behavior);
  } catch (err) {
    if (isInstanceNotFoundError(err)) return jsonError(r.res, 404, 'requested instance does not exist');
    throw err;
  }
  r.res.end();
}

function killInstance(r: Request, t: ManagementTarget): void {
  const id = r.param('instance_id');
  if (id === '') return jsonError(r.res, 400, 'instance_id parameter not provided');
  try {
    t.killInstance(id, `via management API: ${r.param('reason')}`);
  } catch (err) {
    if (isInstanceNotFoundError(err)) return jsonError(r.res, 404, 'instance not found');
    throw err;
  }
  r.res.end();
}

/** Only reached for GET and HEAD through `metricsEndpoint`; the route gives other methods 405. */
async function metrics(r: Request, t: ManagementTarget): Promise<void> {
  await metricsEndpoint(r.req, r.res, t, pathOf(r.req));
}

/**
 * The reference's health handler (sdk/go/health): 404 "disabled" without a
 * ManagementToken, its own token check, then `{"health":"OK"}` or
 * `{"error":"...","health":"ERROR"}` (still 200; Go sorts the keys).
 */
function health(req: IncomingMessage, res: ServerResponse, t: ManagementTarget): void {
  if (t.managementToken === '') return textError(res, 404, 'disabled');
  const auth = requireHealthToken(t.managementToken, req.headers.authorization);
  if (!auth.ok) return textError(res, auth.status, auth.message);
  try {
    t.checkHealth();
  } catch (err) {
    // Go encodes this map with its keys sorted: error first.
    return sendJSON(res, { error: String((err as Error)?.message ?? err), health: 'ERROR' });
  }
  sendJSON(res, { health: 'OK' });
}

function sendJSON(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

/** The reference's httpserver.Error: `{"errors":["..."]}`. */
function jsonError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${JSON.stringify({ errors: [message] })}\n`);
}

/** Go's http.Error: the text and a newline, as text/plain. */
function textError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${message}\n`);
}

/** httprouter's Allow header: the route's methods and OPTIONS, sorted. */
function allowed(methods: string[]): string {
  return [...methods, 'OPTIONS'].sort().join(', ');
}

function methodNotAllowed(res: ServerResponse, methods: string[]): void {
  res.setHeader('Allow', allowed(methods));
  textError(res, 405, 'Method Not Allowed');
}

/**
 * The request's URL, or undefined if its target does not parse. The target
 * is a path ("origin form"): prefixing the origin keeps one that starts with
 * `//` a path, where resolving it against a base would read a host in it.
 */
function requestURL(req: IncomingMessage): URL | undefined {
  const target = req.url ?? '/';
  try {
    return new URL(target.startsWith('/') ? `http://localhost${target}` : target, 'http://localhost');
  } catch {
    return undefined;
  }
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?')[0];
}
