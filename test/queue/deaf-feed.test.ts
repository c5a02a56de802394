/**
 * A feed that stays connected and brings nothing (arvados-ws's permission
 * checks failing, a proxy that keeps the socket and drops frames): the link
 * notices it when, over a whole check interval, polls found at least
 * `DEAF_AFTER_NEW_CONTAINERS` new containers and the feed brought no event,
 * and reconnects it. The test controller's feed plays deaf by losing every
 * event (`loseRate: 1`) while its heartbeats go on. Real sockets, one manual
 * clock for the controller, the queue and the link; the queue's poll loop
 * does not run, so every poll is the test's `queue.update()`.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { waitUntil } from '../../src/harness/processes.js';
import { DEAF_AFTER_NEW_CONTAINERS } from '../../src/queue/event-feed-link.js';
import { type FeedHarness, startFeedHarness } from './feed-harness.js';

const CHECK_MS = 10_000;
const TOKEN_CHECK_ROUTE = '/arvados/v1/api_client_authorizations/current';

describe('event feed link: a feed connected but deaf', function () {
  this.timeout(30_000);

  let clock: ManualClock;
  let h: FeedHarness;
  let open = false;
  /** The start of the link's first check interval; checks come every CHECK_MS after it. */
  let t0: number;
  let checks: number;

  async function setup(linkOptions: { scopedToken?: boolean } = {}): Promise<void> {
    clock = new ManualClock();
    h = await startFeedHarness({}, { tokenCheckMs: CHECK_MS, ...linkOptions }, clock);
    open = true;
    t0 = clock.now();
    checks = 0;
    await h.connected();
  }

  afterEach(async () => {
    if (!open) return;
    open = false;
    await h.close();
  });

  /** Moves the clock to the end of the current check interval (the check runs there). */
  async function endInterval(): Promise<void> {
    checks++;
    await clock.advanceTo(t0 + checks * CHECK_MS);
  }

  /** Adds `n` containers and polls once: the poll finds them new. */
  async function pollFinds(n: number): Promise<string[]> {
    const uuids = Array.from({ length: n }, () => h.ctl.addContainer({ priority: 2 }).uuid);
    await h.queue.update();
    for (const uuid of uuids) assert.ok(h.queue.entries().entries.has(uuid), `the poll found ${uuid}`);
    return uuids;
  }

  const subscribes = (): number => h.ctl.feed.received().filter((r) => r.method === 'subscribe').length;
  const deafWarnings = () => h.lines.records().filter((r) => r.level === 'warning' && /^event feed connected but brought no event/.test(String(r.msg)));

  /** Waits for the check's own reconnect, if any, to have had its chance: the token check's answer has come back and been acted on. */
  async function settled(tokenChecksBefore?: number): Promise<void> {
    if (tokenChecksBefore !== undefined) {
      await waitUntil('the token check', () => tokenChecks() > tokenChecksBefore, 5000, 5);
    }
    // One more round trip: whatever followed the check's answer has run by then.
    await h.queue.update();
  }

  /** Checks of the feed's own token (the queue asks the same route once, with the root token, for its own uuid). */
  const tokenChecks = (): number => h.ctl.requestLog().filter((r) => r.route === TOKEN_CHECK_ROUTE && r.tokenUuid !== h.ctl.rootTokenUuid).length;

  /** The feed reconnects (a new subscription at the controller) and is connected again. */
  async function reconnected(subscriptions: number): Promise<void> {
    await waitUntil('the feed to subscribe again', () => subscribes() === subscriptions && h.link.view().state === 'connected', 5000, 5);
  }

  /** The interval ends with the feed not found deaf: its token checked, no reconnect, its subscriptions still `subscriptions`. */
  async function endsNotDeaf(subscriptions: number): Promise<void> {
    const before = tokenChecks();
    await endInterval();
    await settled(before);
    assert.equal(h.link.view().deaf, 0);
    assert.equal(subscribes(), subscriptions);
  }

  /** The interval that counts: polls find enough new containers, the feed is found deaf (the first time) and reconnects, its subscriptions now `subscriptions`. */
  async function foundDeaf(subscriptions: number): Promise<void> {
    await pollFinds(DEAF_AFTER_NEW_CONTAINERS);
    await endInterval();
    assert.equal(h.link.view().deaf, 1);
    await reconnected(subscriptions);
  }

  it('warns, counts and reconnects, resuming from the last event id, when polls find new containers and the feed brings none for a whole interval', async () => {
    await setup();
    // One event gets through, so there is an id to resume from.
    const first = h.ctl.addContainer({ priority: 2 });
    await waitUntil('the first event', () => h.link.view().status?.events.container === 1, 5000, 5);
    const lastLogId = h.link.view().status?.lastLogId;
    assert.ok(lastLogId !== undefined && lastLogId > 0);
    h.ctl.feed.setFaults({ loseRate: 1 });
    await endInterval();
    await waitUntil('the refresh of the first', () => h.queue.entries().entries.has(first.uuid), 5000, 5);
    assert.equal(subscribes(), 1);

    await pollFinds(DEAF_AFTER_NEW_CONTAINERS);
    const tokenChecksBefore = tokenChecks();
    await endInterval();
    assert.equal(h.link.view().deaf, 1);
    await reconnected(2);
    assert.equal(tokenChecks(), tokenChecksBefore + 1, 'its own token was checked first');
    const resubscribe = h.ctl.feed.received().filter((r) => r.method === 'subscribe')[1];
    assert.equal(resubscribe.lastLogId, lastLogId, 'resumed from the last event id');
    assert.equal(h.ctl.tokens.issued().length, 1, 'the token was still good: no new one');
    const warnings = deafWarnings();
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].msg, `event feed connected but brought no event in 10s while polls found ${DEAF_AFTER_NEW_CONTAINERS} new containers; reconnecting`);
    assert.equal(warnings[0].NewContainers, DEAF_AFTER_NEW_CONTAINERS);
    const why = h.lines.records().filter((r) => r.msg === 'event feed reconnecting').map((r) => r.Reason);
    assert.deepEqual(why, ['connected but deaf'], 'the debug line says why it reconnected');

    // The reconnect came at the check's instant: the next interval is not whole. The one after is, and still deaf.
    await pollFinds(DEAF_AFTER_NEW_CONTAINERS);
    await endInterval();
    await settled(tokenChecksBefore + 1);
    assert.equal(h.link.view().deaf, 1, 'an interval that began with a subscription does not count');
    await pollFinds(DEAF_AFTER_NEW_CONTAINERS + 2);
    await endInterval();
    assert.equal(h.link.view().deaf, 2);
    await reconnected(3);
    assert.equal(deafWarnings().length, 1, 'warned once an hour, however often it is found deaf');

    // Heard again: the next container comes through the feed.
    h.ctl.feed.setFaults({ loseRate: undefined });
    const events = h.link.view().status!.events.container;
    h.ctl.addContainer({ priority: 2 });
    await waitUntil('an event again', () => h.link.view().status!.events.container > events, 5000, 5);
  });

  it('checks its own token at the end of the very first interval when the feed brought nothing in it, as at every other', async () => {
    await setup();
    const before = tokenChecks();
    await endInterval();
    await settled(before);
    assert.equal(tokenChecks(), before + 1, 'a token refused from the start is found after one interval, not two');
    assert.equal(subscribes(), 1, 'still good: no reconnect');
  });

  it('does not reconnect a feed that brings events, whatever the polls find first', async () => {
    await setup();
    await endInterval();
    const events = h.link.view().status!.events.container;
    // The events arrive, and the poll reads the containers before their refreshes (due at the next clock move) can.
    for (let i = 0; i < DEAF_AFTER_NEW_CONTAINERS; i++) h.ctl.addContainer({ priority: 2 });
    await waitUntil('the events', () => h.link.view().status!.events.container === events + DEAF_AFTER_NEW_CONTAINERS, 5000, 5);
    const polled = h.queue.newFromPolls();
    await h.queue.update();
    assert.equal(h.queue.newFromPolls(), polled + DEAF_AFTER_NEW_CONTAINERS, 'the poll found them first');
    await endInterval();
    await settled();
    assert.equal(h.link.view().deaf, 0);
    assert.equal(subscribes(), 1);

    // The same, with the events lost: deaf.
    h.ctl.feed.setFaults({ loseRate: 1 });
    await foundDeaf(2);
  });

  it(`does not reconnect when polls find fewer than ${DEAF_AFTER_NEW_CONTAINERS} new containers in an interval, nor add them up across intervals`, async () => {
    await setup();
    h.ctl.feed.setFaults({ loseRate: 1 });
    await endInterval();
    for (let i = 0; i < 2; i++) {
      await pollFinds(DEAF_AFTER_NEW_CONTAINERS - 1);
      await endsNotDeaf(1);
    }
    await foundDeaf(2);
  });

  it('does not count an interval in which the feed reconnected', async () => {
    await setup();
    h.ctl.feed.setFaults({ loseRate: 1 });
    await endInterval();
    // Dropped part way through the interval, and back after the back-off.
    assert.equal(h.ctl.feed.disconnect(), 1);
    await waitUntil('the feed to notice', () => h.link.view().state === 'unavailable', 5000, 5);
    await clock.advance(1000);
    await reconnected(2);
    await pollFinds(DEAF_AFTER_NEW_CONTAINERS);
    await endsNotDeaf(2);
    // The next interval, connected throughout, counts.
    await foundDeaf(3);
  });

  it('does not count a backlog created before the dispatcher started, which polls find long after its events went by', async () => {
    await setup();
    h.ctl.feed.setFaults({ loseRate: 1 });
    await endInterval();
    // A restart on a big backlog: polls read it a part at a time, and these parts come in the second interval.
    const createdBefore = new Date(t0 - 3_600_000).toISOString();
    const backlog = Array.from({ length: DEAF_AFTER_NEW_CONTAINERS + 2 }, () => h.ctl.addContainer({ priority: 2, created_at: createdBefore }).uuid);
    const polled = h.queue.newFromPolls();
    await h.queue.update();
    for (const uuid of backlog) assert.ok(h.queue.entries().entries.has(uuid), `the poll found ${uuid}`);
    assert.equal(h.queue.newFromPolls(), polled, 'not counted as new');
    await endsNotDeaf(1);
    // Containers created since the start still count.
    await foundDeaf(2);
  });

  it('does not count containers first seen by a refresh (what an event causes), only those a poll found', async () => {
    await setup();
    h.ctl.feed.setFaults({ loseRate: 1 });
    await endInterval();
    const uuids = Array.from({ length: DEAF_AFTER_NEW_CONTAINERS }, () => h.ctl.addContainer({ priority: 2 }).uuid);
    // What the hints do with an event about a container the queue has not seen.
    await h.queue.refresh(uuids);
    for (const uuid of uuids) assert.ok(h.queue.entries().entries.has(uuid));
    await h.queue.update();
    await endsNotDeaf(1);
    await foundDeaf(2);
  });

  it('finds the feed deaf with the root token too (EventFeed.ScopedToken: false), with no token to check', async () => {
    await setup({ scopedToken: false });
    assert.equal(h.link.view().token, 'root');
    h.ctl.feed.setFaults({ loseRate: 1 });
    await endInterval();
    await foundDeaf(2);
    assert.deepEqual(h.ctl.feed.connections().map((c) => c.tokenUuid), [h.ctl.rootTokenUuid]);
    assert.equal(tokenChecks(), 0, 'no token check');
    assert.equal(deafWarnings().length, 1);
  });

  it('checks nothing at the end of an interval the feed ends unavailable: no token check, no reconnect', async () => {
    await setup();
    await endInterval();
    h.ctl.feed.setFaults({ refuse: 503 });
    assert.equal(h.ctl.feed.disconnect(), 1);
    await waitUntil('the feed to notice', () => h.link.view().state === 'unavailable', 5000, 5);
    await pollFinds(DEAF_AFTER_NEW_CONTAINERS);
    const before = tokenChecks();
    await endInterval();
    await settled();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(h.link.view().state, 'unavailable');
    assert.equal(tokenChecks(), before, 'no token check while the feed is down');
    assert.equal(h.link.view().deaf, 0);
  });
});
