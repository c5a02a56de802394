/**
 * Fuzz: the event feed's own token against whatever the controller answers.
 *
 * - `issuedToken` (the client's reading of a token create's answer), given
 *   any JSON, either returns a usable token (a well-formed uuid, the
 *   `v2/<uuid>/<secret>` form with no whitespace, an expiry no later than
 *   asked) or throws an Error naming the request; never a TypeError.
 * - `FeedTokens`, over a sequence of creates that succeed with odd
 *   lifetimes, fail with any status or without an answer, and a clock that
 *   jumps, always hands the feed either a token the controller issued and
 *   that has not reached its renewal time, or the root token (only after a
 *   refusal or a 500/501), or rejects (only after an answer-less or
 *   temporary failure); it deletes every token it replaced, and keeps none
 *   after `revoke()`.
 *
 * Full count: `FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/feed-token.test.ts`.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ControllerError } from '../../src/arvados/errors.js';
import { TOKEN_UUID } from '../../src/arvados/client-wire.js';
import { issuedToken } from '../../src/arvados/token-calls.js';
import { FeedTokens, type IssuedToken, type TokenIssuer } from '../../src/arvados/feed-token.js';
import { ManualClock } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { fuzzParams } from './runs.js';

const ROOT = 'rootTokenForTheFeedTokenFuzz0123456789';
const uuidArb = fc.oneof(
  fc.stringMatching(/^[0-9a-z]{5}-gj3su-[0-9a-z]{15}$/),
  fc.string(),
  fc.constant('zzzzz-gj3su-000000000000000 '),
);
const answerArb = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      uuid: fc.oneof(uuidArb, fc.jsonValue()),
      api_token: fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-z]{20,50}$/), fc.constant('v2/x/y'), fc.jsonValue()),
      expires_at: fc.oneof(fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'garbage' : d.toISOString())), fc.constant(null), fc.jsonValue()),
    },
    { requiredKeys: [] },
  ),
);

describe('fuzz: the event feed token', () => {
  it('reads any answer to a token create as a usable token or an Error naming the request', () => {
    fc.assert(
      fc.property(answerArb, fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.integer({ min: 0, max: 4_000_000_000_000 }), (answer, asked, now) => {
        let t: IssuedToken;
        try {
          t = issuedToken(answer, asked, now);
        } catch (err) {
          assert.ok(err instanceof Error && err.constructor === Error, `not a plain Error: ${String(err)}`);
          assert.match(err.message, /^POST \/arvados\/v1\/api_client_authorizations: /);
          return;
        }
        assert.match(t.uuid, TOKEN_UUID);
        assert.ok(t.token.startsWith('v2/'), t.token);
        assert.match(t.token, /^[\x21-\x7e]+$/);
        assert.ok(Number.isFinite(t.expiresAt) && t.expiresAt <= asked, `expires ${t.expiresAt}, asked ${asked}`);
      }),
      fuzzParams(500),
    );
  });

  type Step =
    | { kind: 'ok'; lifetimeMs: number }
    | { kind: 'status'; status: number }
    | { kind: 'network' }
    | { kind: 'advance'; ms: number };
  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('ok' as const), lifetimeMs: fc.integer({ min: -60_000, max: 4 * 3_600_000 }) }),
    fc.record({ kind: fc.constant('status' as const), status: fc.constantFrom(400, 401, 403, 404, 408, 422, 429, 500, 501, 502, 503, 504) }),
    fc.record({ kind: fc.constant('network' as const) }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3 * 3_600_000 }) }),
  );

  it('hands out only live issued tokens or, after a refusal, the root token; deletes what it replaces; keeps nothing after revoke', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 30 }), async (steps) => {
        const clock = new ManualClock();
        const live = new Map<string, { token: string; expiresAt: number }>();
        const deleted: string[] = [];
        let n = 0;
        let next: Step = { kind: 'network' };
        const issuer: TokenIssuer = {
          async createToken(_scopes, expiresAt) {
            const s = next;
            if (s.kind === 'status') {
              throw new ControllerError({ method: 'POST', path: '/x', status: s.status, errors: ['no'], attempts: 1, temporary: s.status >= 500 || s.status === 408 || s.status === 429, requestId: 'r' });
            }
            if (s.kind !== 'ok') throw new ControllerError({ method: 'POST', path: '/x', errors: ['ECONNRESET'], attempts: 1, temporary: true, requestId: 'r' });
            n++;
            const uuid = `zzzzz-gj3su-${String(n).padStart(15, '0')}`;
            const t = { uuid, token: `v2/${uuid}/s${n}`, expiresAt: Math.min(expiresAt, clock.now() + s.lifetimeMs) };
            live.set(uuid, t);
            return t;
          },
          async deleteToken(uuid) {
            deleted.push(uuid);
            live.delete(uuid);
          },
          tokenAccepted: async () => true,
        };
        const tokens = new FeedTokens({ issuer, rootToken: ROOT, clock, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
        let lastIssued: string | undefined;
        for (const step of steps) {
          if (step.kind === 'advance') {
            await clock.advance(step.ms);
            continue;
          }
          next = step;
          const before = n;
          let got: Awaited<ReturnType<FeedTokens['get']>>;
          try {
            got = await tokens.get();
          } catch (err) {
            assert.ok(step.kind === 'network' || (step.kind === 'status' && ![400, 401, 403, 404, 422, 500, 501].includes(step.status)), `rejected after ${JSON.stringify(step)}`);
            assert.match((err as Error).message, /making the event feed's token/);
            continue;
          }
          assert.ok(got.renewAt === undefined || got.renewAt > clock.now() - 1, 'a credential already due');
          if (got.token === ROOT) {
            assert.equal(tokens.kind(), 'root');
            continue;
          }
          assert.equal(tokens.kind(), 'own');
          const uuid = /^v2\/([^/]+)\//.exec(got.token)![1];
          assert.ok(live.has(uuid), 'handed a token that was deleted');
          assert.ok(live.get(uuid)!.expiresAt > got.renewAt!, 'handed a token that expires before its renewal');
          assert.ok(got.renewAt! >= clock.now(), 'handed a token due for renewal');
          if (n > before && lastIssued !== undefined && lastIssued !== uuid) {
            await clock.advance(0);
            assert.ok(deleted.includes(lastIssued), 'the replaced token was not deleted');
          }
          lastIssued = uuid;
        }
        await tokens.revoke();
        await clock.advance(10_000);
        assert.deepEqual([...live.keys()].filter((u) => u === lastIssued), [], 'the current token outlived revoke()');
      }),
      fuzzParams(300),
    );
  });
});
