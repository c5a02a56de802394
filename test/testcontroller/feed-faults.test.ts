/**
 * The event feed's faults each do what they say, repeatably for a seed:
 * real `ws` clients against a started test controller on a manual clock.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import type { FeedFaults, TestController } from '../../src/testcontroller/index.js';
import { FeedClient, type Frame } from './feed-client.js';
import { startController } from './helpers.js';

describe('test controller event feed faults', () => {
  let clock: ManualClock;
  const controllers: TestController[] = [];
  const clients: FeedClient[] = [];

  async function start(feed: FeedFaults = {}): Promise<TestController> {
    clock = new ManualClock();
    const ctl = await startController({ clock, feed });
    controllers.push(ctl);
    return ctl;
  }

  async function subscribed(ctl: TestController): Promise<FeedClient> {
    const c = await FeedClient.open(ctl.feed.url);
    clients.push(c);
    await c.subscribe();
    return c;
  }

  /** Adds `n` containers: log ids 1..n. */
  function addMany(ctl: TestController, n: number): void {
    for (let i = 0; i < n; i++) ctl.addContainer();
  }

  const ids = (frames: Frame[]): unknown[] => FeedClient.events(frames).map((e) => e.id);
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
  const sorted = (xs: unknown[]): number[] => (xs as number[]).slice().sort((x, y) => x - y);

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const ctl of controllers.splice(0)) await ctl.stop();
  });

  it('refuse: every upgrade gets the status, until the fault is cleared', async () => {
    const ctl = await start({ refuse: 503 });
    assert.equal(await FeedClient.refusal(ctl.feed.url), 503);
    ctl.feed.setFaults({ refuse: 429 });
    assert.equal(await FeedClient.refusal(ctl.feed.url), 429);
    ctl.feed.setFaults({ refuse: undefined });
    await subscribed(ctl);
    assert.deepEqual([ctl.feed.counts().refused, ctl.feed.counts().accepted], [2, 1]);
    assert.throws(() => ctl.feed.setFaults({ refuse: 42 }), /HTTP status/);
  });

  it('disconnect() terminates every open connection; new ones are served', async () => {
    const ctl = await start();
    const a = await subscribed(ctl);
    const b = await subscribed(ctl);
    assert.equal(ctl.feed.disconnect(), 2);
    assert.deepEqual(await Promise.all([a.closed, b.closed]), [1006, 1006], 'no close handshake');
    assert.deepEqual(ctl.feed.connections(), []);
    const c = await subscribed(ctl);
    ctl.addContainer();
    assert.deepEqual(ids(await c.barrier()), [1]);
  });

  it('dropEveryMs: connections are terminated on that rhythm of the clock', async () => {
    const ctl = await start({ dropEveryMs: 30_000 });
    const a = await subscribed(ctl);
    await clock.advance(29_999);
    assert.deepEqual(await a.barrier(), []);
    await clock.advance(1);
    assert.equal(await a.closed, 1006);
    const b = await subscribed(ctl);
    await clock.advance(30_000);
    assert.equal(await b.closed, 1006);
    ctl.feed.setFaults({ dropEveryMs: 0 });
    const c = await subscribed(ctl);
    await clock.advance(120_000);
    assert.equal(ctl.feed.connections().length, 1);
    assert.deepEqual((await c.barrier()).map((f) => f.text), ['{}', '{}']);
  });

  it('loseRate: some events are not sent, the connection is kept, and a seed repeats the choice', async () => {
    async function run(seed: number): Promise<unknown[]> {
      const ctl = await start({ loseRate: 0.5, seed });
      const c = await subscribed(ctl);
      addMany(ctl, 40);
      const got = ids(await c.barrier());
      const counts = ctl.feed.counts();
      assert.equal(counts.eventsLost + counts.eventsSent, 40);
      assert.equal(got.length, counts.eventsSent);
      assert.equal(ctl.feed.connections().length, 1);
      return got;
    }
    const first = await run(7);
    assert.ok(first.length > 5 && first.length < 35, `${first.length} of 40 sent`);
    assert.deepEqual(await run(7), first);
    assert.notDeepEqual(await run(8), first);
  });

  it('duplicateRate: an event is sent twice, as the same frame', async () => {
    const ctl = await start({ duplicateRate: 1 });
    const c = await subscribed(ctl);
    addMany(ctl, 3);
    const frames = await c.barrier();
    assert.deepEqual(ids(frames), [1, 1, 2, 2, 3, 3]);
    assert.equal(frames[0].text, frames[1].text);
    assert.equal(ctl.feed.counts().eventsDuplicated, 3);
  });

  it('delayMs: each event waits on the clock before it is sent', async () => {
    const ctl = await start({ delayMs: 2000 });
    const c = await subscribed(ctl);
    addMany(ctl, 2);
    await clock.advance(1999);
    assert.deepEqual(await c.barrier(), []);
    await clock.advance(1);
    assert.deepEqual(ids(await c.barrier()), [1, 2]);
  });

  it('delayJitterMs: events arrive reordered, numbered in the order sent', async () => {
    const ctl = await start({ delayMs: 100, delayJitterMs: 1000, seed: 3 });
    const c = await subscribed(ctl);
    addMany(ctl, 20);
    await clock.advance(1100);
    const events = FeedClient.events(await c.barrier());
    assert.deepEqual(events.map((e) => e.msgID), range(20));
    const got = events.map((e) => e.id as number);
    assert.deepEqual(sorted(got), range(20));
    assert.notDeepEqual(got, range(20), 'reordered');
  });

  it('reorderWindow: events go out in shuffled batches; an incomplete batch at the next heartbeat tick', async () => {
    const ctl = await start({ reorderWindow: 4, heartbeatMs: 10_000, seed: 5 });
    const c = await subscribed(ctl);
    addMany(ctl, 10);
    const got = ids(await c.barrier()) as number[];
    assert.equal(got.length, 8);
    assert.deepEqual(sorted(got.slice(0, 4)), [1, 2, 3, 4]);
    assert.deepEqual(sorted(got.slice(4)), [5, 6, 7, 8]);
    assert.notDeepEqual(got, range(8), 'shuffled');
    await clock.advance(10_000);
    assert.deepEqual(sorted(ids(await c.barrier())), [9, 10]);
  });

  it('garbageRate: a garbage frame of each kind goes before events', async () => {
    const ctl = await start({ garbageRate: 1, seed: 11 });
    const c = await subscribed(ctl);
    addMany(ctl, 40);
    const frames = await c.barrier();
    assert.equal(frames.length, 80);
    const kinds = new Set<string>();
    for (let i = 0; i < frames.length; i += 2) {
      const [junk, event] = [frames[i], frames[i + 1]];
      assert.equal((JSON.parse(event.text) as { id: number }).id, i / 2 + 1);
      kinds.add(garbageKind(junk));
    }
    assert.deepEqual([...kinds].sort(), ['array', 'binary', 'no-object-uuid', 'not-json', 'number', 'string', 'string-id']);
    assert.equal(ctl.feed.counts().garbageSent, 40);
    assert.equal(ctl.feed.counts().eventsSent, 40);
  });

  it('stall: nothing at all is sent while the connection stays open', async () => {
    const ctl = await start({ heartbeatMs: 1000 });
    const c = await subscribed(ctl);
    ctl.feed.setFaults({ stall: true });
    addMany(ctl, 3);
    c.send({ method: 'subscribe', filters: [] });
    await clock.advance(5000);
    assert.equal(ctl.feed.connections().length, 1);
    assert.equal(ctl.feed.counts().heartbeatsSent, 0);
    ctl.feed.setFaults({ stall: false });
    // The subscribe above was handled (its answer swallowed): the next event is sent once.
    assert.deepEqual(await c.barrier(), []);
    ctl.addContainer();
    assert.deepEqual(ids(await c.barrier()), [4]);
    assert.equal(ctl.feed.counts().eventsStalled, 3);
  });
});

/** Which of the feed's garbage kinds a frame is. */
function garbageKind(f: Frame): string {
  if (f.binary) return 'binary';
  let v: unknown;
  try {
    v = JSON.parse(f.text);
  } catch {
    return 'not-json';
  }
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  const o = v as Record<string, unknown>;
  if (typeof o.id === 'string') return 'string-id';
  if (!('object_uuid' in o)) return 'no-object-uuid';
  return `an event? ${f.text}`;
}
