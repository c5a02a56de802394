/**
 * The queue with the event feed linked in (`EventFeedLink`), against the test
 * controller's feed over real sockets, with the queue's poll loop NOT
 * running: whatever the queue learns after its first poll, it learns from
 * the feed's events (and the poll each subscription causes). Real time,
 * with bounded condition waits.
 */
import assert from 'node:assert/strict';
import { systemClock } from '../../src/clock/index.js';
import { sleep, waitUntil } from '../../src/harness/processes.js';
import { agrees, asOther, startFeedHarness as setup } from './feed-harness.js';

describe('container queue with the event feed (no poll loop)', function () {
  this.timeout(30_000);

  it('sees new containers and cancellations through the feed alone, one read each', async () => {
    const h = await setup();
    try {
      await h.connected();
      const from = h.ctl.requestLog().length;
      const a = h.ctl.addContainer({ priority: 3 });
      await waitUntil('a to become an entry', () => h.queue.entries().entries.has(a.uuid), 5000, 10);
      h.ctl.cancel(a.uuid);
      await waitUntil('the cancel to be seen', () => h.queue.get(a.uuid)?.state === 'Cancelled', 5000, 10);
      await h.quiet();
      assert.deepEqual(
        h.requestsSince(from).map((r) => r.route),
        ['/arvados/v1/containers/{uuid}', '/arvados/v1/containers'],
        'one details read for the new container, one uuid-in list for the cancel',
      );
    } finally {
      await h.close();
    }
  });

  it('connects with a token of its own, scoped to reading containers and expiring in two hours, and deletes it at stop', async () => {
    const h = await setup();
    try {
      await h.connected();
      const issued = h.ctl.tokens.issued();
      assert.equal(issued.length, 1);
      assert.deepEqual(issued[0].scopes, ['GET /arvados/v1/containers/']);
      const life = issued[0].expiresAt! - Date.now();
      assert.ok(life > 1.9 * 3_600_000 && life <= 2 * 3_600_000, `expires in ${life} ms`);
      assert.deepEqual(h.ctl.feed.connections().map((c) => c.tokenUuid), [issued[0].uuid], 'the feed connected with the scoped token, not the root token');
      assert.equal(h.link.view().token, 'own');
      const a = h.ctl.addContainer({ priority: 3 });
      await waitUntil('a to arrive through the feed', () => h.queue.entries().entries.has(a.uuid), 5000, 10);
      await h.link.stop();
      assert.deepEqual(h.ctl.tokens.issued(), [], 'deleted at stop');
      assert.equal(h.lines.records().filter((r) => r.level === 'info' && /token of its own/.test(String(r.msg))).length, 1);
    } finally {
      await h.close();
    }
  });

  it('notices, once the feed has gone quiet, that the controller no longer accepts its token, and reconnects with a new one', async () => {
    const h = await setup({}, { tokenCheckMs: 1000 });
    try {
      await h.connected();
      const [first] = h.ctl.tokens.issued();
      // While containers keep coming through the feed, nothing is checked.
      const checks = (): number => h.ctl.requestLog().filter((r) => r.route === '/arvados/v1/api_client_authorizations/current' && r.tokenUuid === first.uuid).length;
      const before = checks();
      for (let i = 0; i < 15; i++) {
        h.ctl.addContainer({ priority: 3 });
        await sleep(100);
      }
      assert.equal(checks(), before, 'checked a token while its feed was bringing events');
      // An admin deletes the token: arvados-ws would send nothing more, and say nothing.
      assert.ok(h.ctl.tokens.delete(first.uuid));
      await waitUntil('a new token', () => h.ctl.tokens.issued().length === 1 && h.ctl.tokens.issued()[0].uuid !== first.uuid, 8000, 20);
      const [second] = h.ctl.tokens.issued();
      await waitUntil('the feed on the new token', () => h.ctl.feed.connections().some((c) => c.tokenUuid === second.uuid) && h.link.view().state === 'connected', 5000, 20);
      const a = h.ctl.addContainer({ priority: 3 });
      await waitUntil('a to arrive through the feed', () => h.queue.entries().entries.has(a.uuid), 5000, 10);
      const warnings = h.lines.records().filter((r) => r.level === 'warning' && /no longer accepts the event feed's token/.test(String(r.msg)));
      assert.equal(warnings.length, 1);
      assert.equal(h.link.view().status?.renewals, 1);
    } finally {
      await h.close();
    }
  });

  it('connects with the root token, and says why, when the controller will not make it one', async () => {
    const h = await setup();
    try {
      h.ctl.setHook((req) =>
        req.method === 'POST' && req.path === '/arvados/v1/api_client_authorizations' ? { status: 403, body: { errors: ['Forbidden: not allowed here'] } } : undefined,
      );
      await h.connected();
      assert.deepEqual(h.ctl.feed.connections().map((c) => c.tokenUuid), [h.ctl.rootTokenUuid]);
      assert.equal(h.link.view().token, 'root');
      const warnings = h.lines.records().filter((r) => r.level === 'warning' && /refused to make the event feed a token/.test(String(r.msg)));
      assert.equal(warnings.length, 1);
      assert.match(String(warnings[0].error), /HTTP 403: Forbidden: not allowed here/);
      const a = h.ctl.addContainer({ priority: 3 });
      await waitUntil('a to arrive through the feed', () => h.queue.entries().entries.has(a.uuid), 5000, 10);
    } finally {
      await h.close();
    }
  });

  it('costs a bounded number of requests in a storm of a thousand events, and misses none of them', async () => {
    const h = await setup();
    try {
      const cs = Array.from({ length: 20 }, () => h.ctl.addContainer({ priority: 1 }));
      await h.connected();
      const from = h.ctl.requestLog().length;
      const started = systemClock.now();
      // 50 rounds of updates on 20 containers: 1000 update events in about a second. Each is an
      // update Arvados logs (runtime_status, as crunch-run writes it); the priority moves with it,
      // so the queue's view shows whether it read the last state.
      for (let round = 2; round <= 51; round++) {
        for (const c of cs) h.ctl.setFields(c.uuid, { runtime_status: { warning: `round ${round}` }, priority: round });
        await sleep(20);
      }
      const stormMs = systemClock.now() - started;
      // Every event reaches the link first (on a busy machine the socket lags the storm), then the refreshes settle.
      await waitUntil('every event received', () => h.link.view().status?.events.container === 1000, 10_000, 20);
      await h.quiet();
      const requests = h.requestsSince(from);
      // Changes to tracked containers are lazy hints: at most one refresh a second (one list of 20 uuids each), plus the one at the end.
      const bound = Math.ceil(stormMs / 1000) + 2;
      assert.ok(requests.length <= bound, `${requests.length} requests for 1000 events in ${stormMs} ms (bound ${bound})`);
      assert.ok(requests.every((r) => r.route === '/arvados/v1/containers'));
      for (const c of cs) assert.equal(h.queue.get(c.uuid)?.priority, 51, `${c.uuid} has its last priority`);
      assert.equal(h.link.view().status?.events.container, 1000);
    } finally {
      await h.close();
    }
  });

  it('reads a burst of new containers by one poll when there are too many to read one by one', async () => {
    const h = await setup();
    try {
      await h.connected();
      const from = h.ctl.requestLog().length;
      const cs = Array.from({ length: 300 }, () => h.ctl.addContainer({ priority: 1 }));
      await waitUntil('every container to become an entry', () => cs.every((c) => h.queue.entries().entries.has(c.uuid)), 10_000, 20);
      await h.quiet();
      const requests = h.requestsSince(from);
      const details = requests.filter((r) => r.route === '/arvados/v1/containers/{uuid}').length;
      assert.equal(details, 300, 'each new container read once');
      assert.ok(requests.length - details <= 10, `${requests.length - details} list requests besides the details reads`);
      assert.ok(h.link.view().hints.polls >= 2, 'a poll instead of 300 refreshes');
    } finally {
      await h.close();
    }
  });

  it('is not misled by duplicated, delayed and reordered events', async () => {
    const h = await setup({ duplicateRate: 0.5, reorderWindow: 4, delayMs: 10, delayJitterMs: 150, heartbeatMs: 200, seed: 11 });
    try {
      const cs = Array.from({ length: 12 }, () => h.ctl.addContainer({ priority: 1 }));
      await h.connected();
      // A mix of what happens to queued containers: logged updates (moving the priority too, so a
      // missed one shows), cancels, another dispatcher locking and unlocking.
      const update = (u: string, priority: number): unknown => h.ctl.setFields(u, { runtime_status: { warning: `p ${priority}` }, priority });
      for (let i = 0; i < cs.length; i++) {
        const u = cs[i].uuid;
        update(u, 10 + i);
        if (i % 3 === 0) h.ctl.cancel(u);
        if (i % 3 === 1) assert.equal(await asOther(h.ctl.url, u, 'lock'), 200);
        if (i % 6 === 1) assert.equal(await asOther(h.ctl.url, u, 'unlock'), 200);
        if (i % 3 === 2) update(u, 100 + i);
      }
      await waitUntil('the queue to agree with the controller', () => cs.every((c) => agrees(h, c.uuid)), 10_000, 50, () =>
        cs.filter((c) => !agrees(h, c.uuid)).map((c) => `${c.uuid}: queue ${JSON.stringify(h.queue.known(c.uuid))} controller ${h.ctl.get(c.uuid)?.state}`).join('; '),
      );
      assert.ok(h.ctl.feed.counts().eventsDuplicated > 0, 'the feed did duplicate events');
    } finally {
      await h.close();
    }
  });

  it('logs garbage from the feed, once, and goes on using the good events', async () => {
    const h = await setup({ garbageRate: 0.5, seed: 3 });
    try {
      await h.connected();
      const cs = Array.from({ length: 10 }, () => h.ctl.addContainer({ priority: 2 }));
      await waitUntil('every container to become an entry', () => cs.every((c) => h.queue.entries().entries.has(c.uuid)), 5000, 20);
      assert.ok((h.link.view().status?.events.garbage ?? 0) > 0);
      const warned = h.lines.records().filter((r) => String(r.msg).startsWith('event feed sent a message it cannot use'));
      assert.equal(warned.length, 1, 'rate-limited');
      assert.equal(h.link.view().status?.connects, 1, 'garbage does not cost the connection');
    } finally {
      await h.close();
    }
  });
});
