/**
 * The status page's tables in a real browser (Debian's Chromium driven by
 * playwright-core) against a fake management API (status-page-harness.ts):
 * an in-memory set of VMs and containers served with the JSON shapes of
 * ARVADOS.md section 7, with the same auth rules, recording every POST. The
 * test types the token, reads the tables, clicks hold and kill, checks the
 * fake saw them, opens why a container waits, watches the page refresh by
 * itself, and checks the page stays quick with 10,000 queued containers and
 * 1,000 VMs. The cards that read /metrics.json (the controller and the event
 * feed, cost, spot reclaims, the spending cap) are in status-page-cards.test.ts.
 *
 * Skips (with the reason printed) only when Chromium cannot be launched;
 * `npm pretest` (scripts/ensure-chromium.mjs) installs it when it can.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInFlightJSON } from '../fixtures/instance-views.js';
import { API, fill, type FakeVM, OUT, type Posted, statusPageInChromium, T0, TOKEN, typeToken, TYPES, uuid } from './status-page-harness.js';

describe('status page in Chromium (fake management API)', function () {
  this.timeout(60_000);
  const { api, openPage } = statusPageInChromium();

  it('asks for the token, explains 403, lists VMs and queue, and holds a VM', async () => {
    fill(api, 6, 12);
    // Ours: a VM a warm pool created, and one drain to save empties.
    api.vms[1]!.note = 'warm pool 0 (small)';
    api.vms[3]!.draining = { since: new Date(T0).toISOString(), reason: 'running 1 of 8 VCPUs; its 1 container would fit on other instances' };
    // User-controlled fields carrying markup must show as text and never run.
    api.queue[3]!.scheduling_status = '<img src=x onerror="window.__xss=1">';
    api.queue[4]!.instance_types = [{ Name: '<script>window.__xss=2</script>', Price: 1, VCPUs: 1, RAM: 1 }];
    api.posts.length = 0;
    const { ctx, page, problems } = await openPage();
    try {
      await page.waitForSelector('#message:has-text("management token")');

      await typeToken(page, 'not-the-token');
      await page.waitForSelector('#message:has-text("403")');
      assert.match(await page.textContent('#message') ?? '', /refused this token/);

      await typeToken(page, TOKEN);
      await page.waitForSelector('#instances tr[data-instance="vm-5"]');
      await page.waitForSelector('#containers tr[data-container]');
      assert.equal(await page.textContent('#message'), '');

      // Token only in this tab's sessionStorage; the field is emptied.
      const stored = await page.evaluate("[sessionStorage.length, localStorage.length, document.getElementById('token').value]");
      assert.deepEqual(stored, [1, 0, '']);

      // Every VM, with its state, behaviour, type and price.
      const vmIds = await page.$$eval('#instances tbody tr', (rows) => rows.map((r) => r.getAttribute('data-instance')));
      assert.deepEqual(vmIds, api.vms.map((v) => v.instance));
      const vm0 = await page.$$eval('#instances tr[data-instance="vm-0"] td', (tds) => tds.map((td) => td.textContent));
      assert.deepEqual(vm0.slice(0, 7), ['vm-0', 'running', 'run', 'small', 'm5.large', '$0.096', uuid(0)]);
      // Why a VM was created ahead of work, and why it gets no new work, under its id.
      assert.equal(await page.textContent('#instances tr[data-instance="vm-1"] td:first-child .note'), 'warm pool 0 (small)');
      assert.equal(await page.textContent('#instances tr[data-instance="vm-3"] td:first-child .draining'), 'draining: running 1 of 8 VCPUs; its 1 container would fit on other instances');

      // The queue in scheduling order, with the fields the operator needs.
      const order = await page.$$eval('#containers tbody tr', (rows) => rows.map((r) => r.getAttribute('data-container')));
      assert.deepEqual(order, api.queue.map((e) => e.container.uuid));
      const c1 = await page.$$eval(`#containers tr[data-container="${uuid(1)}"] td`, (tds) => tds.map((td) => td.textContent));
      assert.deepEqual(c1.slice(0, 5), ['2', uuid(1), 'Queued', '999', 'medium ($0.192), large ($0.768)']);
      assert.equal(c1[6], 'waiting for a medium instance to boot and be ready');

      // Totals: VMs by state, cost per hour, containers by state.
      const totals = await page.textContent('#totals');
      assert.match(totals ?? '', /VMs6running: 3\nidle: 1\nbooting: 1\nunknown: 1/);
      const cost = api.vms.reduce((s, v) => s + v.price, 0);
      assert.equal(await page.textContent('#total-cost .big'), `$${cost.toFixed(3)}`);
      assert.equal(await page.textContent('#total-containers .big'), '12');

      // The markup shows as text and ran nothing.
      assert.equal(await page.textContent(`#containers tr[data-container="${uuid(3)}"] td.status`), '<img src=x onerror="window.__xss=1">');
      assert.match(await page.textContent(`#containers tr[data-container="${uuid(4)}"]`) ?? '', /<script>window.__xss=2<\/script>/);
      assert.equal(await page.evaluate('typeof window.__xss'), 'undefined');
      assert.equal(await page.$$eval('#containers img, #containers script', (e) => e.length), 0);

      // Hold a VM: the API gets the POST with the token, and the page shows it.
      await page.click('#instances tr[data-instance="vm-1"] button[data-action="hold"]');
      await page.waitForSelector('#message:has-text("vm-1 is now on hold")');
      assert.deepEqual(api.posts, [{ path: `${API}instances/hold`, query: { instance_id: 'vm-1' }, authorization: `Bearer ${TOKEN}` }]);
      assert.equal(api.vms[1]!.idle_behavior, 'hold');
      await page.waitForSelector('#instances tr[data-instance="vm-1"] td.beh-hold');
      assert.equal(await page.isDisabled('#instances tr[data-instance="vm-1"] button[data-action="hold"]'), true);

      // Kill a running container, after confirming.
      page.once('dialog', (d) => void d.accept());
      await page.click(`#containers tr[data-container="${uuid(0)}"] button[data-action="kill-container"]`);
      await page.waitForSelector('#message:has-text("was sent SIGTERM")');
      const kill = api.posts[1] as Posted;
      assert.equal(kill.path, `${API}containers/kill`);
      assert.equal(kill.query.container_uuid, uuid(0));

      // Declining the confirmation sends nothing.
      page.once('dialog', (d) => void d.dismiss());
      await page.click('#instances tr[data-instance="vm-2"] button[data-action="kill-instance"]');
      await page.waitForTimeout(200);
      assert.equal(api.posts.length, 2);

      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, 'status-page.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  it('shows creates in flight (empty instance id, as the reference lists them) without hold or kill buttons', async () => {
    fill(api, 2, 0);
    const creating = (t: (typeof TYPES)[number]): FakeVM => createInFlightJSON({ name: t.Name, providerType: t.ProviderType, price: t.Price });
    api.vms.unshift(creating(TYPES[0]!), creating(TYPES[1]!));
    api.vms[3]!.worker_state = 'shutdown';
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#instances tr[data-instance="vm-1"]');
      const rows = await page.$$eval('#instances tbody tr', (trs) =>
        trs.map((tr) => [tr.getAttribute('data-instance'), tr.querySelector('td')?.textContent, tr.querySelectorAll('button').length]),
      );
      assert.deepEqual(rows, [
        ['', '(being created)', 0],
        ['', '(being created)', 0],
        ['vm-0', 'vm-0', 4],
        ['vm-1', 'vm-1', 4],
      ]);
      assert.equal(await page.textContent('#instances tr[data-instance="vm-1"] td:nth-child(2)'), 'shutdown');
      assert.match((await page.textContent('#totals')) ?? '', /VMs4booting: 2\nrunning: 1\nshutdown: 1/);
      assert.equal(await page.$$eval('#total-controller', (e) => e.length), 0, 'no /metrics.json (404): no controller card, nothing else amiss');
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  it('shows why a container waits: the blocker in words, what is ahead, the price cap, the estimate, and the timeline as a bar', async () => {
    fill(api, 2, 4);
    const u = uuid(2);
    const now = Date.now();
    api.extra.set(u, {
      blocker: {
        reason: 'types_at_capacity',
        position: 1,
        types: [{ name: 'large', scope: 'type', since: new Date(now - 120_000).toISOString(), error: 'InsufficientInstanceCapacity' }],
        ahead: { containers: 3, vcpus: 48, ram_bytes: 192 * 2 ** 30 },
        price_cap: { maximum_price_factor: 1.5, types: [{ name: 'xlarge', price: 1.536, now: 'can be created' }] },
        summary: 'every eligible instance type is at capacity: large since 11:58:00: InsufficientInstanceCapacity',
      },
      estimate: { start_low: new Date(now + 4 * 60_000).toISOString(), start_typical: new Date(now + 6 * 60_000).toISOString(), start_high: new Date(now + 9 * 60_000).toISOString() },
      suggestions: [{ change: 'MaximumPriceFactor 2.0', effect: 'would let it use xlarge now' }],
    });
    const at = (s: number): string => new Date(now - s * 1000).toISOString();
    api.timelines.set(u, {
      container_uuid: u,
      events: [
        { at: at(300), kind: 'first_seen', state: 'Queued', priority: 998 },
        { at: at(299), kind: 'locked' },
        { at: at(240), kind: 'vm_requested', instance_type: 'large' },
      ],
      phases: [
        { phase: 'queued', from: at(300), to: at(299), duration_ms: 1000 },
        { phase: 'locked', from: at(299), to: at(240), duration_ms: 59_000 },
        { phase: 'vm_requested', from: at(240), to: null, duration_ms: 240_000 },
      ],
      dropped_events: 0,
    });
    const { ctx, page, problems } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.click(`#containers tr[data-container="${u}"] button[data-action="why"]`);
      await page.waitForSelector('#detail:not([hidden]) #detail-events tr');
      assert.equal(await page.textContent('#detail-uuid'), u);
      const facts = await page.$$eval('#detail-facts dt, #detail-facts dd', (els) => els.map((e) => e.textContent));
      assert.deepEqual(facts, [
        'state', 'Queued, priority 998',
        'status', 'waiting for a large instance to boot and be ready',
        'why', 'every eligible instance type is at capacity: large since 11:58:00: InsufficientInstanceCapacity',
        'ahead', '3 waiting containers that can use its types, needing 48 VCPUs and 192.0 GiB',
        'price cap', 'MaximumPriceFactor 1.5 leaves out xlarge ($1.536/h, can be created)',
        'estimate', 'starts in about 6 min (4\u20139 min)',
        'would help', 'MaximumPriceFactor 2.0: would let it use xlarge now',
      ]);
      // The bar: one segment per phase, widths in proportion to the durations.
      const segments = await page.$$eval('#detail-bar div', (ds) => ds.map((d) => [d.getAttribute('data-phase'), Math.round(d.getBoundingClientRect().width)]));
      assert.deepEqual(segments.map((s) => s[0]), ['queued', 'locked', 'vm_requested']);
      const widths = segments.map((s) => Number(s[1]));
      assert.ok(widths[2]! > widths[1]! * 3 && widths[1]! > widths[0]! * 10, `widths ${widths.join(', ')}`);
      const events = await page.$$eval('#detail-events tr', (rows) => rows.map((r) => r.children[1]?.textContent));
      assert.deepEqual(events, ['first_seen', 'locked', 'vm_requested']);
      mkdirSync(OUT, { recursive: true });
      await page.locator('#detail').screenshot({ path: join(OUT, 'status-page-container-why.png') });
      // A container with no timeline still shows why.
      await page.click(`#containers tr[data-container="${uuid(3)}"] button[data-action="why"]`);
      // A selector, not waitForFunction: the page's CSP forbids the eval that would take.
      await page.waitForSelector(`#detail-uuid:text-is("${uuid(3)}")`);
      assert.equal(await page.$$eval('#detail-events tr', (r) => r.length), 0);
      await page.click('#detail-close');
      assert.equal(await page.getAttribute('#detail', 'hidden'), '');
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });

  it('refreshes by itself', async () => {
    fill(api, 3, 3);
    const { ctx, page } = await openPage();
    try {
      await typeToken(page, TOKEN);
      await page.waitForSelector('#instances tr[data-instance="vm-2"]');
      api.vms[2]!.idle_behavior = 'drain';
      api.queue.push({ ...api.queue[0]!, container: { ...api.queue[0]!.container, uuid: uuid(99) } });
      await page.waitForSelector('#instances tr[data-instance="vm-2"] td.beh-drain', { timeout: 12_000 });
      await page.waitForSelector(`#containers tr[data-container="${uuid(99)}"]`, { timeout: 2_000 });
    } finally {
      await ctx.close();
    }
  });

  it('shows the first page and the totals of 10,000 containers and 1,000 VMs within 2 s', async () => {
    fill(api, 1000, 10_000);
    const { ctx, page, problems } = await openPage();
    try {
      const t0 = Date.now();
      await typeToken(page, TOKEN);
      await page.waitForSelector('#total-containers .big:text-is("10000")', { timeout: 5_000 });
      await page.waitForSelector('#total-instances .big:text-is("1000")', { timeout: 5_000 });
      const elapsed = Date.now() - t0;
      assert.equal(await page.$$eval('#containers tbody tr', (r) => r.length), 100);
      assert.equal(await page.$$eval('#instances tbody tr', (r) => r.length), 100);
      assert.match(await page.textContent('#containers-range') ?? '', /^1–100 of 10000, page 1\/100$/);
      assert.ok(elapsed < 2000, `first render took ${elapsed} ms`);

      // Paging and filtering stay quick.
      const t1 = Date.now();
      await page.click('.controls[data-table="containers"] button[data-page="last"]');
      assert.match(await page.textContent('#containers-range') ?? '', /^9901–10000 of 10000/);
      assert.equal(await page.getAttribute('#containers tbody tr:last-child', 'data-container'), uuid(9999));
      await page.fill('#instances-filter', 'booting large');
      const range = await page.textContent('#instances-range');
      assert.match(range ?? '', /of \d+ \(filtered from 1000\)/);
      const booting = await page.$$eval('#instances tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
      assert.ok(booting.length > 0 && booting.every((s) => s === 'booting'));
      const interactive = Date.now() - t1;
      assert.ok(interactive < 2000, `paging and filtering took ${interactive} ms`);

      await page.evaluate('window.scrollTo(0, 0)');
      await page.screenshot({ path: join(OUT, 'status-page-large.png') });
      console.log(`      10,000 containers / 1,000 VMs: first page and totals in ${elapsed} ms, paging+filter ${interactive} ms`);
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  });
});
