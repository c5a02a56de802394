/**
 * The status page handler without a browser: what it sends, and that the
 * page's own markup keeps the promises the browser test relies on.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STATUS_ASSETS } from '../../src/http/status-assets.js';
import { isStatusPagePath, STATUS_PAGE_CSP, STATUS_PAGE_HTML, statusPageHandler } from '../../src/http/status-page.js';

/** The page's scripts of our own (uPlot aside): the page's code now that none of it is inline. */
const OUR_SCRIPTS = [...STATUS_ASSETS].filter(([p]) => p.endsWith('.js') && !p.includes('uPlot')).map(([p, a]) => [p, a.body.toString('utf8')] as const);

describe('status page handler', () => {
  let server: Server;
  let base: string;

  before(async () => {
    server = createServer(statusPageHandler());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('serves the page for GET with a strict CSP and no caching', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.equal(csp, STATUS_PAGE_CSP);
    assert.match(csp, /default-src 'none'/);
    // No inline script: only the scripts the daemon serves ('self'); its inline style by hash.
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const body = await res.text();
    assert.equal(body, STATUS_PAGE_HTML);
  });

  it('forbids framing the page, by its CSP and by X-Frame-Options, and sends no referrer', async () => {
    const res = await fetch(`${base}/`);
    await res.text();
    assert.match(res.headers.get('content-security-policy') ?? '', /(^|; )frame-ancestors 'none'(;|$)/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  });

  it('answers HEAD with headers only and other methods with 405', async () => {
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const post = await fetch(`${base}/`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('renders data only through textContent, never innerHTML', () => {
    assert.ok(OUR_SCRIPTS.length >= 7, OUR_SCRIPTS.map(([p]) => p).join(' '));
    for (const [name, text] of [['index.html', STATUS_PAGE_HTML], ...OUR_SCRIPTS]) {
      assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, name);
      // The token is kept per tab, never in localStorage.
      assert.doesNotMatch(text, /localStorage/, name);
    }
    // No inline script and one inline style: the CSP hashes exactly that.
    assert.equal(STATUS_PAGE_HTML.match(/<script(?![^>]*\ssrc=)[^>]*>/g), null);
    assert.equal(STATUS_PAGE_HTML.match(/<style>/g)?.length, 1);
  });

  it('loads only files the daemon serves beside it, all of them, scripts in their order', () => {
    const named = [...STATUS_PAGE_HTML.matchAll(/<script src="([^"]+)"><\/script>|<link rel="stylesheet" href="([^"]+)">/g)].map((m) => `/${m[1] ?? m[2]}`);
    assert.deepEqual(named.filter((p) => !STATUS_ASSETS.has(p)), []);
    assert.deepEqual([...STATUS_ASSETS.keys()].filter((p) => !named.includes(p)), []);
    // uPlot first; shared.js before the scripts that build on it, api.js before the charts that read its token, page.js (which starts the page) last.
    const scripts = named.filter((p) => p.endsWith('.js'));
    assert.deepEqual(scripts.slice(0, 4), ['/status/uPlot.iife.min.js', '/status/shared.js', '/status/api.js', '/status/charts.js']);
    assert.equal(scripts.at(-1), '/status/page.js');
  });

  it('serves each of its files with its type and ETag, and 304 when the browser\'s copy is current', async () => {
    for (const [path, a] of STATUS_ASSETS) {
      const res = await fetch(base + path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), path.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8', path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('etag'), a.etag, path);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(a.body), path);
      assert.equal((await fetch(base + path, { headers: { 'If-None-Match': a.etag } })).status, 304, path);
    }
  });

  it('knows its own path', () => {
    assert.equal(isStatusPagePath('/'), true);
    assert.equal(isStatusPagePath('/?x=1'), true);
    for (const p of STATUS_ASSETS.keys()) assert.equal(isStatusPagePath(p), true, p);
    assert.equal(isStatusPagePath('/status/uPlot.iife.min.js?v=1'), true);
    assert.equal(isStatusPagePath('/status/other.js'), false);
    assert.equal(isStatusPagePath('/arvados/v1/dispatch/instances'), false);
    assert.equal(isStatusPagePath(undefined), false);
  });
});
