/**
 * GET /arvados/v1/dispatch/history on a whole dispatcher (the test
 * controller, the lame cloud, the real management server): the token rules
 * of the other routes, and a sample that reads the dispatcher's real
 * sources and events. The status page's files are served beside the page,
 * without the token, as the page is.
 */
import assert from 'node:assert/strict';
import type { HistoryJSON } from '../../src/history/history.js';
import { STATUS_ASSETS } from '../../src/http/status-assets.js';
import { STATUS_PAGE_CSP } from '../../src/http/status-page.js';
import { call, type Stack, startStack, until } from './helpers.js';

describe('history route (whole dispatcher, management API)', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('wants the ManagementToken like the other routes', async () => {
    assert.equal((await call(stack, 'GET', '/arvados/v1/dispatch/history')).status, 401);
    assert.equal((await call(stack, 'GET', '/arvados/v1/dispatch/history', { token: 'wrong' })).status, 403);
    assert.equal((await call(stack, 'POST', '/arvados/v1/dispatch/history', { token: stack.token })).status, 405);
  });

  it('has a sample from the start, and one taken later sees the running container and its wait', async () => {
    const first = (await call(stack, 'GET', '/arvados/v1/dispatch/history', { token: stack.token })).json<HistoryJSON>();
    assert.equal(first.interval_seconds, 30);
    assert.ok(first.times.length >= 1);

    const uuid = stack.controller.addContainer({ command: ['sleep', '60'], priority: 5 }).uuid;
    await until('the container to run', () => stack.dispatcher.pool.running().has(uuid), 20_000);
    stack.dispatcher.history.sample();
    const reply = await call(stack, 'GET', '/arvados/v1/dispatch/history', { token: stack.token });
    assert.equal(reply.status, 200);
    assert.equal(reply.contentType, 'application/json');
    const h = reply.json<HistoryJSON>();
    const last = <T>(xs: T[]): T => xs[xs.length - 1]!;
    assert.equal(h.times.length, first.times.length + 1);
    assert.equal(last(h.series.vms.inuse), 1);
    assert.equal(last(h.series.containers.Locked)! + last(h.series.containers.Running)!, 1);
    assert.notEqual(last(h.series.queue_wait_seconds.started_median), null);
    assert.ok(last(h.series.cost_per_hour_dollars.total)! > 0);
    assert.equal(last(h.series.cloud_errors_per_minute.other), 0);
  });

  it('serves the page\'s files without the token, and the page allows scripts from itself only', async () => {
    assert.ok(STATUS_ASSETS.size >= 10);
    for (const path of STATUS_ASSETS.keys()) {
      const type = path.endsWith('.js') ? 'text/javascript' : 'text/css';
      const res = await fetch(stack.server.url + path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), `${type}; charset=utf-8`, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      const etag = res.headers.get('etag')!;
      assert.ok((await res.text()).length > 100, path);
      assert.equal((await fetch(stack.server.url + path, { headers: { 'If-None-Match': etag } })).status, 304, path);
    }
    assert.equal((await fetch(`${stack.server.url}/status/other.js`)).status, 401);
    const page = await fetch(`${stack.server.url}/`);
    assert.equal(page.headers.get('content-security-policy'), STATUS_PAGE_CSP);
    assert.match(STATUS_PAGE_CSP, /script-src 'self'(;|$)/);
    assert.match(STATUS_PAGE_CSP, /style-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    assert.doesNotMatch(STATUS_PAGE_CSP, /unsafe-|https?:|\*/);
  });
});
