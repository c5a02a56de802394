/**
 * Shared by the controller client's and the queue's tests: a started test
 * controller, a client pointed at it, log capture, and bounded real-time
 * waits for the HTTP round trips a manual clock does not drive.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ControllerClient, type ControllerClientOptions } from '../../src/arvados/client.js';
import { ManualClock, systemClock } from '../../src/clock/index.js';
import { createLogger, LineCollector, type Logger } from '../../src/log.js';
import { TestController, type TestControllerOptions } from '../fixtures/controller.js';

export const ROOT_TOKEN = 'queueTestRootToken0123456789abcdef';
export const OTHER_TOKEN = 'otherDispatcherToken0123456789abcdef';
export const OTHER_UUID = 'zzzzz-gj3su-otherdispatch0001';

export async function startController(opts: Partial<TestControllerOptions> = {}): Promise<TestController> {
  const ctl = new TestController({ rootToken: ROOT_TOKEN, tokens: { [OTHER_TOKEN]: OTHER_UUID }, ...opts });
  await ctl.start();
  return ctl;
}

/** A debug-level logger whose lines a test can read (no secrets registered, so a leaked token would show). */
export function captureLogger(): { logger: Logger; lines: LineCollector } {
  const lines = new LineCollector();
  return { logger: createLogger({ stream: lines, level: 'debug' }), lines };
}

/** A client with quick retries, so failure tests stay fast. */
export function makeClient(url: string, o: Partial<ControllerClientOptions> = {}): ControllerClient {
  return new ControllerClient({
    baseURL: url,
    token: ROOT_TOKEN,
    clock: o.clock ?? systemClock,
    logger: o.logger ?? captureLogger().logger,
    ...o,
    retry: { attempts: 3, firstBackoffMs: 5, maxBackoffMs: 20, requestTimeoutMs: 10_000, ...o.retry },
  });
}

/** Polls `check` in real time (every 2 ms) until true; fails after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Settles `p` while moving a manual clock in `stepMs` steps, with a short
 * real wait between steps so HTTP round trips complete. For code that both
 * talks over sockets and sleeps on the clock (retries, poll loops).
 */
export async function drive<T>(clock: ManualClock, p: Promise<T>, stepMs = 50, maxSteps = 5000): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; !done && i < maxSteps; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (!done) await clock.advance(stepMs);
  }
  return p;
}

/** The number of requests the controller has started on a route (counted before latency and faults). */
export function started(ctl: TestController, key: string): number {
  return ctl.stats[key] ?? 0;
}

/** An https front for the test controller, with the given certificate: for the TLS tests. */
export async function httpsProxy(target: string, cert: string, key: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = https.createServer({ cert, key }, (req, res) => {
    const up = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
