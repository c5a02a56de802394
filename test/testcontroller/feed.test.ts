/**
 * The test controller's event feed speaks Arvados's websocket v0 protocol:
 * real `ws` clients on 127.0.0.1 against a started controller on a manual
 * clock.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { TestController, type TestControllerOptions } from '../../src/testcontroller/index.js';
import { FeedClient } from './feed-client.js';
import { lock, OTHER_TOKEN, put, startController } from './helpers.js';

/** The attributes an event carries for a container. */
const attrs = (c: { owner_uuid: string }, state: string): Record<string, string> => ({ owner_uuid: c.owner_uuid, state });

const change = (c: { owner_uuid: string }, from: string, to: string): Record<string, unknown> => ({
  old_attributes: attrs(c, from),
  new_attributes: attrs(c, to),
});

describe('test controller event feed', () => {
  let clock: ManualClock;
  let ctl: TestController;
  const clients: FeedClient[] = [];

  async function start(opts: Partial<TestControllerOptions> = {}): Promise<void> {
    clock = new ManualClock();
    ctl = await startController({ clock, ...opts });
  }

  /** An update Arvados logs: runtime_status, as a dispatcher or crunch-run writes it. */
  function touch(uuid: string, n: number): void {
    ctl.setFields(uuid, { runtime_status: { warning: `note ${n}` } });
  }

  async function connect(token?: string | null): Promise<FeedClient> {
    const c = await FeedClient.open(ctl.feed.url, token);
    clients.push(c);
    return c;
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await ctl?.stop();
  });

  it('acknowledges a subscribe and sends create and update events with the reference fields', async () => {
    await start();
    const client = await connect();
    await client.subscribe();
    const c = ctl.addContainer({ priority: 3 });
    await clock.advance(1500);
    assert.equal((await lock(ctl, c.uuid)).status, 200);
    const events = FeedClient.events(await client.barrier());
    assert.equal(events.length, 2);
    const [create, update] = events;
    assert.deepEqual(create, {
      msgID: 1,
      id: 1,
      uuid: 'zzzzz-57u5n-000000000000001',
      object_uuid: c.uuid,
      object_owner_uuid: c.owner_uuid,
      object_kind: 'arvados#container',
      event_type: 'create',
      event_at: '2026-01-01T00:00:00Z',
      properties: { new_attributes: attrs(c, 'Queued') },
    });
    assert.equal(update.msgID, 2);
    assert.equal(update.id, 2);
    assert.equal(update.event_type, 'update');
    assert.equal(update.event_at, '2026-01-01T00:00:01.5Z');
    assert.deepEqual(update.properties, change(c, 'Queued', 'Locked'));
  });

  it('sends nothing for a priority set from the requests (plain SQL in Arvados, no log row), and no priority in an update', async () => {
    await start();
    const c = ctl.addContainer();
    const client = await connect();
    await client.subscribe();
    ctl.setPriority(c.uuid, 9);
    assert.deepEqual(await client.barrier(), []);
    assert.equal(ctl.feed.log.size, 1, 'the create only');
    // An update as through the API is logged, and its event leaves the priority out.
    ctl.setFields(c.uuid, { runtime_status: { warning: 'slow' }, priority: 10 });
    const [ev] = FeedClient.events(await client.barrier());
    assert.equal(ev.event_type, 'update');
    assert.deepEqual(ev.properties, change(c, 'Queued', 'Queued'));
  });

  it('numbers messages per session and log ids globally', async () => {
    await start();
    const a = await connect();
    await a.subscribe();
    ctl.addContainer();
    const b = await connect(OTHER_TOKEN);
    await b.subscribe();
    ctl.addContainer();
    ctl.addContainer();
    const ea = FeedClient.events(await a.barrier());
    const eb = FeedClient.events(await b.barrier());
    assert.deepEqual(ea.map((e) => [e.msgID, e.id]), [[1, 1], [2, 2], [3, 3]]);
    assert.deepEqual(eb.map((e) => [e.msgID, e.id]), [[1, 2], [2, 3]]);
  });

  it('sends nothing without a subscription, and nothing but answers to an unknown token', async () => {
    await start();
    const idle = await connect();
    const stranger = await connect('not-a-known-token');
    await stranger.subscribe();
    ctl.addContainer();
    assert.deepEqual(await idle.barrier(), []);
    assert.deepEqual(await stranger.barrier(), []);
    assert.deepEqual(
      ctl.feed.connections().map((c) => c.tokenKnown),
      [true, false],
    );
  });

  it('honours event_type in and created_at filters, and ignores the others', async () => {
    await start();
    const creates = await connect();
    await creates.subscribe([['event_type', 'in', ['create']], ['object_uuid', '=', 'ignored']]);
    const late = await connect();
    await late.subscribe([['created_at', '>=', '2026-01-01T00:00:05Z']]);
    const either = await connect();
    await either.subscribe([['event_type', 'in', ['create']]]);
    either.send({ method: 'subscribe', filters: [['created_at', '>', '2026-01-01T00:00:05.000000001Z']] });
    assert.deepEqual(await either.json(), { status: 200 });
    const c = ctl.addContainer();
    await clock.advance(5000);
    touch(c.uuid, 2);
    await clock.advance(1);
    touch(c.uuid, 3);
    assert.deepEqual(FeedClient.events(await creates.barrier()).map((e) => e.id), [1]);
    assert.deepEqual(FeedClient.events(await late.barrier()).map((e) => e.id), [2, 3]);
    // Any subscription matching is enough, and an event is sent once whatever number match.
    assert.deepEqual(FeedClient.events(await either.barrier()).map((e) => e.id), [1, 3]);
  });

  it('unsubscribes by equal filters, and answers 400 to an unknown subscription', async () => {
    await start();
    const client = await connect();
    const filters = [['event_type', 'in', ['update']]];
    await client.subscribe(filters);
    client.send({ method: 'unsubscribe', filters: [['event_type', 'in', ['create']]] });
    assert.deepEqual(await client.json(), { status: 400 });
    client.send({ method: 'unsubscribe', filters });
    assert.deepEqual(await client.json(), { status: 200 });
    const c = ctl.addContainer();
    touch(c.uuid, 4);
    assert.deepEqual(await client.barrier(), []);
    assert.deepEqual(
      ctl.feed.received().map((r) => [r.session, r.method, r.status]),
      [
        [1, 'subscribe', 200],
        [1, 'unsubscribe', 400],
        [1, 'unsubscribe', 200],
      ],
    );
  });

  it('answers 400 to junk and keeps the connection', async () => {
    await start();
    const client = await connect();
    for (const junk of [
      'not json',
      '[1,2]',
      '42',
      '"subscribe"',
      'null',
      '{"method":"subscribe","filters":"all"}',
      '{"method":"subscribe","filters":["event_type"]}',
      '{"method":"subscribe","last_log_id":"7"}',
      '{"method":7}',
      '{"method":"publish"}',
    ]) {
      client.send(junk);
      assert.deepEqual(await client.json(), { status: 400 }, junk);
    }
    await client.subscribe();
    assert.equal(ctl.feed.connections().length, 1);
  });

  it('replays events after last_log_id from the last ten minutes, oldest first, then live ones', async () => {
    await start();
    const old = ctl.addContainer();
    await clock.advance(5 * 60_000);
    touch(old.uuid, 2); // id 2
    ctl.addContainer(); // id 3
    await clock.advance(5 * 60_000 + 1);
    // Entry 1 is now older than ten minutes.
    const client = await connect();
    await client.subscribe([], 1);
    touch(old.uuid, 3); // id 4, live
    assert.deepEqual(FeedClient.events(await client.barrier()).map((e) => [e.msgID, e.id]), [[1, 2], [2, 3], [3, 4]]);
    const again = await connect();
    await again.subscribe([['event_type', 'in', ['create']]], 0);
    assert.deepEqual(await again.barrier(), [], 'last_log_id 0 replays nothing');
    const filtered = await connect();
    await filtered.subscribe([['event_type', 'in', ['create']]], 1);
    assert.deepEqual(FeedClient.events(await filtered.barrier()).map((e) => e.id), [3]);
  });

  it('sends {} every heartbeat interval to an idle session', async () => {
    await start({ feed: { heartbeatMs: 10_000 } });
    const client = await connect();
    await clock.advance(9_999);
    assert.deepEqual(await client.barrier(), []);
    await clock.advance(1);
    assert.equal((await client.next()).text, '{}');
    await clock.advance(20_000);
    assert.deepEqual((await client.barrier()).map((f) => f.text), ['{}', '{}']);
    ctl.feed.setFaults({ heartbeatMs: undefined });
    await clock.advance(59_999);
    assert.deepEqual(await client.barrier(), [], 'back to the 60 s default, counted from the change');
    await clock.advance(1);
    assert.equal((await client.next()).text, '{}');
    assert.equal(ctl.feed.counts().heartbeatsSent, 4);
  });

  it('answers 404 to an upgrade on another path', async () => {
    await start();
    assert.equal(await FeedClient.refusal(`${ctl.url.replace('http', 'ws')}/arvados/v1/events.ws`), 404);
  });

  it('stop() closes every client and releases the timers', async () => {
    await start();
    const a = await connect();
    const b = await connect();
    await ctl.stop();
    await Promise.all([a.closed, b.closed]);
    assert.equal(ctl.feed.connections().length, 0);
    assert.equal(clock.pendingTimers(), 0);
    assert.throws(() => ctl.feed.url, /not started/);
  });

  it('keeps a bounded log without start(), and serves it after', async () => {
    clock = new ManualClock();
    ctl = new TestController({ rootToken: 'root-token-0123456789abcdef', clock });
    const c = ctl.addContainer();
    touch(c.uuid, 2);
    assert.equal(ctl.feed.log.size, 2);
    assert.equal(clock.pendingTimers(), 0);
    assert.throws(() => ctl.feed.url, /not started/);
    await ctl.start();
    const client = await connect('root-token-0123456789abcdef');
    await client.subscribe([], 1);
    assert.deepEqual(FeedClient.events(await client.barrier()).map((e) => e.id), [2]);
  });

  it('accepts an Arvados v2 token', async () => {
    await start();
    const client = await connect(`v2/zzzzz-gj3su-otherdispatch01/${OTHER_TOKEN}`);
    await client.subscribe();
    const c = ctl.addContainer();
    await put(ctl, c.uuid, { priority: 2 });
    assert.equal(FeedClient.events(await client.barrier()).length, 2);
  });
});
