/**
 * Fuzz: random requests to the management API.
 *
 * Generates (fast-check) requests to the real management HTTP server of a
 * real dispatcher (test controller, lame cloud in-process, loops running,
 * a few containers so there are instances and crunch-runs to act on):
 * methods known and unknown; paths from the API's routes and variations of
 * them (trailing slash, doubled slash, case, dot segments, encoded
 * slashes, extra segments), encoded garbage and very long paths; query
 * parameters and bodies (none, form, JSON, text, over a MiB) naming real
 * and made-up containers and instances; and credentials: none, a wrong
 * token, the ManagementToken, the SystemRootToken, each in the places the
 * API looks (Bearer, OAuth2, Basic, `api_token`, the cookie) or malformed.
 *
 * The same against a dispatcher configured with no ManagementToken, where
 * no request may act at all.
 *
 * Properties, per request:
 * - never a 5xx (the limiter's 503 cannot happen: requests go one at a time);
 * - no kill, hold, drain or run reaches the pool unless the request offered
 *   the ManagementToken (the SystemRootToken is not enough);
 * - no token (management, root, or the wrong one offered) appears in the
 *   response's headers or body, nor in the dispatcher's log;
 * - a response that says it is JSON parses as JSON, and the JSON routes
 *   answer 200 with a JSON body of the promised shape.
 *
 * Full count: `npm run fuzz` (FUZZ_RUNS=10000), or
 * `FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/management-api.test.ts`;
 * FUZZ_SEED=<seed> repeats a failing run.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import fc from 'fast-check';
import { startStack, type Stack } from '../http/helpers.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

const API = '/arvados/v1/dispatch';
const ROUTES = [
  `${API}/containers`,
  `${API}/container`,
  `${API}/containers/kill`,
  `${API}/instances`,
  `${API}/instances/hold`,
  `${API}/instances/drain`,
  `${API}/instances/run`,
  `${API}/instances/kill`,
  '/metrics',
  '/metrics.json',
  '/_health/ping',
  '/_health/other',
  '/',
];
/** Routes whose 200 answer is promised as JSON, and the list field it must have (if any). */
const JSON_ROUTES: Record<string, string | undefined> = {
  [`${API}/containers`]: 'items',
  [`${API}/instances`]: 'items',
  [`${API}/container`]: undefined,
  '/_health/ping': undefined,
};

type TokenKind = 'none' | 'wrong' | 'management' | 'root';
/** Where the token goes: the places the API takes one from, and two malformed headers. */
type Placement = 'bearer' | 'oauth2' | 'basic' | 'query' | 'cookie' | 'bad-scheme' | 'bare';

interface Credential {
  kind: TokenKind;
  placement: Placement;
}

/** A value that stands for something known at request time (a live id, a token), or literal text. */
type Value = { ref: 'container' | 'instance' | 'management' | 'root'; index: number } | { text: string };

interface FuzzRequest {
  method: string;
  path: string;
  query: Array<[string, Value]>;
  body: { type: 'none' } | { type: 'form'; params: Array<[string, Value]> } | { type: 'json'; value: unknown } | { type: 'text'; text: string; contentType: string } | { type: 'big'; kb: number };
  credentials: Credential[];
}

const garbage = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', '%', '%00', '../', '\u0000', 'zzzzz-dz642-000000000000001', 'i-0000000', '{"a":1}', '\u{1F600}'),
);
const value: fc.Arbitrary<Value> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ ref: fc.constantFrom('container' as const, 'instance' as const), index: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ ref: fc.constantFrom('management' as const, 'root' as const), index: fc.constant(0) }) },
  { weight: 3, arbitrary: fc.record({ text: garbage }) },
);
const params = fc.array(fc.tuple(fc.constantFrom('container_uuid', 'instance_id', 'reason', 'api_token', 'select', 'x'), value), { maxLength: 4 });

/** Variations of a known route that a router might confuse with it. */
function vary(route: string, how: number, extra: string): string {
  switch (how) {
    case 0:
      return route;
    case 1:
      return `${route}/`;
    case 2:
      return route.replace(/\//g, '//');
    case 3:
      return route.toUpperCase();
    case 4:
      return `${route}/../${route.split('/').pop() ?? ''}`;
    case 5:
      return route.replace(/\/([^/]*)$/, '%2F$1');
    case 6:
      return `${route}/${extra}`;
    default:
      return `/./${route}`;
  }
}

/** Only characters an HTTP request line may carry; the rest percent-encoded (bytes as UTF-8). */
function requestTarget(path: string): string {
  let out = '';
  for (const ch of path) {
    const code = ch.codePointAt(0)!;
    out += code > 0x20 && code < 0x7f && ch !== '#' && ch !== '?' ? ch : encodeURIComponent(ch).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  }
  return out || '/';
}

const pathArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), fc.nat(7), fc.string({ maxLength: 8 })).map(([r, how, extra]) => vary(r, how, extra)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `/${s}`) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom('arvados', 'v1', 'dispatch', 'instances', 'containers', 'kill', '..', '.', '%2e%2e', ''), { maxLength: 8 }).map((a) => `/${a.join('/')}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => `${API}/${'a'.repeat(n)}`) },
);

const credential: fc.Arbitrary<Credential> = fc.record({
  kind: fc.constantFrom<TokenKind>('wrong', 'management', 'management', 'root'),
  placement: fc.constantFrom<Placement>('bearer', 'bearer', 'oauth2', 'basic', 'query', 'cookie', 'bad-scheme', 'bare'),
});

const anyRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
  path: pathArb,
  query: params,
  body: fc.oneof(
    fc.constant({ type: 'none' as const }),
    fc.record({ type: fc.constant('form' as const), params }),
    fc.record({ type: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 2 }) }),
    fc.record({
      type: fc.constant('text' as const),
      text: fc.string({ maxLength: 50 }),
      contentType: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'multipart/form-data', ''),
    }),
    fc.record({ type: fc.constant('big' as const), kb: fc.constantFrom(64, 1100) }),
  ),
  credentials: fc.array(credential, { maxLength: 2 }),
});

/** A request aimed at an action (POST to a route that kills, holds, drains or runs), naming a live container or instance. */
const actionRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constant('POST'),
  path: fc.constantFrom(`${API}/containers/kill`, `${API}/instances/hold`, `${API}/instances/drain`, `${API}/instances/run`, `${API}/instances/kill`),
  query: fc.tuple(fc.constantFrom('container_uuid', 'instance_id'), fc.constantFrom('container' as const, 'instance' as const), fc.nat(20)).map(([k, ref, index]): Array<[string, Value]> => [[k, { ref, index }]]),
  body: fc.constant({ type: 'none' as const }),
  credentials: fc.array(credential, { maxLength: 2 }),
});

const requestArb: fc.Arbitrary<FuzzRequest> = fc.oneof({ weight: 3, arbitrary: anyRequest }, { weight: 1, arbitrary: actionRequest });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(base: URL, method: string, target: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // A connection of its own per request: a keep-alive socket the server closed after an earlier answer would fail this one.
    const req = request({ host: base.hostname, port: base.port, method, path: target, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The suite against a dispatcher with a ManagementToken (`quick` cases in npm test), or with none (nothing is allowed then). */
function suite(configured: boolean, quick: number): void {
  describe(`fuzz: the management API, ${configured ? 'with a ManagementToken' : 'with no ManagementToken'}`, function () {
    this.timeout(fuzzTimeout(quick, 60_000));
    let stack: Stack;
    let rootToken: string;
    const wrongToken = `wrongtoken${'9'.repeat(12)}`;
    /** Pool actions, each with the request that was being answered when it came. */
    const actions: Array<{ what: string; request: number }> = [];
    let current = -1;
    const containers: string[] = [];
    const instances = new Set<string>();

    before(async () => {
      stack = await startStack(configured ? {} : { managementToken: '' });
      rootToken = stack.dispatcher.cluster.SystemRootToken;
      for (let i = 0; i < 4; i++) containers.push(stack.controller.addContainer({ priority: 1 }).uuid);
      // Record every action the API can cause, where it reaches the pool.
      const pool = stack.dispatcher.pool;
      const { killContainer, setIdleBehavior, killInstance } = pool;
      pool.killContainer = (uuid, reason) => {
        if (reason.startsWith('via management API')) actions.push({ what: `kill container ${uuid}`, request: current });
        return killContainer.call(pool, uuid, reason);
      };
      pool.setIdleBehavior = (id, behavior) => {
        actions.push({ what: `${behavior} ${id}`, request: current });
        return setIdleBehavior.call(pool, id, behavior);
      };
      pool.killInstance = (id, reason) => {
        actions.push({ what: `kill instance ${id}`, request: current });
        return killInstance.call(pool, id, reason);
      };
    });
    after(async () => {
      await stack?.stop();
    });

    it('never answers 5xx, acts only on the ManagementToken, echoes no token, and keeps its JSON well formed', async () => {
      const base = new URL(stack.server.url);
      let n = 0;
      await fc.assert(
        fc.asyncProperty(requestArb, async (fr) => {
          for (const i of stack.dispatcher.pool.instances()) if (!i.instance.startsWith('pending-') && i.instance !== '') instances.add(i.instance);
          const resolve = (v: Value): string => {
            if ('text' in v) return v.text;
            if (v.ref === 'management') return stack.token;
            if (v.ref === 'root') return rootToken;
            const pick = v.ref === 'container' ? containers : [...instances];
            return pick.length === 0 ? '' : pick[v.index % pick.length];
          };
          const tokenOf = (k: TokenKind): string => (k === 'management' ? stack.token : k === 'root' ? rootToken : k === 'wrong' ? wrongToken : '');
          const query = new URLSearchParams(fr.query.map(([k, v]): [string, string] => [k, resolve(v)]));
          const headers: Record<string, string> = {};
          const cookies: string[] = [];
          for (const c of fr.credentials) {
            const t = tokenOf(c.kind);
            if (c.placement === 'bearer') headers.Authorization = `Bearer ${t}`;
            else if (c.placement === 'oauth2') headers.Authorization = `OAuth2 ${t}`;
            else if (c.placement === 'basic') headers.Authorization = `Basic ${Buffer.from(`user:${t}`).toString('base64')}`;
            else if (c.placement === 'bad-scheme') headers.Authorization = `Token ${t}`;
            else if (c.placement === 'bare') headers.Authorization = t;
            else if (c.placement === 'query') query.append('api_token', t);
            else cookies.push(`arvados_api_token=${Buffer.from(t).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`);
          }
          if (cookies.length > 0) headers.Cookie = cookies.join('; ');
          let body: string | undefined;
          if (fr.body.type === 'form') {
            headers['Content-Type'] = 'application/x-www-form-urlencoded';
            body = new URLSearchParams(fr.body.params.map(([k, v]): [string, string] => [k, resolve(v)])).toString();
          } else if (fr.body.type === 'json') {
            headers['Content-Type'] = 'application/json';
            body = JSON.stringify(fr.body.value);
          } else if (fr.body.type === 'text') {
            if (fr.body.contentType) headers['Content-Type'] = fr.body.contentType;
            body = fr.body.text;
          } else if (fr.body.type === 'big') {
            headers['Content-Type'] = 'application/x-www-form-urlencoded';
            body = `reason=${'r'.repeat(fr.body.kb * 1024)}`;
          }
          const qs = query.toString();
          const target = requestTarget(fr.path) + (qs ? `?${qs}` : '');
          // Offered where the API takes a token: the Authorization header as sent, `api_token` in the query, the first such cookie.
          const m = stack.token;
          const auth = headers.Authorization ?? '';
          const offeredManagement =
            configured &&
            (auth === `Bearer ${m}` ||
            auth === `OAuth2 ${m}` ||
            auth === `Basic ${Buffer.from(`user:${m}`).toString('base64')}` ||
            query.getAll('api_token').includes(m) ||
            fr.credentials.find((c) => c.placement === 'cookie')?.kind === 'management');

          current = ++n;
          const before = actions.length;
          const ans = await send(base, fr.method, target, headers, body);
          // A request's actions are synchronous with its answer, but give a late one a turn to show.
          await new Promise((r) => setImmediate(r));
          current = -1;
          const where = `${fr.method} ${target.slice(0, 120)} -> ${ans.status}`;

          assert.ok(ans.status < 500, `${where}: ${ans.body.slice(0, 200)}`);
          const mine = actions.slice(before).filter((a) => a.request === n);
          if (mine.length > 0) assert.ok(offeredManagement, `${where}: ${mine.map((a) => a.what).join(', ')} without the ManagementToken`);
          const headerText = JSON.stringify(ans.headers);
          for (const t of [stack.token, rootToken, wrongToken].filter((t) => t !== '')) {
            assert.ok(!ans.body.includes(t) && !headerText.includes(t), `${where}: a token is echoed back`);
          }
          const type = String(ans.headers['content-type'] ?? '');
          if (type.includes('application/json') && fr.method !== 'HEAD') {
            assert.doesNotThrow(() => JSON.parse(ans.body), `${where}: says JSON, sends ${ans.body.slice(0, 100)}`);
          }
          const route = target.split('?')[0];
          if (ans.status === 200 && fr.method === 'GET' && route in JSON_ROUTES) {
            assert.match(type, /application\/json/, `${where}: content type ${type}`);
            const parsed = JSON.parse(ans.body) as Record<string, unknown>;
            const list = JSON_ROUTES[route];
            if (list) assert.ok(Array.isArray(parsed[list]), `${where}: no ${list} array`);
          }
        }),
        fuzzParams(quick),
      );
      assert.ok(n > 0);
      // Nor does any token reach the log (the request log included).
      const logged = stack.logs.lines.join('\n');
      for (const t of [stack.token, rootToken, wrongToken].filter((t) => t !== '')) assert.ok(!logged.includes(t), 'a token reached the log');
    });
  });
}

suite(true, 600);
suite(false, 200);
