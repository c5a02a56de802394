/**
 * The status page handler without a browser: what it sends, and that the
 * page's own markup keeps the promises the browser test relies on.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STATUS_ASSETS } from '../../src/http/status-assets.js';
import { isStatusPagePath, STATUS_PAGE_CSP, STATUS_PAGE_HTML, statusPageHandler } from '../../src/http/status-page.js';

const CHARTS_JS = STATUS_ASSETS.get('/status/charts.js')!.body.toString('utf8');

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
    // Its own inline script by hash, and the charts' files the daemon serves ('self').
    assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const body = await res.text();
    assert.equal(body, STATUS_PAGE_HTML);
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
    for (const text of [STATUS_PAGE_HTML, CHARTS_JS]) assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    // One inline script and one inline style: the CSP hashes exactly these.
    assert.equal(STATUS_PAGE_HTML.match(/<script>/g)?.length, 1);
    assert.equal(STATUS_PAGE_HTML.match(/<style>/g)?.length, 1);
    // The token is kept per tab, never in localStorage.
    assert.doesNotMatch(STATUS_PAGE_HTML, /localStorage/);
  });

  it('knows its own path', () => {
    assert.equal(isStatusPagePath('/'), true);
    assert.equal(isStatusPagePath('/?x=1'), true);
    assert.equal(isStatusPagePath('/status/charts.js'), true);
    assert.equal(isStatusPagePath('/status/uPlot.iife.min.js?v=1'), true);
    assert.equal(isStatusPagePath('/status/other.js'), false);
    assert.equal(isStatusPagePath('/arvados/v1/dispatch/instances'), false);
    assert.equal(isStatusPagePath(undefined), false);
  });
});
