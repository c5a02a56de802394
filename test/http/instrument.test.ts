/**
 * The request instrumentation on its own (src/http/instrument.ts), around a
 * handler the test controls, with a manual clock: the ages of requests in
 * progress and abandoned, /_inspect/requests, and the response log line.
 */
import assert from 'node:assert/strict';
import { createServer, request, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { ManualClock } from '../../src/clock/index.js';
import { instrument, type Next } from '../../src/http/instrument.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { parseProm, promValue, until } from './helpers.js';

const TOKEN = 'managementTokenForInstrument0123456789';

/** A server whose requests go through the instrumentation to `handler`; requests are sent with `send` and cut with `destroy()`. */
async function instrumented(handler: Next, host = '127.0.0.1') {
  const clock = new ManualClock(Date.parse('2026-12-04T10:00:00Z'));
  const registry = new Registry();
  const logs = new LineCollector();
  const wrap = instrument({ registry, log: createLogger({ stream: logs }), clock, managementToken: TOKEN });
  const done: Array<Promise<void>> = [];
  const server = createServer((req, res) => done.push(wrap(req, res, handler)));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const send = (path: string, headers: Record<string, string> = {}): { req: ClientRequest; body: Promise<{ status: number; text: string }> } => {
    const req = request(`${url}${path}`, { headers });
    const body = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += String(d)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    body.catch(() => undefined);
    req.end();
    return { req, body };
  };
  const metric = async (name: string): Promise<number | undefined> => promValue(parseProm(await registry.metrics()), name);
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { clock, logs, send, metric, done, close };
}

/** A handler that holds each request until released (or its client leaves); `closed` resolves once the response is closed. */
function holding() {
  const held: Array<{ path: string; release: () => void; closed: Promise<void> }> = [];
  const handler: Next = async (req, res) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
    held.push({ path: req.url ?? '', release, closed });
    await released;
    if (!res.destroyed) res.end('done');
  };
  return { held, handler };
}

describe('request instrumentation, around a handler of its own', () => {
  it('arvados_max_active_request_age_seconds is the age of the oldest request in progress', async () => {
    const h = holding();
    const s = await instrumented(h.handler);
    try {
      s.send('/old');
      await until('the first request to be held', () => h.held.length === 1);
      await s.clock.advance(5000);
      s.send('/young');
      await until('the second request to be held', () => h.held.length === 2);
      await s.clock.advance(2000);
      assert.equal(await s.metric('arvados_max_active_request_age_seconds'), 7);
    } finally {
      await s.close();
    }
  });

  it('a request whose client hung up counts as abandoned, from the hang-up, and no longer as active', async () => {
    const h = holding();
    const s = await instrumented(h.handler);
    try {
      const gone = s.send('/gone');
      await until('the request to be held', () => h.held.length === 1);
      await s.clock.advance(3000);
      gone.req.destroy();
      await h.held[0].closed;
      await s.clock.advance(4000);
      assert.equal(await s.metric('arvados_max_active_request_age_seconds'), 0);
      assert.equal(await s.metric('arvados_max_abandoned_request_age_seconds'), 4);
      h.held[0].release();
    } finally {
      await s.close();
    }
  });

  it("the response line carries the body of a 400, as for every error status", async () => {
    const s = await instrumented((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('missing instance_id\n');
    });
    try {
      assert.equal((await s.send('/hold').body).status, 400);
      await Promise.all(s.done);
      const [line] = s.logs.records().filter((r) => r.msg === 'response');
      assert.equal(line.respBody, 'missing instance_id\n');
    } finally {
      await s.close();
    }
  });

  it("the response line carries the first 1024 bytes of an error's body, however long", async () => {
    const s = await instrumented((_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.write('a'.repeat(1000));
      res.end('b'.repeat(2000));
    });
    try {
      assert.equal((await s.send('/fail').body).text.length, 3000);
      await Promise.all(s.done);
      const [line] = s.logs.records().filter((r) => r.msg === 'response');
      assert.equal(line.respBody, 'a'.repeat(1000) + 'b'.repeat(24));
      assert.equal(line.respBytes, 3000);
    } finally {
      await s.close();
    }
  });

  it('/_inspect/requests lists the requests in progress youngest first', async () => {
    const h = holding();
    const s = await instrumented(h.handler);
    try {
      s.send('/first');
      await until('the first request to be held', () => h.held.length === 1);
      await s.clock.advance(3000);
      s.send('/second');
      await until('the second request to be held', () => h.held.length === 2);
      await s.clock.advance(1000);
      const listed = JSON.parse((await s.send('/_inspect/requests', { Authorization: `Bearer ${TOKEN}` }).body).text) as Array<{ URL: string; Elapsed: number }>;
      assert.deepEqual(
        listed.map((r) => [r.URL, r.Elapsed]),
        [
          ['/second', 1],
          ['/first', 4],
        ],
      );
    } finally {
      await s.close();
    }
  });

  it('logs the response line of a request whose client left, once its handler returns', async () => {
    const h = holding();
    const s = await instrumented(h.handler);
    try {
      const gone = s.send('/gone');
      await until('the request to be held', () => h.held.length === 1);
      gone.req.destroy();
      await h.held[0].closed;
      h.held[0].release();
      await Promise.all(s.done);
      assert.deepEqual(
        s.logs.records().filter((r) => r.msg === 'response').map((r) => r.reqPath),
        ['gone'],
      );
    } finally {
      await s.close();
    }
  });

  it('writes an IPv4 client of a listener on every address as IPv4, in the log lines and /_inspect/requests, as the reference does', async function () {
    const h = holding();
    let s: Awaited<ReturnType<typeof instrumented>>;
    try {
      // '::' takes IPv4 clients too, as IPv4-mapped IPv6 addresses (::ffff:127.0.0.1).
      s = await instrumented(h.handler, '::');
    } catch {
      this.skip();
    }
    try {
      s.send('/held');
      await until('the request to be held', () => h.held.length === 1);
      const listed = JSON.parse((await s.send('/_inspect/requests', { Authorization: `Bearer ${TOKEN}` }).body).text) as Array<{ RemoteAddr: string }>;
      assert.match(listed[0]?.RemoteAddr ?? '', /^127\.0\.0\.1:\d+$/);
      h.held[0].release();
      await Promise.all(s.done);
      const lines = s.logs.records().filter((r) => r.reqPath === 'held');
      assert.equal(lines.length, 2, 'a request line and a response line');
      for (const l of lines) assert.match(String(l.remoteAddr), /^127\.0\.0\.1:\d+$/);
    } finally {
      await s.close();
    }
  });
});
