/**
 * The event feed client against a stand-in arvados-ws on 127.0.0.1: the
 * sockets are real, time is a manual clock, so back-off delays, ping
 * intervals and rate limits are exact, and every wait is for a condition.
 */
import assert from 'node:assert/strict';
import { backoffDelay, type ContainerEvent, EventFeed, type EventFeedOptions, type FeedState } from '../../src/arvados/event-feed.js';
import { ManualClock } from '../../src/clock/index.js';
import type { LineCollector } from '../../src/log.js';
import { containerEvent, FeedServer } from './feed-server.js';
import { captureLogger, waitFor } from './helpers.js';
import { withSslCertFile } from '../fixtures/ssl-cert-file.js';
import { selfSignedCertificate } from './self-signed.js';

const TOKEN = 'feedTestToken0123456789abcdefghij';
const CTR = 'zzzzz-dz642-queuedcontainer';
const OTHER = 'zzzzz-xvhdp-000000000000001';

describe('EventFeed', () => {
  let clock: ManualClock;
  let server: FeedServer;
  let feed: EventFeed;
  let lines: LineCollector;
  let events: ContainerEvent[];
  let subscribed: boolean[];
  let states: FeedState[];

  async function setup(o: { autoPong?: boolean; tls?: { cert: string; key: string }; feed?: Partial<EventFeedOptions>; refuseWith?: number } = {}): Promise<void> {
    clock = new ManualClock();
    server = new FeedServer({ autoPong: o.autoPong, tls: o.tls });
    server.refuseWith = o.refuseWith;
    const base = await server.start();
    const log = captureLogger();
    lines = log.lines;
    events = [];
    subscribed = [];
    states = [];
    feed = new EventFeed({
      url: base,
      token: TOKEN,
      userAgent: 'feed-test/1',
      clock,
      logger: log.logger,
      random: () => 1,
      onEvent: (e) => events.push(e),
      onSubscribed: ({ reconnect }) => subscribed.push(reconnect),
      onStateChange: (s) => states.push(s.state),
      ...o.feed,
    });
    feed.start();
  }

  const connected = (n = 1): Promise<void> => waitFor(`subscription ${n}`, () => feed.status().connects === n && feed.status().state === 'connected');
  /** Waits for a failed attempt to be handled, then moves the clock to the retry; returns the delay. */
  async function retry(): Promise<number> {
    await waitFor('a retry to be scheduled', () => feed.status().retryAt !== undefined);
    const at = feed.status().retryAt!;
    const delay = at - clock.now();
    await clock.advanceTo(at);
    return delay;
  }
  const logged = (level: string, re: RegExp): Record<string, unknown>[] => lines.records().filter((r) => r.level === level && re.test(String(r.msg)));

  afterEach(async () => {
    await feed?.stop();
    await server?.close();
    assert.equal(lines.lines.filter((l) => l.includes(TOKEN)).length, 0, 'the token was logged');
  });

  it('connects with the token and User-Agent, subscribes, and says so once', async () => {
    await setup();
    await connected();
    const c = server.last();
    assert.equal(c.url.pathname, '/websocket');
    assert.equal(c.url.searchParams.get('api_token'), TOKEN);
    assert.equal(c.headers['user-agent'], 'feed-test/1');
    assert.deepEqual(c.received, [{ method: 'subscribe', filters: [['event_type', 'in', ['create', 'update']]] }]);
    assert.deepEqual(subscribed, [false]);
    assert.deepEqual(states, ['connecting', 'connected']);
    const s = feed.status();
    assert.match(s.url, /^ws:\/\/127\.0\.0\.1:\d+\/websocket$/);
    assert.equal(s.since, clock.now());
    assert.equal(logged('info', /^event feed connecting$/).length, 1);
    assert.equal(logged('info', /^event feed connected;/).length, 1);
    assert.equal(logged('warning', /./).length, 0);
  });

  it('hands container events to the consumer, counts other kinds, and tracks the highest id', async () => {
    await setup();
    await connected();
    server.send(containerEvent(CTR, { id: 40, from: 'Queued', to: 'Locked' }));
    server.send(containerEvent(OTHER, { id: 50, kind: 'arvados#containerRequest' }));
    server.send({});
    server.send(containerEvent(CTR, { id: 45, type: 'create', kind: null }));
    await waitFor('two container events', () => events.length === 2);
    assert.deepEqual(
      events.map((e) => [e.logId, e.uuid, e.eventType, e.oldState, e.newState]),
      [
        [40, CTR, 'update', 'Queued', 'Locked'],
        [45, CTR, 'create', undefined, 'Queued'],
      ],
    );
    const s = feed.status();
    assert.deepEqual(s.events, { container: 2, other: 1, garbage: 0 });
    assert.equal(s.lastLogId, 50);
  });

  it('after a drop, resumes from the highest id seen and tells the consumer it reconnected', async () => {
    await setup();
    await connected();
    server.send(containerEvent(CTR, { id: 7 }));
    server.send(containerEvent(OTHER, { id: 9, kind: 'arvados#containerRequest' }));
    await waitFor('the events', () => feed.status().lastLogId === 9);
    server.last().ws.close(1001, 'restarting');
    await waitFor('the drop', () => feed.status().state === 'unavailable');
    assert.equal(feed.status().disconnects, 1);
    assert.match(feed.status().lastError ?? '', /closed by the server \(code 1001, restarting\)/);
    assert.equal(await retry(), 500);
    await connected(2);
    assert.deepEqual(server.last().received, [{ method: 'subscribe', filters: [['event_type', 'in', ['create', 'update']]], last_log_id: 9 }]);
    assert.deepEqual(subscribed, [false, true]);
    assert.deepEqual(states, ['connecting', 'connected', 'unavailable', 'connected']);
    const warns = logged('warning', /^event feed unavailable: /);
    assert.equal(warns.length, 1);
    assert.match(String(warns[0].msg), /dispatching from polls every PollInterval until it comes back/);
    const back = logged('info', /^event feed connected again after 0\.5 s unavailable$/);
    assert.equal(back.length, 1);
    assert.equal(back[0].UnavailableMs, 500);
  });

  it('asks a token function before each attempt, and reconnects with a new token when the credential is due for renewal', async () => {
    const handed: string[] = [];
    let n = 0;
    // Shorter than the ping interval, so no ping has to be answered on the manual clock.
    const renewEvery = 20_000;
    await setup({
      feed: {
        token: async () => {
          n++;
          handed.push(`${TOKEN}-${n}`);
          return { token: `${TOKEN}-${n}`, renewAt: clock.now() + renewEvery };
        },
      },
    });
    await connected();
    assert.equal(server.last().url.searchParams.get('api_token'), `${TOKEN}-1`);
    server.send(containerEvent(CTR, { id: 70 }));
    await waitFor('the event', () => feed.status().lastLogId === 70);
    const first = server.last();
    await clock.advance(renewEvery - 1);
    assert.equal(server.conns.length, 1, 'renewed early');
    await clock.advance(1);
    await connected(2);
    assert.equal(server.last().url.searchParams.get('api_token'), `${TOKEN}-2`);
    assert.deepEqual(server.last().received, [{ method: 'subscribe', filters: [['event_type', 'in', ['create', 'update']]], last_log_id: 70 }]);
    await waitFor('the old socket to close', () => first.ws.readyState === first.ws.CLOSED);
    assert.deepEqual(handed, [`${TOKEN}-1`, `${TOKEN}-2`]);
    assert.deepEqual(subscribed, [false, true]);
    assert.deepEqual(states, ['connecting', 'connected', 'connecting', 'connected']);
    const s = feed.status();
    assert.equal(s.disconnects, 0, 'a renewal is not a disconnection');
    assert.equal(s.renewals, 1);
    assert.equal(s.attempts, 2);
    assert.equal(logged('warning', /./).length, 0);
    assert.equal(logged('info', /^event feed connected/).length, 1, 'a renewal is logged at debug');
    assert.deepEqual(
      logged('debug', /^event feed (reconnecting|connected again after reconnecting)$/).map((r) => [r.msg, r.Reason]),
      [
        ['event feed reconnecting', 'token due for renewal'],
        ['event feed connected again after reconnecting', 'token due for renewal'],
      ],
    );
    assert.ok(!lines.lines.some((l) => l.includes(`${TOKEN}-`)), 'a token was logged');
  });

  it('counts a token function that throws as a failed attempt, and retries with back-off', async () => {
    let fail = true;
    await setup({
      feed: {
        token: async () => {
          if (fail) throw new Error("making the event feed's token", { cause: new Error('HTTP 503: busy') });
          return { token: TOKEN };
        },
      },
    });
    await waitFor('the failure', () => feed.status().state === 'unavailable');
    assert.equal(server.upgrades, 0, 'connected without a token');
    assert.match(feed.status().lastError ?? '', /making the event feed's token: HTTP 503: busy/);
    assert.equal(await retry(), 500);
    await waitFor('the second failure', () => feed.status().attempts === 2 && feed.status().retryAt !== undefined);
    fail = false;
    assert.equal(await retry(), 1000);
    await connected();
    assert.equal(server.last().url.searchParams.get('api_token'), TOKEN);
    assert.deepEqual(states, ['connecting', 'unavailable', 'connected']);
  });

  it('counts a token function that throws at once (not a rejected promise) as a failed attempt too', async () => {
    await setup({
      feed: {
        token: () => {
          throw new Error('no token today');
        },
      },
    });
    await waitFor('the failure', () => feed.status().state === 'unavailable');
    assert.match(feed.status().lastError ?? '', /no token today/);
    assert.equal(server.upgrades, 0);
  });

  it('stop() while the token function is pending: nothing connects afterwards', async () => {
    let release!: (v: { token: string }) => void;
    await setup({ feed: { token: () => new Promise((resolve) => (release = resolve)) } });
    await waitFor('the token to be asked for', () => release !== undefined);
    await feed.stop();
    release({ token: TOKEN });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.upgrades, 0);
    assert.equal(feed.status().state, 'stopped');
  });

  it('counts and ignores garbage of every kind, keeps the connection, and rate-limits the warning', async () => {
    await setup();
    await connected();
    const bad: unknown[] = [
      'not json',
      [1, 2],
      { ...containerEvent(CTR), id: -1 },
      { ...containerEvent(CTR), object_uuid: 3 },
      { ...containerEvent(CTR), event_type: null },
      { ...containerEvent(CTR), properties: { new_attributes: { state: 4 } } },
    ];
    for (const b of bad) server.send(b);
    server.last().ws.send(Buffer.from('{}'), { binary: true });
    server.send(containerEvent(CTR, { id: 100 }));
    await waitFor('the event after the garbage', () => events.length === 1);
    assert.deepEqual(feed.status().events, { container: 1, other: 0, garbage: 7 });
    assert.equal(feed.status().connects, 1);
    assert.equal(server.open().length, 1);
    const warnings = (): Record<string, unknown>[] => logged('warning', /cannot use/);
    assert.equal(warnings().length, 1);
    assert.deepEqual([warnings()[0].Reason, warnings()[0].Excerpt], ['not JSON', 'not json']);
    await clock.advance(60_000);
    server.send('still not json');
    await waitFor('the next garbage', () => feed.status().events.garbage === 8);
    assert.equal(warnings().length, 2);
    assert.equal(warnings()[1].Suppressed, 6);
  });

  it('logs a consumer that throws, and carries on', async () => {
    await setup({
      feed: {
        onEvent: (e) => {
          events.push(e);
          if (e.logId === 1000) throw new Error('consumer bug');
        },
      },
    });
    await connected();
    server.send(containerEvent(CTR, { id: 1000 }));
    server.send(containerEvent(CTR, { id: 1001 }));
    await waitFor('both events', () => events.length === 2);
    assert.equal(logged('error', /consumer failed on an event/).length, 1);
    assert.equal(feed.status().state, 'connected');
  });

  it('retries when the server answers the subscribe with 400', async () => {
    await setup();
    server.ack = 400;
    await waitFor('the refusal', () => feed.status().state === 'unavailable');
    assert.match(feed.status().lastError ?? '', /subscription refused \(status 400\)/);
    server.ack = 200;
    await retry();
    await connected();
    assert.deepEqual(subscribed, [false], 'the first accepted subscription is not a reconnect');
  });

  it('retries when the server never acknowledges the subscribe', async () => {
    await setup({ feed: { subscribeTimeoutMs: 5000 } });
    server.ack = undefined;
    await waitFor('the subscribe', () => server.conns.length === 1 && server.last().received.length === 1);
    await clock.advance(5000);
    await waitFor('the give-up', () => feed.status().state === 'unavailable');
    assert.match(feed.status().lastError ?? '', /no subscription ack within 5000 ms/);
    await waitFor('the server to see the close', () => server.open().length === 0);
  });

  it('while upgrades are refused, warns once, retries with back-off, and says when it is back', async () => {
    await setup({ refuseWith: 503 });
    const delays = [await retry(), await retry(), await retry(), await retry()];
    assert.deepEqual(delays, [500, 1000, 2000, 4000]);
    assert.equal(server.upgrades, 5);
    assert.deepEqual(states, ['connecting', 'unavailable']);
    const warns = logged('warning', /./);
    assert.equal(warns.length, 1);
    assert.match(String(warns[0].msg), /^event feed unavailable: Unexpected server response: 503; dispatching from polls/);
    assert.equal(logged('debug', /^event feed attempt failed$/).length, 4);
    server.refuseWith = undefined;
    assert.equal(await retry(), 8000);
    await connected();
    assert.deepEqual(states, ['connecting', 'unavailable', 'connected']);
    assert.equal(logged('info', /^event feed connected again after 15\.5 s unavailable$/).length, 1);
    assert.equal(logged('warning', /./).length, 1);
    assert.deepEqual(subscribed, [false]);
  });

  it('starts the back-off over after a connection that lasted', async () => {
    await setup();
    await connected();
    server.last().ws.terminate();
    assert.equal(await retry(), 500);
    await connected(2);
    server.last().ws.terminate();
    assert.equal(await retry(), 1000, 'a connection that dropped at once does not reset the back-off');
    await connected(3);
    await clock.advance(30_000);
    server.last().ws.terminate();
    assert.equal(await retry(), 500);
    await connected(4);
  });

  it('keeps a connection whose server answers pings', async () => {
    await setup({ feed: { pingIntervalMs: 1000 } });
    await connected();
    for (let i = 1; i <= 3; i++) {
      await clock.advance(1000);
      await waitFor(`pong ${i}`, () => feed.status().lastHeardAt === clock.now());
    }
    assert.equal(server.last().pings, 3);
    assert.equal(feed.status().connects, 1);
    assert.equal(feed.status().state, 'connected');
  });

  it('drops and replaces a connection whose server stopped answering', async () => {
    await setup({ autoPong: false, feed: { pingIntervalMs: 1000 } });
    await connected();
    await clock.advance(1000);
    await waitFor('the ping', () => server.last().pings === 1);
    await clock.advance(1000);
    await waitFor('the drop', () => feed.status().state === 'unavailable');
    assert.match(feed.status().lastError ?? '', /no message or pong for 1000 ms/);
    await retry();
    await connected(2);
    assert.equal(server.conns.length, 2);
  });

  it('stop() closes the socket, stops retrying and is idempotent', async () => {
    await setup();
    await connected();
    await feed.stop();
    await waitFor('the server to see the close', () => server.open().length === 0);
    assert.equal(feed.status().state, 'stopped');
    assert.equal(feed.status().disconnects, 0, 'stopping is not a disconnect');
    assert.equal(logged('warning', /./).length, 0);
    assert.equal(clock.pendingTimers(), 0);
    await feed.stop();
    assert.throws(() => feed.start(), /already started/);
  });

  it('stop() while waiting to retry cancels the retry', async () => {
    await setup({ refuseWith: 503 });
    await waitFor('a retry to be scheduled', () => feed.status().retryAt !== undefined);
    await feed.stop();
    assert.equal(feed.status().retryAt, undefined);
    assert.equal(clock.pendingTimers(), 0);
    await clock.advance(60_000);
    assert.equal(server.upgrades, 1);
    assert.deepEqual(states, ['connecting', 'unavailable', 'stopped']);
  });

  it('stop() during the handshake abandons it', async () => {
    await setup();
    const stopped = feed.stop();
    await stopped;
    assert.equal(feed.status().state, 'stopped');
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(logged('warning', /./).length, 0);
  });

  describe('over TLS with a self-signed certificate', () => {
    const tls = selfSignedCertificate();

    it('connects to wss when told the certificate need not be trusted', async () => {
      await setup({ tls, feed: { insecure: true } });
      await connected();
      assert.match(feed.status().url, /^wss:\/\/127\.0\.0\.1:\d+\/websocket$/);
    });

    it('refuses the certificate otherwise', async () => {
      await setup({ tls });
      await waitFor('the refusal', () => feed.status().state === 'unavailable');
      assert.match(feed.status().lastError ?? '', /self-signed certificate/);
      assert.equal(server.conns.length, 0);
    });

    it('trusts it when SSL_CERT_FILE names it, as the reference would (a site CA)', async () => {
      await withSslCertFile(tls.cert, async () => {
        await setup({ tls });
        await connected();
        assert.match(feed.status().url, /^wss:/);
      });
    });
  });

  it('spreads retries with jitter and caps them', () => {
    const b = { firstMs: 500, maxMs: 30_000 };
    assert.deepEqual([1, 2, 3].map((n) => backoffDelay(n, b, 1)), [500, 1000, 2000]);
    assert.equal(backoffDelay(1, b, 0), 250);
    assert.equal(backoffDelay(7, b, 1), 30_000);
    assert.equal(backoffDelay(1000, b, 0), 15_000);
  });
});
