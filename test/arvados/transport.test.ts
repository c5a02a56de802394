/**
 * The controller client's HTTP transport and its connections: after a
 * burst at most two stay open, and those close after the idle timeout (90 s
 * by default, as Go's default transport), direct, with TLS.Insecure, and
 * through an outbound proxy (where the pooling agents are the proxy
 * agents'), with the site CA still trusted through the tunnel.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { CONNECT_TIMEOUT_MS, IDLE_SOCKET_TIMEOUT_MS, MAX_IDLE_SOCKETS, TLS_HANDSHAKE_TIMEOUT_MS, Transport, type TransportOptions } from '../../src/arvados/http.js';
import { ManualClock, systemClock } from '../../src/clock/index.js';
import { countingServer, type CountingServer } from '../fixtures/counting-server.js';
import { PROXIED_NAME_SUFFIX, startHttpProxy } from '../fixtures/http-proxy.js';
import { silentServer } from '../fixtures/listen.js';
import { withSslCertFile } from '../fixtures/ssl-cert-file.js';
import { drive, httpsProxy as httpsFront, waitFor } from './helpers.js';
import { selfSignedCertificate } from './self-signed.js';

const IDLE_MS = 300;
const HOST = `controller${PROXIED_NAME_SUFFIX}`;

/** A server that answers `{}` after `delayMs`, counting the connections open to it. */
function startServer(delayMs: number): Promise<CountingServer> {
  return countingServer((_req, res) => {
    setTimeout(() => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'), delayMs);
  });
}

/** Sends `n` requests at once to `url` and waits for all the answers. */
async function burst(t: Transport, url: string, n: number): Promise<void> {
  const answers = await Promise.all(Array.from({ length: n }, () => t.send({ method: 'GET', url: new URL(url), headers: {}, timeoutMs: 10_000 })));
  for (const a of answers) assert.equal(a.status, 200);
}

/** Waits until `open()` reaches `n`, and a little more to see that it stays there. */
async function settlesAt(what: string, open: () => number, n: number): Promise<void> {
  await waitFor(`${what}: ${n} connections open`, () => open() === n, 5000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(open(), n, what);
}

describe('controller transport connections', () => {
  it('keeps what Go keeps: 2 idle connections, closed after 90 s', () => {
    assert.equal(MAX_IDLE_SOCKETS, 2);
    assert.equal(IDLE_SOCKET_TIMEOUT_MS, 90_000);
  });

  for (const insecure of [false, true]) {
    it(`keeps at most 2 of a burst's connections, closing them once idle${insecure ? ' (TLS.Insecure: plain agents)' : ''}`, async () => {
      const server = await startServer(100);
      const t = new Transport(systemClock, { insecure, maxSockets: 16, proxyEnv: {}, idleTimeoutMs: IDLE_MS });
      try {
        const burstDone = burst(t, server.url, 6);
        await waitFor('six connections at once', () => server.open() === 6);
        await burstDone;
        await settlesAt('after the burst', server.open, 2);
        const idleSince = performance.now();
        await settlesAt('once idle', server.open, 0);
        assert.ok(performance.now() - idleSince >= IDLE_MS - 100, 'not before the idle timeout');
      } finally {
        t.close();
        await server.stop();
      }
    });
  }

  it('lets a request in flight run past the idle timeout', async () => {
    const server = await startServer(3 * IDLE_MS);
    const t = new Transport(systemClock, { insecure: false, maxSockets: 16, proxyEnv: {}, idleTimeoutMs: IDLE_MS });
    try {
      await burst(t, server.url, 1);
    } finally {
      t.close();
      await server.stop();
    }
  });

  it('rejects a request whose signal was aborted before it was sent with the signal\'s reason, and sends nothing', async () => {
    let requests = 0;
    const server = await countingServer((_req, res) => {
      requests++;
      res.end('{}');
    });
    const t = new Transport(systemClock, { insecure: false, maxSockets: 16, proxyEnv: {}, idleTimeoutMs: IDLE_MS });
    try {
      const stop = new AbortController();
      const reason = new Error('dispatcher stopping');
      stop.abort(reason);
      await assert.rejects(t.send({ method: 'GET', url: new URL(server.url), headers: {}, timeoutMs: 10_000, signal: stop.signal }), (err) => err === reason);
      assert.equal(requests, 0);
    } finally {
      t.close();
      await server.stop();
    }
  });

  it('applies the same limits to the connections through HTTP_PROXY', async () => {
    const server = await startServer(100);
    const proxy = await startHttpProxy();
    const opts: TransportOptions = { insecure: false, maxSockets: 16, proxyEnv: { HTTP_PROXY: proxy.url }, idleTimeoutMs: IDLE_MS };
    const t = new Transport(systemClock, opts);
    try {
      await burst(t, `http://${HOST}:${new URL(server.url).port}/`, 6);
      assert.equal(proxy.seen.length, 6, 'through the proxy');
      await settlesAt('after the burst', () => proxy.clientConnections, 2);
      await settlesAt('once idle', () => proxy.clientConnections, 0);
    } finally {
      t.close();
      await proxy.stop();
      await server.stop();
    }
  });

  it('applies them to the tunnels through HTTPS_PROXY too, which still trust the site CA (SSL_CERT_FILE)', async () => {
    const server = await startServer(100);
    const { cert, key } = selfSignedCertificate({ dnsName: HOST });
    const front = await httpsFront(server.url, cert, key);
    const proxy = await startHttpProxy();
    try {
      await withSslCertFile(cert, async () => {
        const t = new Transport(systemClock, { insecure: false, maxSockets: 16, proxyEnv: { HTTPS_PROXY: proxy.url }, idleTimeoutMs: IDLE_MS });
        try {
          await burst(t, `https://${HOST}:${new URL(front.url).port}/`, 6);
          assert.deepEqual(new Set(proxy.seen.map((r) => r.method)), new Set(['CONNECT']));
          await settlesAt('after the burst', () => proxy.clientConnections, 2);
          await settlesAt('once idle', () => proxy.clientConnections, 0);
        } finally {
          t.close();
        }
      });
    } finally {
      await proxy.stop();
      await front.close();
      await server.stop();
    }
  });

  describe('the time a new connection may take, as Go\'s default transport allows', () => {
    it('is 30 s to connect and 10 s for the TLS handshake', () => {
      assert.equal(CONNECT_TIMEOUT_MS, 30_000);
      assert.equal(TLS_HANDSHAKE_TIMEOUT_MS, 10_000);
    });

    it('gives up on a TLS handshake the server never answers after 10 s on the clock, not at the request limit', async () => {
      const silent = await silentServer();
      const clock = new ManualClock();
      const t = new Transport(clock, { insecure: false, maxSockets: 16, proxyEnv: {} });
      const start = clock.now();
      try {
        const sent = t.send({ method: 'GET', url: new URL(`https://127.0.0.1:${silent.port}/`), headers: {}, timeoutMs: 60_000 });
        await waitFor('the connection', () => silent.connections() === 1);
        await assert.rejects(drive(clock, sent), /TLS handshake not done within 10000 ms/);
        const waited = clock.now() - start;
        assert.ok(waited >= 10_000 && waited < 11_000, `gave up after ${waited} ms on the clock`);
      } finally {
        t.close();
        silent.close();
      }
    });

    for (const scheme of ['http', 'https'] as const) {
      it(`does not limit a request once its ${scheme} connection is made: a slow answer is waited for`, async () => {
        let held: http.ServerResponse | undefined;
        const handler = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
          held = res;
        };
        const { cert, key } = selfSignedCertificate();
        const server = scheme === 'http' ? http.createServer(handler) : https.createServer({ cert, key }, handler);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const clock = new ManualClock();
        const t = new Transport(clock, { insecure: true, maxSockets: 16, proxyEnv: {} });
        try {
          const port = (server.address() as AddressInfo).port;
          const sent = t.send({ method: 'GET', url: new URL(`${scheme}://127.0.0.1:${port}/`), headers: {}, timeoutMs: 600_000 });
          await waitFor('the request', () => held !== undefined);
          await clock.advance(2 * CONNECT_TIMEOUT_MS);
          held!.writeHead(200).end('{}');
          assert.equal((await sent).status, 200);
        } finally {
          t.close();
          server.closeAllConnections();
          server.close();
        }
      });
    }
  });
});
