/**
 * The controller client's calls against the test controller over real
 * HTTP, when the controller answers: what each call sends (lists, gets,
 * locks, updates, the token calls), what it returns, how a refusal reads,
 * and what it logs. How the client is built from the cluster config, and
 * TLS, are client-setup.test.ts.
 */
import assert from 'node:assert/strict';
import type { ControllerClient } from '../../src/arvados/client.js';
import { ControllerClient as Client, ControllerError, isControllerError, isControllerRefusal, type ListParams, newRequestId } from '../../src/arvados/client.js';
import type { RawRequest } from '../../src/arvados/http.js';
import { ControllerTokens } from '../../src/arvados/token-calls.js';
import { listQuery } from '../../src/arvados/list-query.js';
import { PROXIED_NAME_SUFFIX, startHttpProxy } from '../fixtures/http-proxy.js';
import { systemClock } from '../../src/clock/index.js';
import type { TestController } from '../fixtures/controller.js';
import { captureLogger, makeClient, OTHER_TOKEN, OTHER_UUID, ROOT_TOKEN, startController } from './helpers.js';

/** A client whose every request is answered 200 with `text`, without a network; `sent` lists the requests. */
function answeringWith(text: string): { client: Client; sent: RawRequest[] } {
  const sent: RawRequest[] = [];
  const client = new Client({
    baseURL: 'http://controller.invalid',
    token: ROOT_TOKEN,
    clock: systemClock,
    logger: captureLogger().logger,
    transport: {
      send: (req) => {
        sent.push(req);
        return Promise.resolve({ status: 200, text });
      },
      close: () => undefined,
    },
  });
  return { client, sent };
}
describe('ControllerClient calls', () => {
  let ctl: TestController;
  let client: ControllerClient;
  /** The token calls, through `client`. */
  let tokens: ControllerTokens;
  let lines: ReturnType<typeof captureLogger>['lines'];

  beforeEach(async () => {
    ctl = await startController();
    const cap = captureLogger();
    lines = cap.lines;
    client = makeClient(ctl.url, { logger: cap.logger });
    tokens = new ControllerTokens(client, systemClock);
  });

  afterEach(async () => {
    client.close();
    await ctl.stop();
  });

  const last = () => ctl.requestLog().at(-1)!;

  it('learns its token uuid once', async () => {
    assert.equal(await client.currentTokenUuid(), ctl.rootTokenUuid);
    assert.equal(await client.currentTokenUuid(), ctl.rootTokenUuid);
    assert.equal(ctl.stats['GET /arvados/v1/api_client_authorizations/current'], 1);
  });

  it('lists containers with filters, select, order, limit, offset and count=none', async () => {
    for (let i = 0; i < 5; i++) ctl.addContainer({ priority: i + 1 });
    const list = await client.listContainers({
      filters: [['state', '=', 'Queued'], ['priority', '>', 1]],
      select: ['uuid', 'priority'],
      order: ['priority desc', 'uuid'],
      limit: 2,
      offset: 1,
    });
    assert.deepEqual(list.items.map((c) => c.priority), [4, 3]);
    assert.deepEqual(Object.keys(list.items[0]).sort(), ['kind', 'priority', 'uuid']);
    assert.equal(list.items_available, undefined, 'count=none: no count');
    assert.deepEqual(last().query, {
      filters: '[["state","=","Queued"],["priority",">",1]]',
      select: '["uuid","priority"]',
      order: '["priority desc","uuid"]',
      limit: '2',
      offset: '1',
      count: 'none',
    });
  });

  it('sends a single order term as a plain string', async () => {
    await client.listContainers({ filters: [], order: 'uuid' });
    assert.equal(last().query.order, 'uuid');
  });

  it('sends parameters of 1000 encoded bytes or more as a POST form body with X-Http-Method-Override: GET, as the Go SDK does; shorter ones in the query string', async () => {
    const { client: capture, sent } = answeringWith('{"items":[]}');
    // A filter value padded so that the encoded parameters are exactly `bytes` long.
    const paramsOf = (bytes: number): ListParams => {
      const base = new URLSearchParams(listQuery({ filters: [['uuid', '=', '']] })).toString().length;
      return { filters: [['uuid', '=', 'x'.repeat(bytes - base)]] };
    };
    await capture.listContainers(paramsOf(999));
    await capture.listContainers(paramsOf(1000));
    await capture.currentTokenUuid().catch(() => undefined);
    const [short, long, none] = sent;
    assert.equal(short.method, 'GET');
    assert.equal(short.url.search.length, 1 + 999);
    assert.equal(short.body, undefined);
    assert.equal(short.headers['X-Http-Method-Override'], undefined);
    assert.equal(long.method, 'POST');
    assert.equal(long.url.href, 'http://controller.invalid/arvados/v1/containers', 'no query string left');
    assert.equal(long.headers['X-Http-Method-Override'], 'GET');
    assert.equal(long.headers['Content-Type'], 'application/x-www-form-urlencoded');
    assert.equal(long.body?.length, 1000);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(long.body)), listQuery(paramsOf(1000)));
    assert.equal(none.method, 'GET', 'no parameters: a plain GET');
    assert.equal(none.body, undefined);
  });

  it("sends the queue's uuid-in checks and the container_requests lookups (100 uuids) as form bodies, which the test controller answers", async () => {
    const proxy = await startHttpProxy();
    const c = makeClient(`http://controller${PROXIED_NAME_SUFFIX}:${new URL(ctl.url).port}`, { proxyEnv: { HTTP_PROXY: proxy.url } });
    try {
      const uuids = Array.from({ length: 100 }, () => ctl.addContainer().uuid);
      const crs = uuids.map((u) => ctl.addContainerRequest({ owner_uuid: 'zzzzz-tpzed-aaaaaaaaaaaaaaa', container_uuid: u }).uuid);
      const checked = await c.listContainers({ filters: [['uuid', 'in', uuids]], select: ['uuid', 'state', 'priority', 'locked_by_uuid', 'lock_count'], order: 'uuid', limit: 100 });
      assert.deepEqual(checked.items.map((x) => x.uuid), [...uuids].sort());
      const requests = await c.listContainerRequests({
        filters: [['container_uuid', 'in', uuids]],
        select: ['uuid', 'owner_uuid', 'container_uuid', 'requesting_container_uuid', 'modified_by_user_uuid'],
        order: 'uuid',
        limit: 1000,
      });
      assert.deepEqual(requests.items.map((x) => x.uuid).sort(), [...crs].sort());
      assert.deepEqual(
        proxy.seen.map((r) => [r.method, new URL(r.target).pathname, new URL(r.target).search]),
        [
          ['POST', '/arvados/v1/containers', ''],
          ['POST', '/arvados/v1/container_requests', ''],
        ],
      );
      assert.deepEqual(ctl.requestLog().slice(-2).map((r) => [r.method, r.route]), [
        ['GET', '/arvados/v1/containers'],
        ['GET', '/arvados/v1/container_requests'],
      ]);
    } finally {
      c.close();
      await proxy.stop();
    }
  });

  it('sends a long filter list (600 uuids) in a form body', async () => {
    // As a URL this would pass Node's 16 KiB header limit and be refused with 431.
    const uuids = Array.from({ length: 600 }, () => ctl.addContainer().uuid);
    const list = await client.listContainers({ filters: [['uuid', 'in', uuids]], select: ['uuid'], order: 'uuid', limit: 1000 });
    assert.deepEqual(list.items.map((c) => c.uuid), uuids);
    assert.equal(last().method, 'GET');
  });

  it('gets a container, whole or selected attributes', async () => {
    const c = ctl.addContainer({ priority: 7, runtime_constraints: { vcpus: 2, ram: 123 } });
    const got = await client.getContainer(c.uuid);
    assert.equal(got.uuid, c.uuid);
    assert.equal(got.priority, 7);
    assert.deepEqual(got.runtime_constraints, { vcpus: 2, ram: 123 });
    const some = await client.getContainer(c.uuid, ['state']);
    assert.deepEqual(some, { kind: 'arvados#container', state: 'Queued' });
  });

  it('locks and unlocks: the answers carry the new state and holder', async () => {
    const c = ctl.addContainer();
    const locked = await client.lockContainer(c.uuid);
    assert.equal(locked.state, 'Locked');
    assert.equal(locked.locked_by_uuid, ctl.rootTokenUuid);
    assert.equal(ctl.get(c.uuid)?.lock_count, 1);
    const unlocked = await client.unlockContainer(c.uuid);
    assert.equal(unlocked.state, 'Queued');
    assert.equal(unlocked.locked_by_uuid, null);
    assert.deepEqual(ctl.history(c.uuid).map((h) => h.state), ['Queued', 'Locked', 'Queued']);
  });

  it('updates with PUT {"container": attrs}, and asks lock, unlock and update replies for the fields it reads, never the mounts', async () => {
    const c = ctl.addContainer();
    const locked = await client.lockContainer(c.uuid);
    assert.deepEqual(Object.keys(locked).sort(), ['kind', 'lock_count', 'locked_by_uuid', 'priority', 'state', 'uuid']);
    assert.equal(locked.lock_count, 1);
    await client.updateContainer(c.uuid, { runtime_status: { error: 'why' } });
    const cancelled = await client.updateContainer(c.uuid, { state: 'Cancelled' });
    assert.equal(cancelled.state, 'Cancelled');
    assert.equal(cancelled.command, undefined, 'not the whole record');
    assert.equal(last().method, 'PUT');
    assert.deepEqual(JSON.parse(last().query.select), ['uuid', 'state', 'priority', 'locked_by_uuid', 'lock_count']);
    assert.equal(ctl.get(c.uuid)?.runtime_status.error, 'why');
  });

  it('makes a scoped, expiring token with POST {"api_client_authorization": ...} and deletes it; a token already gone is no error', async () => {
    const expiresAt = Date.now() + 3_600_000;
    const t = await tokens.createToken(['GET /arvados/v1/containers/'], expiresAt);
    assert.equal(last().method, 'POST');
    assert.equal(last().route, '/arvados/v1/api_client_authorizations');
    const kept = ctl.tokens.get(t.uuid)!;
    assert.deepEqual(kept.scopes, ['GET /arvados/v1/containers/']);
    assert.equal(kept.expiresAt, expiresAt);
    assert.equal(t.token, `v2/${t.uuid}/${kept.secret}`);
    assert.equal(t.expiresAt, expiresAt);
    await tokens.deleteToken(t.uuid);
    assert.equal(ctl.tokens.get(t.uuid), undefined);
    await tokens.deleteToken(t.uuid);
    assert.equal(last().status, 404);
    assert.ok(!lines.lines.some((l) => l.includes(kept.secret)), 'the new token was logged');
  });

  it("takes a sooner expiry from the controller's answer, and refuses an answer without a usable uuid or token", async () => {
    const asked = Date.now() + 24 * 3_600_000;
    const sooner = new Date(asked - 20 * 3_600_000).toISOString();
    const ahead = Date.now() + 90 * 60_000;
    const answers: Array<[Record<string, unknown>, RegExp | number]> = [
      [{ uuid: 'zzzzz-gj3su-capped000000001', api_token: 'abc', expires_at: sooner }, Date.parse(sooner)],
      // A controller clock 90 minutes ahead: the life it granted (expires_at - created_at), counted from our now.
      [{ uuid: 'zzzzz-gj3su-capped000000001', api_token: 'abc', created_at: new Date(ahead).toISOString(), expires_at: new Date(ahead + 30 * 60_000).toISOString() }, -1],
      [{ uuid: 'zzzzz-gj3su-capped000000001', api_token: 'v2/zzzzz-gj3su-capped000000001/abc', expires_at: null }, asked],
      [{ api_token: 'abc' }, /no well-formed uuid/],
      [{ uuid: 'zzzzz-gj3su-capped000000001', api_token: 'a b' }, /no usable api_token/],
      [{ uuid: 'zzzzz-gj3su-capped000000001' }, /no usable api_token/],
    ];
    for (const [body, want] of answers) {
      ctl.setHook((req) => (req.path === '/arvados/v1/api_client_authorizations' ? { status: 200, body } : undefined));
      if (want === -1) {
        const before = Date.now();
        const t = await tokens.createToken(['all'], asked);
        assert.ok(t.expiresAt >= before + 30 * 60_000 && t.expiresAt <= Date.now() + 30 * 60_000, `expires in ${t.expiresAt - Date.now()} ms`);
      } else if (typeof want === 'number') {
        const t = await tokens.createToken(['all'], asked);
        assert.equal(t.expiresAt, want);
        assert.equal(t.token, 'v2/zzzzz-gj3su-capped000000001/abc');
      } else {
        await assert.rejects(tokens.createToken(['all'], asked), want);
      }
    }
  });

  it('asks whether the controller still accepts a token with that token itself: true for a live one, false once deleted', async () => {
    const t = await tokens.createToken(['GET /arvados/v1/containers/'], Date.now() + 60_000);
    assert.equal(await tokens.tokenAccepted(t.token), true);
    assert.equal(last().tokenUuid, t.uuid, 'asked with the token being checked, not the client\'s');
    assert.equal(last().route, '/arvados/v1/api_client_authorizations/current');
    await tokens.deleteToken(t.uuid);
    assert.equal(await tokens.tokenAccepted(t.token), false);
    assert.equal(await tokens.tokenAccepted(ROOT_TOKEN), true);
    ctl.setHook((req) => (req.path === '/arvados/v1/api_client_authorizations/current' ? { status: 500, body: { errors: ['boom'] } } : undefined));
    await assert.rejects(tokens.tokenAccepted(ROOT_TOKEN), (err: unknown) => isControllerError(err) && err.status === 500);
  });

  it('does not send a token create again after a failed attempt, and does not fence it', async () => {
    let n = 0;
    ctl.setHook((req) => (req.path === '/arvados/v1/api_client_authorizations' && ++n === 1 ? { status: 502, body: { errors: ['bad gateway'] } } : undefined));
    const fenced = makeClient(ctl.url, { fence: { check: () => assert.fail('the fence was consulted') } });
    try {
      await assert.rejects(new ControllerTokens(fenced, systemClock).createToken(['all'], Date.now() + 60_000), (err: unknown) => isControllerError(err) && err.status === 502 && err.temporary);
      assert.equal(n, 1);
      const t = await new ControllerTokens(fenced, systemClock).createToken(['all'], Date.now() + 60_000);
      await new ControllerTokens(fenced, systemClock).deleteToken(t.uuid);
    } finally {
      fenced.close();
    }
  });

  it('turns a 4xx into a ControllerError with the controller text, method and path, without retrying', async () => {
    const c = ctl.addContainer();
    await makeClient(ctl.url, { token: OTHER_TOKEN }).lockContainer(c.uuid);
    const err = await client.lockContainer(c.uuid).then(
      () => assert.fail('lock should be refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ControllerError);
    assert.equal(err.status, 422);
    assert.deepEqual(err.errors, ['cannot lock when Locked']);
    assert.equal(err.requestId, last().requestId);
    assert.equal(err.message, `POST /arvados/v1/containers/${c.uuid}/lock: HTTP 422: cannot lock when Locked (request ${err.requestId})`);
    assert.equal(err.temporary, false);
    assert.ok(isControllerRefusal(err) && isControllerError(new Error('wrapped', { cause: err })));
    assert.equal(ctl.stats['POST /arvados/v1/containers/{uuid}/lock'], 2, 'one by the other dispatcher, one by us: no retry');
    assert.equal(ctl.get(c.uuid)?.locked_by_uuid, OTHER_UUID);
  });

  it('reports 404 and 403 the same way', async () => {
    await assert.rejects(client.getContainer('zzzzz-dz642-nosuchcontainer'), (e: ControllerError) => {
      assert.equal(e.status, 404);
      assert.match(e.message, /^GET \/arvados\/v1\/containers\/zzzzz-dz642-nosuchcontainer: HTTP 404: container .* not found \(request req-[0-9a-z]{20}\)$/);
      return true;
    });
    const c = ctl.addContainer();
    await makeClient(ctl.url, { token: OTHER_TOKEN }).lockContainer(c.uuid);
    await assert.rejects(client.unlockContainer(c.uuid), (e: ControllerError) => e.status === 403 && e.errors[0] === 'locked by a different token');
  });

  it('sends X-Request-Id: req- and 20 characters of [0-9a-z], a new one for each call', async () => {
    const c = ctl.addContainer();
    for (let i = 0; i < 20; i++) await client.getContainer(c.uuid);
    await client.lockContainer(c.uuid);
    await client.listContainers({ filters: [['uuid', 'in', Array.from({ length: 40 }, () => c.uuid)]] });
    const ids = ctl.requestLog().map((r) => r.requestId ?? '');
    assert.equal(ids.length, 22);
    for (const id of ids) assert.match(id, /^req-[0-9a-z]{20}$/);
    assert.equal(new Set(ids).size, ids.length, 'no two calls share an ID');
    assert.equal(newRequestId().length, 24);
  });

  it('logs each request at debug (method, path, status, duration) and never the token', async () => {
    const c = ctl.addContainer();
    await client.getContainer(c.uuid);
    await client.lockContainer(c.uuid).catch(() => undefined);
    await client.lockContainer(c.uuid).catch(() => undefined);
    const recs = lines.records().filter((r) => r.msg === 'controller request');
    assert.deepEqual(
      recs.map((r) => [r.level, r.Method, r.Path, r.Status]),
      [
        ['debug', 'GET', `/arvados/v1/containers/${c.uuid}`, 200],
        ['debug', 'POST', `/arvados/v1/containers/${c.uuid}/lock`, 200],
        ['debug', 'POST', `/arvados/v1/containers/${c.uuid}/lock`, 422],
      ],
    );
    assert.ok(recs.every((r) => typeof r.DurationMs === 'number'));
    assert.deepEqual(
      recs.map((r) => r.RequestId),
      ctl.requestLog().map((r) => r.requestId),
      'the ID each request was sent with',
    );
    assert.ok(!lines.lines.join('\n').includes(ROOT_TOKEN));
  });

  it('refuses a container_requests list answer that has no items array, as a containers list answer', async () => {
    for (const body of [{}, { items: null }, { items: {} }, null]) {
      ctl.setHook(() => ({ status: 200, body }));
      await assert.rejects(client.listContainerRequests({ filters: [] }), /GET \/arvados\/v1\/container_requests: the answer has no items array/);
      await assert.rejects(client.listContainers({ filters: [] }), /GET \/arvados\/v1\/containers: the answer has no items array/);
    }
  });

  it('names itself arvados-dispatch-cloud in the User-Agent by default, for the controller\'s logs', async () => {
    await client.currentTokenUuid();
    assert.equal(client.userAgent, 'arvados-dispatch-cloud');
    assert.equal(last().caller, 'arvados-dispatch-cloud');
  });

  it('sends the token as "Authorization: Bearer <token>", as the reference client does, and a token check sends the token it asks about instead', async () => {
    const { client: answering, sent } = answeringWith('{"uuid": "zzzzz-gj3su-000000000000001"}');
    await answering.currentTokenUuid();
    await new ControllerTokens(answering, systemClock).tokenAccepted(OTHER_TOKEN);
    assert.deepEqual(
      sent.map((r) => r.headers.Authorization),
      [`Bearer ${ROOT_TOKEN}`, `Bearer ${OTHER_TOKEN}`],
    );
  });

  it('sends a body with characters beyond ASCII whole: its length in bytes, not in characters', async () => {
    const c = ctl.addContainer();
    await client.lockContainer(c.uuid);
    const error = 'naïve café – ✓ 容器 failed';
    await client.updateContainer(c.uuid, { runtime_status: { error } });
    assert.equal(ctl.get(c.uuid)?.runtime_status.error, error);
    // The connection is still good for the next call.
    assert.equal((await client.getContainer(c.uuid)).uuid, c.uuid);
  });

  it('sends a JSON body with Content-Type: application/json, which the API server needs to read it, and no Content-Type without a body', async () => {
    const { client: answering, sent } = answeringWith('{"uuid": "zzzzz-dz642-000000000000001", "state": "Locked"}');
    await answering.updateContainer('zzzzz-dz642-000000000000001', { priority: 1 });
    await answering.lockContainer('zzzzz-dz642-000000000000001');
    assert.deepEqual(
      sent.map((r) => [r.method, r.headers['Content-Type'], r.body]),
      [
        ['PUT', 'application/json', '{"container":{"priority":1}}'],
        ['POST', undefined, undefined],
      ],
    );
  });

  it('fails a 2xx answer that is not JSON (a captive portal\'s page) for good, not as temporary, and does not send it again', async () => {
    const { client: portal, sent } = answeringWith('<html>captive portal</html>');
    await assert.rejects(portal.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => {
      assert.deepEqual([e.status, e.errors, e.temporary, e.attempts], [200, ['malformed JSON in the response'], false, 1]);
      return true;
    });
    assert.equal(sent.length, 1);
  });

  it('keeps the first 300 characters of an error answer that is not the controller\'s (a proxy\'s page), not all of it', async () => {
    const page = `<html>${'x'.repeat(5000)}</html>`;
    ctl.setHook(() => ({ status: 404, body: page }));
    await assert.rejects(client.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => {
      assert.equal(e.errors.length, 1);
      assert.equal(e.errors[0], JSON.stringify(page).slice(0, 300));
      assert.ok(e.message.length < 500);
      return true;
    });
  });

  it('takes a 403 to the token check, as a 401, for a token the controller no longer accepts', async () => {
    for (const status of [401, 403]) {
      ctl.setHook((req) => (req.path === '/arvados/v1/api_client_authorizations/current' ? { status, body: { errors: ['not allowed'] } } : undefined));
      assert.equal(await tokens.tokenAccepted('v2/zzzzz-gj3su-000000000000001/secret'), false, `HTTP ${status}`);
    }
  });
});
