/**
 * A controller transport that hands each request to the test controller and
 * then spoils its answer as a fuzz case says: malformed JSON, error statuses,
 * JSON of the wrong shape, one field of one record given a bad value or
 * dropped, extra fields, garbage items, duplicated items, repeated pages,
 * `items_available` lies, padded (large) bodies, and lists that never end.
 *
 * It keeps the oracle the properties check against: which records reached
 * the dispatcher unspoiled ("valid"), which actions those records could
 * justify, and every changing request (lock, unlock, update) with whether a
 * valid record justified it when it was sent.
 */
import fc from 'fast-check';
import type { RawRequest, RawResponse, RawTransport } from '../../src/arvados/http.js';
import { CONTAINER_STATES } from '../../src/arvados/types.js';

/** What a valid record of a container can justify. */
export type Justified = 'lock' | 'unlock' | 'start' | 'cancel' | 'kill';

export type Garble =
  | { kind: 'pass' }
  | { kind: 'status'; status: number; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'json'; value: unknown }
  | { kind: 'field'; index: number; field: string; value: unknown }
  | { kind: 'drop'; index: number; field: string }
  | { kind: 'extra'; index: number; key: string; value: unknown }
  | { kind: 'insert'; index: number; value: unknown }
  | { kind: 'duplicate'; index: number }
  | { kind: 'available'; n: number }
  | { kind: 'repeat' }
  | { kind: 'pad'; kb: number };

const LIST_FIELDS = ['uuid', 'state', 'priority', 'locked_by_uuid', 'lock_count'];
const REQUIRED: Record<string, string[]> = {
  list: ['uuid', 'state', 'priority'],
  get: ['uuid', 'state', 'priority', 'runtime_constraints', 'runtime_constraints.vcpus', 'runtime_constraints.ram', 'container_image', 'created_at'],
  reply: ['uuid', 'state'],
  token: ['uuid'],
};

const notCount = fc.oneof(
  fc.integer({ max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  // Beyond int64 (2^53 and above are fine up to 2^63: a current controller's priorities are near 2^59).
  fc.constantFrom(2 ** 64, 1e20, 1e308, -0.5),
  fc.string({ maxLength: 5 }),
  // Plausible-looking garbage, which loose comparisons would take for a positive priority.
  fc.constantFrom('5', '1', ' 1', '0x1', 0.5, 1.5, 1e20, true, [1], { n: 1 }),
);
const notString = fc.oneof(fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}), fc.constant(['x']));
const notObject = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant([]), fc.constant([1, 2]));
const notBoolean = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant('true'), fc.constant([]));

/** A value that is wrong for `field`, whatever record it is in. */
const BAD_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  uuid: fc.oneof(
    notString,
    fc.constant(null),
    fc.string({ maxLength: 30 }),
    fc.constantFrom('zzzzz-j7d0g-000000000000001', 'zzzzz-dz642-00000000000001', 'ZZZZZ-DZ642-000000000000001', 'zzzzz-dz642-000000000000001 '),
  ),
  state: fc.oneof(
    fc.string({ maxLength: 10 }).filter((s) => !(CONTAINER_STATES as readonly string[]).includes(s)),
    fc.constantFrom('queued', 'Queued ', 'LOCKED', 'Running\u0000', null, 3, true),
  ),
  priority: fc.oneof(notCount, fc.constant(null)),
  locked_by_uuid: fc.oneof(fc.integer(), fc.boolean(), fc.constant({}), fc.constant(['zzzzz-gj3su-000000000000000'])),
  lock_count: notCount,
  runtime_constraints: fc.oneof(notObject, fc.constant(null)),
  'runtime_constraints.vcpus': fc.oneof(notCount, fc.constant(null)),
  'runtime_constraints.ram': fc.oneof(notCount, fc.constant(null)),
  'runtime_constraints.keep_cache_disk': notCount,
  'runtime_constraints.API': notBoolean,
  'runtime_constraints.gpu': notObject,
  scheduling_parameters: notObject,
  'scheduling_parameters.supervisor': notBoolean,
  'scheduling_parameters.preemptible': notBoolean,
  'scheduling_parameters.partitions': fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant([1, 2])),
  'scheduling_parameters.max_run_time': notCount,
  container_image: fc.oneof(notString, fc.constant(null)),
  created_at: fc.oneof(notString, fc.constant(null), fc.constantFrom('', 'yesterday', '2026-13-45T99:00:00Z')),
};

const fieldGarble: fc.Arbitrary<Garble> = fc
  .constantFrom(...Object.keys(BAD_VALUES))
  .chain((field) => fc.record({ kind: fc.constant('field' as const), index: fc.nat(9), field: fc.constant(field), value: BAD_VALUES[field] }));

const garble: fc.Arbitrary<Garble> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'pass' } as Garble) },
  { weight: 6, arbitrary: fieldGarble },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('drop' as const),
      index: fc.nat(9),
      field: fc.constantFrom(...new Set(Object.values(REQUIRED).flat())),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('status' as const),
      status: fc.constantFrom(400, 401, 404, 408, 422, 429, 500, 502, 503, 504, 302, 204),
      text: fc.oneof(fc.constant('{"errors":["no"]}'), fc.string({ maxLength: 20 }), fc.constant('<html>bad gateway</html>')),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('text' as const),
      text: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('{"items": [', '{"items": [{"uuid": "zzzzz-dz642-', 'null', '', '\u0000{}', '{"items":[]}garbage')),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({ items: {} }), fc.constant({ items: 'x' })) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('extra' as const),
      index: fc.nat(9),
      key: fc.constantFrom('runtime_constraints', 'mounts', 'kind', 'etag', '__proto__x', 'zzz'),
      value: fc.jsonValue({ maxDepth: 2 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), index: fc.nat(9), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(null)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), index: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('available' as const), n: fc.oneof(fc.integer(), fc.constant(1e15)) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'repeat' } as Garble) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pad' as const), kb: fc.integer({ min: 1, max: 512 }) }) },
);

export interface GarblePlan {
  /** One per request, in order; requests past the end are answered as the controller answered. */
  garbles: Garble[];
  /** From this request on, every list read after a uuid gets another page of invented containers: a list that never ends. */
  endlessFrom?: number;
}

export const garblePlan: fc.Arbitrary<GarblePlan> = fc.record(
  { garbles: fc.array(garble, { maxLength: 40 }), endlessFrom: fc.nat(30) },
  { requiredKeys: ['garbles'] },
);

/** A changing request the dispatcher sent, and whether a valid record had justified it. */
export interface Action {
  what: 'lock' | 'unlock' | 'cancel' | 'update';
  uuid: string;
  justified: boolean;
}

type Rec = Record<string, unknown>;
type Kind = 'list' | 'get' | 'reply' | 'token' | 'other';

/** The method the controller acts on: a GET sent as a POST with X-Http-Method-Override is a GET. */
function methodOf(req: RawRequest): string {
  return req.headers['X-Http-Method-Override'] ?? req.method;
}

/** The parameters: from the query string, or from the form body of a GET sent as a POST. */
function paramsOf(req: RawRequest): URLSearchParams {
  return req.headers['X-Http-Method-Override'] === 'GET' ? new URLSearchParams(req.body ?? '') : req.url.searchParams;
}

function routeOf(req: RawRequest): { kind: Kind; uuid?: string; action?: 'lock' | 'unlock' } {
  const path = req.url.pathname;
  if (path.endsWith('/api_client_authorizations/current')) return { kind: 'token' };
  if (/\/containers$/.test(path)) return { kind: 'list' };
  const m = /\/containers\/([^/]+)(?:\/(lock|unlock))?$/.exec(path);
  if (!m) return { kind: 'other' };
  const uuid = decodeURIComponent(m[1]);
  if (m[2]) return { kind: 'reply', uuid, action: m[2] as 'lock' | 'unlock' };
  // The queue's details read selects the constraints; other reads (after an ambiguous lock, say) only want what a lock answer has.
  const details = methodOf(req) === 'GET' && (paramsOf(req).get('select') ?? '').includes('runtime_constraints');
  return { kind: details ? 'get' : 'reply', uuid };
}

function setPath(rec: Rec, path: string, value: unknown, drop: boolean): boolean {
  const parts = path.split('.');
  let obj: unknown = rec;
  for (const p of parts.slice(0, -1)) {
    obj = (obj as Rec)[p];
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return false;
  }
  const last = parts[parts.length - 1];
  if (drop) delete (obj as Rec)[last];
  else (obj as Rec)[last] = value;
  return true;
}

export class GarblingTransport implements RawTransport {
  /**
   * The latest valid record of each container the queue may have taken in:
   * from a poll that succeeded (a failed poll's records are not applied),
   * or a lock/unlock/update answer; by arrival order.
   */
  private readonly committed = new Map<string, { rec: Rec; seq: number }>();
  /** Valid records of the poll in flight, committed if it succeeds. */
  private pending?: Array<{ rec: Rec; seq: number }>;
  /** Every (state, priority, locked_by_uuid) a valid record has shown for each container. */
  private readonly shown = new Map<string, Set<string>>();
  /** The latest valid record of each container, and the request count it arrived at. */
  readonly latest = new Map<string, { rec: Rec; at: number }>();
  readonly actions: Action[] = [];
  /** Fields given a bad value (or dropped) in a record that reached the dispatcher: a warning must name each. */
  readonly spoiledFields = new Set<string>();
  /** Garbage items inserted in a list that reached the dispatcher. */
  inserted = 0;
  requests = 0;
  /** Requests that were GETs sent as a POST with a form body. */
  formRequests = 0;
  private seq = 0;
  private previousList?: string;
  private endlessSeq = 0;
  private healed = false;

  constructor(
    private readonly inner: RawTransport,
    private readonly plan: GarblePlan,
    private readonly ourTokenUuid: string,
  ) {}

  /** From now on, every answer is the controller's own. */
  heal(): void {
    this.healed = true;
  }

  beginPoll(): void {
    this.pending = [];
  }

  endPoll(succeeded: boolean): void {
    const pending = this.pending ?? [];
    this.pending = undefined;
    if (succeeded) for (const p of pending) this.commit(p.rec, p.seq);
  }

  /** What the latest valid record the queue may hold of `uuid` justifies. */
  justifies(uuid: string): Set<Justified> {
    const can = new Set<Justified>();
    const rec = this.committed.get(uuid)?.rec;
    if (!rec) return can;
    const ours = rec.locked_by_uuid === this.ourTokenUuid;
    const priority = rec.priority as number;
    if (rec.state === 'Queued' && priority > 0) can.add('lock');
    if (rec.state === 'Locked' && ours) {
      can.add('unlock');
      if (priority > 0) can.add('start');
    }
    if (rec.state === 'Running' && ours) can.add('cancel');
    // Stopping a crunch-run is wrong only for a container that is ours and still wanted.
    if (!((rec.state === 'Locked' || rec.state === 'Running') && ours && priority > 0)) can.add('kill');
    return can;
  }

  private commit(rec: Rec, seq: number): void {
    const uuid = rec.uuid as string;
    const prev = this.committed.get(uuid);
    if (prev && prev.seq > seq) return;
    // Lock and unlock answers may leave priority out: the queue keeps what it had.
    this.committed.set(uuid, { rec: { priority: prev?.rec.priority, ...rec }, seq });
  }

  async send(req: RawRequest): Promise<RawResponse> {
    const n = this.requests++;
    if (req.method === 'POST' && methodOf(req) === 'GET') this.formRequests++;
    const route = routeOf(req);
    this.recordAction(req, route);
    if (this.healed) {
      const res = await this.inner.send(req);
      return this.spoil(res, route.kind, { kind: 'pass' }, n);
    }
    if (route.kind === 'list' && this.plan.endlessFrom !== undefined && n >= this.plan.endlessFrom) {
      const endless = this.endless(req);
      if (endless) return endless;
    }
    const res = await this.inner.send(req);
    const g = this.plan.garbles[n] ?? { kind: 'pass' };
    return this.spoil(res, route.kind, g, n);
  }

  close(): void {
    this.inner.close();
  }

  private recordAction(req: RawRequest, route: ReturnType<typeof routeOf>): void {
    if (methodOf(req) === 'GET' || route.uuid === undefined || (route.kind !== 'reply' && route.kind !== 'get')) return;
    const can = this.justifies(route.uuid);
    if (route.action) {
      this.actions.push({ what: route.action, uuid: route.uuid, justified: can.has(route.action) });
      return;
    }
    const body = JSON.parse(req.body ?? '{}') as { container?: Rec };
    const cancel = body.container?.state === 'Cancelled';
    this.actions.push({ what: cancel ? 'cancel' : 'update', uuid: route.uuid, justified: cancel && can.has('cancel') });
  }

  /** Invented containers past the `uuid >` cursor, with a state no controller has. */
  private endless(req: RawRequest): RawResponse | undefined {
    const params = paramsOf(req);
    const filters = JSON.parse(params.get('filters') ?? '[]') as Array<[string, string, unknown]>;
    if (!filters.some((f) => f[0] === 'uuid' && f[1] === '>')) return undefined;
    const limit = Number(params.get('limit') ?? '2');
    const items = Array.from({ length: limit }, () => ({
      uuid: `zzzzz-dz642-9${String(++this.endlessSeq).padStart(14, '0')}`,
      state: 'Endless',
      priority: 1,
    }));
    this.spoiledFields.add('state');
    return { status: 200, text: JSON.stringify({ items, items_available: 1e9 }) };
  }

  private spoil(res: RawResponse, kind: Kind, g: Garble, n: number): RawResponse {
    if (res.status !== 200) return res;
    switch (g.kind) {
      case 'status':
        return { status: g.status, text: g.text };
      case 'text':
        return { status: 200, text: g.text };
      case 'json':
        return { status: 200, text: JSON.stringify(g.value) };
      default:
    }
    const body = JSON.parse(res.text) as Rec;
    if (kind === 'list') return this.spoilList(body, g, n);
    const valid = this.spoilRecord(body, kind, g);
    if (valid && (kind === 'get' || kind === 'reply')) this.noteValid(body, n, kind === 'reply');
    return { status: 200, text: JSON.stringify(body) };
  }

  /** Spoils one record in place; true if it is still valid. */
  private spoilRecord(rec: Rec, kind: Kind, g: Garble): boolean {
    if (g.kind === 'field' || g.kind === 'drop') {
      const applies = kind === 'get' ? true : kind === 'token' ? g.field === 'uuid' : LIST_FIELDS.includes(g.field);
      if (!applies) return true;
      // Dropping an optional field leaves a valid record.
      if (g.kind === 'drop' && !REQUIRED[kind === 'list' ? 'list' : kind]?.includes(g.field)) return true;
      if (!setPath(rec, g.field, g.kind === 'field' ? g.value : undefined, g.kind === 'drop')) return true;
      if (kind !== 'token') this.spoiledFields.add(g.field);
      // Only the start breaker reads lock_count: a record with a bad one is used without it.
      return g.field === 'lock_count';
    }
    // An unknown attribute is harmless anywhere; a list item's copy of an attribute the lists do not select must be ignored.
    if (g.kind === 'extra' && (kind === 'list' || !(g.key in rec))) rec[g.key] = g.value;
    if (g.kind === 'pad') rec.padding = 'x'.repeat(g.kb * 1024);
    return true;
  }

  private spoilList(body: Rec, g: Garble, n: number): RawResponse {
    if (g.kind === 'repeat' && this.previousList !== undefined) {
      const again = JSON.parse(this.previousList) as Rec;
      for (const it of again.items as Rec[]) this.noteValid(it, n);
      return { status: 200, text: this.previousList };
    }
    const items = (body.items as Rec[]).map((it) => ({ ...it }));
    const valid = items.map(() => true);
    const k = items.length === 0 ? -1 : ((g as { index?: number }).index ?? 0) % items.length;
    if (k >= 0 && (g.kind === 'field' || g.kind === 'drop' || g.kind === 'extra')) valid[k] = this.spoilRecord(items[k], 'list', g);
    if (g.kind === 'duplicate' && k >= 0) {
      items.splice(k, 0, { ...items[k] });
      valid.splice(k, 0, true);
    }
    if (g.kind === 'insert') {
      const at = items.length === 0 ? 0 : g.index % (items.length + 1);
      items.splice(at, 0, g.value as Rec);
      valid.splice(at, 0, false);
      this.inserted++;
    }
    items.forEach((it, i) => valid[i] && this.noteValid(it, n));
    const out: Rec = { ...body, items };
    if (g.kind === 'available') out.items_available = g.n;
    if (g.kind === 'pad') out.padding = 'x'.repeat(g.kb * 1024);
    const text = JSON.stringify(out);
    if (items.length > 0 && valid.every(Boolean)) this.previousList = text;
    return { status: 200, text };
  }

  /** True if some valid record of `uuid` has shown these values (priority may be left out by lock answers). */
  hasShown(uuid: string, state: unknown, priority: unknown, lockedBy: unknown): boolean {
    const seen = this.shown.get(uuid);
    return seen !== undefined && (seen.has(JSON.stringify([state, priority, lockedBy ?? null])) || seen.has(JSON.stringify([state, null, lockedBy ?? null])));
  }

  private noteValid(shownRec: Rec, n: number, reply = false): void {
    const uuid = shownRec.uuid;
    if (typeof uuid !== 'string') return;
    // What the queue may take from it: a lock_count only if it is well formed.
    const rec = { ...shownRec };
    if (!(Number.isSafeInteger(rec.lock_count) && (rec.lock_count as number) >= 0)) delete rec.lock_count;
    this.latest.set(uuid, { rec, at: n });
    const seen = this.shown.get(uuid) ?? new Set<string>();
    seen.add(JSON.stringify([rec.state, rec.priority ?? null, rec.locked_by_uuid ?? null]));
    this.shown.set(uuid, seen);
    const seq = ++this.seq;
    if (reply || !this.pending) this.commit(rec, seq);
    else this.pending.push({ rec, seq });
  }
}
