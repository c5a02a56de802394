/**
 * Request targets a browser would not send but a client may: paths that
 * start with `//` (which URL parsing against a base reads as a host) are
 * paths like any other, answered 404 or by their route, never 500.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { type Stack, startStack } from './helpers.js';

/** GET `target` exactly as given (fetch would normalise it). */
function get(stack: Stack, target: string, token: string): Promise<{ status: number; body: string }> {
  const base = new URL(stack.server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path: target, headers: { Authorization: `Bearer ${token}` }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('management API: odd request targets', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({ start: false });
  });
  after(async () => {
    await stack?.stop();
  });

  for (const target of ['//', '//arvados/v1/dispatch/instances', '//x?api_token=y', '//metrics']) {
    it(`answers GET ${target} as a path: 404, not 500`, async () => {
      const r = await get(stack, target, stack.token);
      assert.equal(r.status, 404, r.body);
    });
  }
});
