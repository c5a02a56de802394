/**
 * The event feed's own token (`src/arvados/feed-token.ts`): made scoped and
 * expiring, renewed halfway, the old one deleted; the root token only when
 * the controller refuses, with a warning and another try an hour later; an
 * attempt failed when the controller cannot answer; deleted at stop.
 * Object-literal issuers on the manual clock.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/manual.js';
import { ControllerError } from '../../src/arvados/errors.js';
import { isTemporaryStatus } from '../../src/arvados/client-limits.js';
import { FEED_TOKEN_LIFETIME_MS, FEED_TOKEN_SCOPES, FeedTokens, REFUSAL_RETRY_MS, type IssuedToken, type TokenIssuer } from '../../src/arvados/feed-token.js';
import { captureLogger } from './helpers.js';

const ROOT = 'rootTokenForFeedTokenTests0123456789';
const HOUR = 3_600_000;

/** An issuer that makes tokens as a controller would (optionally capping lifetimes) and records every call. */
function issuer(o: { capMs?: number; fail?: () => Error | undefined; hangDeletes?: boolean } = {}) {
  const clock = new ManualClock();
  const made: Array<{ scopes: string[]; expiresAt: number }> = [];
  const deleted: string[] = [];
  /** Tokens the controller has forgotten without being asked (an admin deleted them). */
  const forgotten = new Set<string>();
  const checked: string[] = [];
  let checkFails: Error | undefined;
  let n = 0;
  const api: TokenIssuer = {
    async createToken(scopes, expiresAt): Promise<IssuedToken> {
      const err = o.fail?.();
      if (err) throw err;
      made.push({ scopes, expiresAt });
      n++;
      const uuid = `zzzzz-gj3su-feedtoken${String(n).padStart(6, '0')}`;
      return { uuid, token: `v2/${uuid}/secret${n}`, expiresAt: o.capMs === undefined ? expiresAt : Math.min(expiresAt, clock.now() + o.capMs) };
    },
    async deleteToken(uuid) {
      if (o.hangDeletes) await new Promise(() => undefined);
      deleted.push(uuid);
    },
    async tokenAccepted(token) {
      checked.push(token);
      if (checkFails) throw checkFails;
      return !forgotten.has(token) && !deleted.some((u) => token.includes(u));
    },
  };
  return { clock, api, made, deleted, forgotten, checked, failChecks: (e: Error | undefined) => (checkFails = e) };
}

function refusal(status: number): ControllerError {
  return new ControllerError({ method: 'POST', path: '/arvados/v1/api_client_authorizations', status, errors: ['Forbidden'], attempts: 1, temporary: status >= 500, requestId: 'req-x' });
}

describe('event feed token', () => {
  it('makes a token scoped to reading containers, expiring in two hours, and hands it out until half its life has gone', async () => {
    const { clock, api, made } = issuer();
    const { logger, lines } = captureLogger();
    const tokens = new FeedTokens({ issuer: api, rootToken: ROOT, clock, logger });
    const t0 = clock.now();
    const first = await tokens.get();
    assert.deepEqual(made, [{ scopes: ['GET /arvados/v1/containers/'], expiresAt: t0 + FEED_TOKEN_LIFETIME_MS }]);
    assert.deepEqual(FEED_TOKEN_SCOPES, ['GET /arvados/v1/containers/']);
    assert.equal(first.token, 'v2/zzzzz-gj3su-feedtoken000001/secret1');
    assert.equal(FEED_TOKEN_LIFETIME_MS, 2 * HOUR);
    assert.equal(first.renewAt, t0 + HOUR);
    await clock.advance(HOUR - 1);
    assert.deepEqual(await tokens.get(), first);
    assert.equal(made.length, 1, 'a token still good is not made again');
    const info = lines.records().filter((r) => r.level === 'info');
    assert.equal(info.length, 1);
    assert.match(String(info[0].msg), /token of its own, scoped to reading containers/);
    assert.ok(!lines.lines.some((l) => l.includes('secret1')), 'the token was logged');
  });

  it('at renewal makes a new one and deletes the one before', async () => {
    const { clock, api, made, deleted } = issuer();
    const tokens = new FeedTokens({ issuer: api, rootToken: ROOT, clock, logger: captureLogger().logger });
    const first = await tokens.get();
    await clock.advanceTo(first.renewAt!);
    const second = await tokens.get();
    assert.equal(made.length, 2);
    assert.equal(second.token, 'v2/zzzzz-gj3su-feedtoken000002/secret2');
    assert.equal(second.renewAt, clock.now() + HOUR);
    await clock.advance(0);
    assert.deepEqual(deleted, ['zzzzz-gj3su-feedtoken000001']);
  });

  it('renews halfway through the life the controller granted when it caps the lifetime', async () => {
    const capped = issuer({ capMs: HOUR });
    const a = new FeedTokens({ issuer: capped.api, rootToken: ROOT, clock: capped.clock, logger: captureLogger().logger });
    assert.equal((await a.get()).renewAt, capped.clock.now() + HOUR / 2);
  });

  it('does not use a token granted under two minutes (a controller clock hours ahead): the root token, a warning, and another try in an hour', async () => {
    for (const capMs of [-HOUR, 0, 10_000, 119_999]) {
      const tiny = issuer({ capMs });
      const { logger, lines } = captureLogger();
      const b = new FeedTokens({ issuer: tiny.api, rootToken: ROOT, clock: tiny.clock, logger });
      assert.deepEqual(await b.get(), { token: ROOT, renewAt: tiny.clock.now() + REFUSAL_RETRY_MS });
      assert.equal(b.kind(), 'root');
      await tiny.clock.advance(0);
      assert.deepEqual(tiny.deleted, ['zzzzz-gj3su-feedtoken000001'], 'the short-lived token is deleted');
      const warnings = lines.records().filter((r) => r.level === 'warning');
      assert.equal(warnings.length, 1);
      assert.match(String(warnings[0].msg), /clock may be ahead of this host's/);
    }
    const enough = issuer({ capMs: 120_000 });
    const c = new FeedTokens({ issuer: enough.api, rootToken: ROOT, clock: enough.clock, logger: captureLogger().logger });
    assert.equal((await c.get()).renewAt, enough.clock.now() + 60_000);
  });

  for (const status of [401, 403, 404, 422, 500, 501]) {
    it(`falls back to the root token when the controller will not make one (${status}), warns once, and asks again an hour later`, async () => {
      let refuse = true;
      const { clock, api, made } = issuer({ fail: () => (refuse ? refusal(status) : undefined) });
      const { logger, lines } = captureLogger();
      const tokens = new FeedTokens({ issuer: api, rootToken: ROOT, clock, logger });
      const t0 = clock.now();
      assert.deepEqual(await tokens.get(), { token: ROOT, renewAt: t0 + REFUSAL_RETRY_MS });
      await clock.advance(30 * 60_000);
      assert.deepEqual(await tokens.get(), { token: ROOT, renewAt: t0 + REFUSAL_RETRY_MS }, 'not asked again within the hour');
      const warnings = lines.records().filter((r) => r.level === 'warning');
      assert.equal(warnings.length, 1);
      assert.match(String(warnings[0].msg), /refused .* uses the SystemRootToken/);
      assert.match(String(warnings[0].error), new RegExp(`HTTP ${status}`));
      refuse = false;
      await clock.advanceTo(t0 + REFUSAL_RETRY_MS);
      const scoped = await tokens.get();
      assert.equal(scoped.token, 'v2/zzzzz-gj3su-feedtoken000001/secret1');
      assert.equal(made.length, 1);
    });
  }

  it('fails the attempt, without the root token, when the controller cannot answer now', async () => {
    // 408 and 504 as the client classifies them: a 4xx that is not a refusal, and a 5xx that is not a fault.
    const asClient = (status: number): ControllerError =>
      new ControllerError({ method: 'POST', path: '/arvados/v1/api_client_authorizations', status, errors: ['not now'], attempts: 1, temporary: isTemporaryStatus(status), requestId: 'req-w' });
    const temporary = [
      asClient(408),
      asClient(504),
      new ControllerError({ method: 'POST', path: '/arvados/v1/api_client_authorizations', status: 503, errors: ['busy'], attempts: 1, temporary: true, requestId: 'req-y' }),
      new ControllerError({ method: 'POST', path: '/arvados/v1/api_client_authorizations', status: 502, errors: ['bad gateway'], attempts: 1, temporary: true, requestId: 'req-y' }),
      new ControllerError({ method: 'POST', path: '/arvados/v1/api_client_authorizations', status: 429, errors: ['slow down'], attempts: 1, temporary: true, requestId: 'req-y' }),
      new ControllerError({ method: 'POST', path: '/arvados/v1/api_client_authorizations', errors: ['connect ECONNREFUSED'], attempts: 1, temporary: true, requestId: 'req-z' }),
      new Error('socket hang up'),
    ];
    for (const err of temporary) {
      const { clock, api } = issuer({ fail: () => err });
      const tokens = new FeedTokens({ issuer: api, rootToken: ROOT, clock, logger: captureLogger().logger });
      await assert.rejects(tokens.get(), (e: Error) => {
        assert.match(e.message, /making the event feed's token/);
        assert.equal(e.cause, err);
        return true;
      });
    }
  });

  it('checks its token at the controller when asked: a token the controller forgot is dropped, with a warning, and the next get makes another', async () => {
    const t = issuer();
    const { logger, lines } = captureLogger();
    const tokens = new FeedTokens({ issuer: t.api, rootToken: ROOT, clock: t.clock, logger });
    assert.equal(await tokens.stillValid(), true, 'nothing to check before the first token');
    assert.deepEqual(t.checked, []);
    const first = await tokens.get();
    assert.equal(await tokens.stillValid(), true);
    assert.deepEqual(t.checked, [first.token]);
    t.failChecks(new Error('connect ECONNREFUSED'));
    assert.equal(await tokens.stillValid(), true, 'no telling: keep it');
    t.failChecks(undefined);
    t.forgotten.add(first.token);
    assert.equal(await tokens.stillValid(), false);
    const warnings = lines.records().filter((r) => r.level === 'warning');
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0].msg), /no longer accepts the event feed's token/);
    const second = await tokens.get();
    assert.notEqual(second.token, first.token);
    assert.equal(t.made.length, 2);
  });

  it('does not check the root token', async () => {
    const t = issuer({ fail: () => refusal(403) });
    const tokens = new FeedTokens({ issuer: t.api, rootToken: ROOT, clock: t.clock, logger: captureLogger().logger });
    assert.equal((await tokens.get()).token, ROOT);
    assert.equal(await tokens.stillValid(), true);
    assert.deepEqual(t.checked, []);
  });

  it('deletes its token at stop, and waits at most 5 s for the controller', async () => {
    const { clock, api, deleted } = issuer();
    const tokens = new FeedTokens({ issuer: api, rootToken: ROOT, clock, logger: captureLogger().logger });
    await tokens.get();
    await tokens.revoke();
    assert.deepEqual(deleted, ['zzzzz-gj3su-feedtoken000001']);

    const hung = issuer({ hangDeletes: true });
    const other = new FeedTokens({ issuer: hung.api, rootToken: ROOT, clock: hung.clock, logger: captureLogger().logger });
    await other.get();
    let done = false;
    const revoking = other.revoke().then(() => (done = true));
    await hung.clock.advance(4_999);
    assert.equal(done, false);
    await hung.clock.advance(1);
    await revoking;
    assert.equal(done, true);
  });

  it('stops quietly when the controller fails to delete its token: a debug line names it, as it expires on its own', async () => {
    const { clock, api } = issuer();
    const { logger, lines } = captureLogger();
    const tokens = new FeedTokens({ issuer: { ...api, deleteToken: () => Promise.reject(refusal(503)) }, rootToken: ROOT, clock, logger });
    await tokens.get();
    await tokens.revoke();
    const line = lines.records().find((r) => r.msg === 'could not delete an event feed token; it expires on its own');
    assert.deepEqual(line && [line.level, line.TokenUUID], ['debug', 'zzzzz-gj3su-feedtoken000001']);
  });

  it('deletes a token that was being made when the feed stopped, and keeps none', async () => {
    const { clock, made, deleted } = issuer();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: TokenIssuer = {
      async createToken(scopes, expiresAt) {
        await gate;
        made.push({ scopes, expiresAt });
        return { uuid: 'zzzzz-gj3su-feedtokenlate001', token: 'v2/zzzzz-gj3su-feedtokenlate001/late', expiresAt };
      },
      async deleteToken(uuid) {
        deleted.push(uuid);
      },
      tokenAccepted: async () => true,
    };
    const tokens = new FeedTokens({ issuer: slow, rootToken: ROOT, clock, logger: captureLogger().logger });
    const getting = tokens.get();
    await tokens.revoke();
    release();
    await assert.rejects(getting, /stopped while its token was being made/);
    assert.deepEqual(deleted, ['zzzzz-gj3su-feedtokenlate001']);
  });

  it('deletes its token due for renewal when the controller then refuses to make another, and uses the root token', async () => {
    let refuse = false;
    const { clock, api, made, deleted } = issuer({ fail: () => (refuse ? refusal(403) : undefined) });
    const tokens = new FeedTokens({ issuer: api, rootToken: ROOT, clock, logger: captureLogger().logger });
    const first = await tokens.get();
    await clock.advanceTo(first.renewAt!);
    refuse = true;
    assert.deepEqual(await tokens.get(), { token: ROOT, renewAt: clock.now() + REFUSAL_RETRY_MS });
    await clock.advance(0);
    assert.deepEqual(deleted, ['zzzzz-gj3su-feedtoken000001'], 'the token the root token replaces is deleted at once, not left to expire');
    assert.equal(made.length, 1);
    await tokens.revoke();
    assert.deepEqual(deleted, ['zzzzz-gj3su-feedtoken000001'], 'nothing left to delete at stop');
  });
});
