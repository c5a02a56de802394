/**
 * The status page's cards that read /metrics.json, in a real browser
 * (Debian's Chromium driven by playwright-core) against the fake management
 * API of status-page-harness.ts serving the reference's MetricFamily JSON:
 * why fewer containers run (the controller's state, the concurrency limit,
 * the last 503) and the event feed, what the VMs cost, spot reclaims, the
 * start breaker's held locks, and the spending cap with the day's forecast. The tables and their actions are
 * in status-page.test.ts.
 *
 * Skips (with the reason printed) only when Chromium cannot be launched;
 * `npm pretest` (scripts/ensure-chromium.mjs) installs it when it can.
 */
import assert from 'node:assert/strict';
import { fill, statusPageInChromium, TOKEN, typeToken } from './status-page-harness.js';

/** A gauge family of one unlabelled sample, as /metrics.json has it. */
const gauge = (name: string, value: number) => ({ name: `arvados_dispatchcloud_${name}`, help: '', type: 'GAUGE', metric: [{ gauge: { value } }] });

describe('status page cards in Chromium (fake management API)', function () {
  this.timeout(60_000);
  const { api, openPage } = statusPageInChromium();

  it('shows why fewer containers run: the controller state, the concurrency limit and the last 503; and the event feed', async () => {
    fill(api, 2, 2);
    const gauge = (name: string, value: number, label?: [string, string]) => ({
      ...(label ? { label: [{ name: label[0], value: label[1] }] } : {}),
      gauge: { value },
    });
    const family = (name: string, metric: unknown[]) => ({ name: `arvados_dispatchcloud_${name}`, help: '', type: 'GAUGE', metric });
    const last503 = Math.floor(Date.now() / 1000) - 30;
    const counter = (kind: string, value: number) => ({ label: [{ name: 'kind', value: kind }], counter: { value } });
    const health = (state: string, limit: number, feed = 'connected', token = 'own', deaf = 0) => [
      family('controller_state', ['normal', 'outage', 'overload'].map((st) => gauge('', st === state ? 1 : 0, ['state', st]))),
      family('last_503_time', [gauge('', last503)]),
      family('max_concurrent_containers', [gauge('', limit)]),
      family('event_feed_state', ['disabled', 'connecting', 'connected', 'unavailable', 'stopped'].map((st) => gauge('', st === feed ? 1 : 0, ['state', st]))),
      { ...family('event_feed_messages_total', [counter('container', 42), counter('other', 7), counter('garbage', 0)]), type: 'COUNTER' },
      { ...family('event_feed_refreshes_total', [counter('refresh', 12), counter('poll', 1)]), type: 'COUNTER' },
      family('event_feed_token', ['none', 'own', 'root'].map((st) => gauge('', st === token ? 1 : 0, ['state', st]))),
      { ...family('event_feed_deaf_total', [{ counter: { value: deaf } }]), type: 'COUNTER' },
    ];
    api.metrics = health('overload', 3);
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-controller');
      assert.equal(await page.textContent('#total-controller .big'), 'overload');
      const small = (await page.textContent('#total-controller .big + .small')) ?? '';
      assert.match(small, /^concurrency limit: 3\nlast 503: 3\ds ago\n503s while other requests succeed/);
      assert.equal(await page.textContent('#total-feed .big'), 'connected');
      assert.equal(await page.textContent('#total-feed .big + .small'), 'container events: 42, refreshes: 12\ntoken: its own, read-only, renewed hourly');
      api.metrics = health('outage', 3, 'unavailable', 'root', 2);
      await page.waitForSelector('#total-controller.ctl-outage', { timeout: 12_000 });
      assert.match((await page.textContent('#total-controller')) ?? '', /every request failing/);
      assert.equal(await page.textContent('#total-feed .big'), 'unavailable');
      assert.match((await page.textContent('#total-feed')) ?? '', /down: dispatching from polls only, retrying/);
      assert.match((await page.textContent('#total-feed')) ?? '', /token: the SystemRootToken \(arvados-ws and its proxy log it\)/);
      assert.match((await page.textContent('#total-feed')) ?? '', /found deaf 2 times \(connected, no event while polls found new containers\): reconnected/);
      assert.deepEqual(problems, []);
    } finally {
      api.metrics = undefined;
      await ctx.close();
    }
  });

  it('shows what the VMs cost: the cost-per-hour gauge at current prices, and what the listed VMs have spent', async () => {
    fill(api, 3, 1);
    api.vms[0]!.cost = 1.25;
    api.vms[1]!.cost = 0.5;
    api.metrics = [gauge('max_concurrent_containers', 0), gauge('cost_per_hour_dollars', 0.1234)];
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-cost .small:has-text("current prices")');
      assert.equal(await page.textContent('#total-cost .big'), '$0.123');
      assert.equal(await page.textContent('#total-cost .big + .small'), 'at current prices (spot where known)\nspent by these VMs: $1.750');
      assert.deepEqual(problems, []);
    } finally {
      api.metrics = undefined;
      await ctx.close();
    }
  });

  it('shows spot reclaims by type and zone, the containers lost, and each type\'s recent rate', async () => {
    fill(api, 2, 1);
    const counter = (labels: Record<string, string>, value: number) => ({ label: Object.entries(labels).map(([name, v]) => ({ name, value: v })), counter: { value } });
    const family = (name: string, type: string, metric: unknown[]) => ({ name: `arvados_dispatchcloud_${name}`, help: '', type, metric });
    api.metrics = [
      family('max_concurrent_containers', 'GAUGE', [{ gauge: { value: 0 } }]),
      family('instances_reclaimed_total', 'COUNTER', [
        counter({ instance_type: 'm5.spot', zone: 'a', preemptible: 'true' }, 3),
        counter({ instance_type: 'r5.spot', zone: 'b', preemptible: 'true' }, 1),
      ]),
      family('containers_lost_to_reclaims_total', 'COUNTER', [counter({ instance_type: 'm5.spot', zone: 'a' }, 2), counter({ instance_type: 'r5.spot', zone: 'b' }, 0)]),
      family('instance_type_reclaim_rate', 'GAUGE', [{ label: [{ name: 'instance_type', value: 'm5.spot' }], gauge: { value: 0.25 } }]),
    ];
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-reclaims');
      assert.equal(await page.textContent('#total-reclaims .big'), '4');
      assert.equal(
        await page.textContent('#total-reclaims .big + .small'),
        'm5.spot @ a: 3 VMs, 2 containers lost\nr5.spot @ b: 1 VMs, 0 containers lost\nm5.spot recently reclaimed: 25%',
      );
      assert.deepEqual(problems, []);
    } finally {
      api.metrics = undefined;
      await ctx.close();
    }
  });

  it('says when the start breaker holds new locks, with the containers held and the trials, and nothing while it is closed', async () => {
    fill(api, 2, 1);
    const breaker = (open: number) => [
      gauge('max_concurrent_containers', 0),
      gauge('start_breaker_open', open),
      gauge('start_breaker_held_containers', open ? 40 : 0),
      { name: 'arvados_dispatchcloud_start_breaker_trials_total', help: '', type: 'COUNTER', metric: [{ counter: { value: 3 } }] },
    ];
    api.metrics = breaker(1);
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-starts.ctl-outage');
      assert.equal(await page.textContent('#total-starts .big'), 'held');
      assert.equal(
        await page.textContent('#total-starts .big + .small'),
        'containers keep going back to the queue without running (see the log)\n40 queued containers held; 3 tried one at a time since start',
      );
      // Closed: the card goes at the next refresh.
      api.metrics = breaker(0);
      await page.waitForSelector('#total-starts', { state: 'detached', timeout: 12_000 });
      assert.ok(await page.$('#total-controller'), 'the other cards stay');
      assert.deepEqual(problems, []);
    } finally {
      api.metrics = undefined;
      await ctx.close();
    }
  });

  it('shows the spending cap and the day\'s forecast under the cost, only when a level is set', async () => {
    fill(api, 2, 1);
    const levels = (soft: number, hard: number) => ({
      name: 'arvados_dispatchcloud_spending_cap_dollars_per_hour',
      help: '',
      type: 'GAUGE',
      metric: [
        { label: [{ name: 'level', value: 'soft' }], gauge: { value: soft } },
        { label: [{ name: 'level', value: 'hard' }], gauge: { value: hard } },
      ],
    });
    api.metrics = [gauge('max_concurrent_containers', 0), gauge('cost_per_hour_dollars', 38.5), levels(30, 40), gauge('spend_forecast_dollars', 612.25)];
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-cost .small:has-text("spending cap")');
      assert.equal(await page.textContent('#total-cost .big'), '$38.500');
      assert.equal(await page.textContent('#total-cost .big + .small'), 'at current prices (spot where known)\nspending cap: soft $30.000/h, hard $40.000/h\nforecast today: $612');
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
    // Off: the levels read 0, and the card says nothing of a cap.
    api.metrics = [gauge('max_concurrent_containers', 0), gauge('cost_per_hour_dollars', 1), levels(0, 0), gauge('spend_forecast_dollars', 0)];
    const second = await openPage();
    try {
      await typeToken(second.page, TOKEN);
      await second.page.waitForSelector('#total-cost .small:has-text("current prices")');
      assert.equal(await second.page.textContent('#total-cost .big + .small'), 'at current prices (spot where known)');
      assert.deepEqual(second.problems, []);
    } finally {
      api.metrics = undefined;
      await second.ctx.close();
    }
  });
});
