/**
 * The test controller's tokens follow the API server's rules: tokens made
 * through the API have scopes and an expiry; a scope allows an exact path or,
 * with a trailing slash, every path under it; `current` is always allowed;
 * an expired or deleted token is unknown; and the event feed sends an event
 * only to a token that may read its object.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import type { TestController } from '../../src/testcontroller/index.js';
import { allows } from '../../src/testcontroller/tokens.js';
import { FeedClient } from './feed-client.js';
import { call, errorsOf, list, lock, startController } from './helpers.js';

const HOUR = 3_600_000;

describe('test controller tokens', () => {
  let clock: ManualClock;
  let ctl: TestController;
  const clients: FeedClient[] = [];

  beforeEach(async () => {
    clock = new ManualClock();
    ctl = await startController({ clock });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await ctl.stop();
  });

  async function makeToken(attrs: Record<string, unknown>): Promise<{ uuid: string; secret: string; body: Record<string, unknown> }> {
    const r = await call(ctl, 'POST', '/arvados/v1/api_client_authorizations', { body: { api_client_authorization: attrs } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return { uuid: String(r.body.uuid), secret: String(r.body.api_token), body: r.body };
  }

  it('scopes: all, an exact request, a prefix ending in a slash, HEAD by GET, and current for anyone', () => {
    const c = '/arvados/v1/containers/zzzzz-dz642-000000000000001';
    assert.equal(allows(['all'], 'POST', `${c}/lock`), true);
    assert.equal(allows(['GET /arvados/v1/containers/'], 'GET', c), true);
    assert.equal(allows(['GET /arvados/v1/containers/'], 'HEAD', c), true);
    assert.equal(allows(['GET /arvados/v1/containers/'], 'GET', '/arvados/v1/containers'), false, 'the list is not under the prefix');
    assert.equal(allows(['GET /arvados/v1/containers/'], 'POST', `${c}/lock`), false);
    assert.equal(allows(['GET /arvados/v1/containers'], 'GET', c), false, 'without the slash, only that exact path');
    assert.equal(allows(['GET /arvados/v1/containers'], 'GET', '/arvados/v1/containers'), true);
    assert.equal(allows([], 'GET', '/arvados/v1/api_client_authorizations/current'), true);
    assert.equal(allows([], 'GET', c), false);
  });

  it('makes a scoped, expiring token that may read containers and nothing else, in either token form', async () => {
    const ctr = ctl.addContainer();
    const expires = new Date(clock.now() + HOUR).toISOString();
    const t = await makeToken({ scopes: ['GET /arvados/v1/containers/'], expires_at: expires });
    assert.match(t.uuid, /^zzzzz-gj3su-[0-9a-z]{15}$/);
    assert.deepEqual(t.body.scopes, ['GET /arvados/v1/containers/']);
    assert.equal(Date.parse(String(t.body.expires_at)), Date.parse(expires));
    for (const token of [t.secret, `v2/${t.uuid}/${t.secret}`]) {
      assert.equal((await call(ctl, 'GET', `/arvados/v1/containers/${ctr.uuid}`, { token })).status, 200);
      const listed = await list(ctl, {});
      assert.equal(listed.status, 200, 'the root token still lists');
      const refused = await call(ctl, 'GET', '/arvados/v1/containers', { token });
      assert.equal(refused.status, 403);
      assert.match(errorsOf(refused), /scopes .* do not allow GET \/arvados\/v1\/containers/);
      assert.equal((await lock(ctl, ctr.uuid, token)).status, 403);
      const current = await call(ctl, 'GET', '/arvados/v1/api_client_authorizations/current', { token });
      assert.equal(current.status, 200);
      assert.equal(current.body.uuid, t.uuid);
      assert.deepEqual(current.body.scopes, ['GET /arvados/v1/containers/']);
    }
    assert.equal((await call(ctl, 'GET', `/arvados/v1/containers/${ctr.uuid}`, { token: `v2/zzzzz-gj3su-t99999999999999/${t.secret}` })).status, 401, 'a v2 token with the wrong uuid');
    assert.equal(ctl.requestLog().at(-1)?.tokenUuid, undefined);
    await clock.advance(HOUR);
    const expired = await call(ctl, 'GET', `/arvados/v1/containers/${ctr.uuid}`, { token: t.secret });
    assert.equal(expired.status, 401, 'expired');
  });

  it('takes the Go SDK form too, and forgets a deleted token; deleting an unknown one is a 404', async () => {
    const form = new URLSearchParams({ api_client_authorization: JSON.stringify({ scopes: ['all'] }) }).toString();
    const r = await call(ctl, 'POST', '/arvados/v1/api_client_authorizations', { rawBody: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.expires_at, null);
    const token = String(r.body.api_token);
    assert.equal((await list(ctl, {})).status, 200);
    assert.equal((await call(ctl, 'GET', '/arvados/v1/containers', { token })).status, 200);
    assert.deepEqual(ctl.tokens.issued().map((x) => x.uuid), [r.body.uuid]);
    assert.equal((await call(ctl, 'DELETE', `/arvados/v1/api_client_authorizations/${String(r.body.uuid)}`)).status, 200);
    assert.equal((await call(ctl, 'GET', '/arvados/v1/containers', { token })).status, 401);
    assert.deepEqual(ctl.tokens.issued(), []);
    assert.equal((await call(ctl, 'DELETE', `/arvados/v1/api_client_authorizations/${String(r.body.uuid)}`)).status, 404);
    const bad = await call(ctl, 'POST', '/arvados/v1/api_client_authorizations', { body: { api_client_authorization: { scopes: 'all' } } });
    assert.equal(bad.status, 422);
    const badTime = await call(ctl, 'POST', '/arvados/v1/api_client_authorizations', { body: { api_client_authorization: { expires_at: 'soon' } } });
    assert.equal(badTime.status, 422);
  });

  it('a scoped token cannot make tokens of its own', async () => {
    const t = await makeToken({ scopes: ['GET /arvados/v1/containers/'] });
    const r = await call(ctl, 'POST', '/arvados/v1/api_client_authorizations', { token: t.secret, body: { api_client_authorization: { scopes: ['all'] } } });
    assert.equal(r.status, 403);
  });

  it('the event feed sends a container event only to a token that may read it, and nothing once it has expired', async () => {
    const reader = await makeToken({ scopes: ['GET /arvados/v1/containers/'], expires_at: new Date(clock.now() + HOUR).toISOString() });
    const other = await makeToken({ scopes: ['GET /arvados/v1/collections/'] });
    const open = async (token: string): Promise<FeedClient> => {
      const c = await FeedClient.open(ctl.feed.url, token);
      clients.push(c);
      await c.subscribe();
      return c;
    };
    const scoped = await open(`v2/${reader.uuid}/${reader.secret}`);
    const wrongScope = await open(other.secret);
    ctl.addContainer();
    assert.equal(FeedClient.events(await scoped.barrier()).length, 1);
    assert.deepEqual(await wrongScope.barrier(), []);
    assert.deepEqual(
      ctl.feed.connections().map((c) => [c.tokenKnown, c.tokenUuid]),
      [
        [true, reader.uuid],
        [true, other.uuid],
      ],
    );
    await clock.advance(HOUR);
    ctl.addContainer();
    assert.deepEqual(FeedClient.events(await scoped.barrier()), [], 'an expired token is sent nothing');
  });
});
