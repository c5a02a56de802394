/**
 * Compressed answers: the client asks for gzip, as Go's default transport
 * does, and reads a gzip answer (here from a small compressing front before
 * the test controller, as an nginx with `gzip_types application/json`
 * would be); and a body past the size limit, compressed (a "gzip bomb") or
 * not, fails the call at once without being read further.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { createGzip, gzipSync } from 'node:zlib';
import { type ControllerClient, ControllerError } from '../../src/arvados/client.js';
import type { TestController } from '../fixtures/controller.js';
import { countingServer } from '../fixtures/counting-server.js';
import { makeClient, startController, waitFor } from './helpers.js';

interface Front {
  url: string;
  /** Per request: the Accept-Encoding it came with, and the bytes of the answer before and after compression. */
  seen: Array<{ acceptEncoding: string | undefined; plain: number; sent: number }>;
  open: () => number;
  stop: () => Promise<void>;
}


/** A front for `target` that gzips every answer of a request that accepts gzip. */
async function gzipFront(target: string): Promise<Front> {
  const seen: Front['seen'] = [];
  const srv = await countingServer((req, res) => {
    const headers = { ...req.headers };
    delete headers['accept-encoding'];
    const up = http.request(new URL(req.url ?? '/', target), { method: req.method, headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const plain = Buffer.concat(chunks);
        const accept = req.headers['accept-encoding'];
        const body = accept?.includes('gzip') ? gzipSync(plain) : plain;
        seen.push({ acceptEncoding: accept, plain: plain.length, sent: body.length });
        res.writeHead(r.statusCode ?? 502, {
          'Content-Type': r.headers['content-type'] ?? 'application/json',
          'Content-Length': body.length,
          ...(body === plain ? {} : { 'Content-Encoding': 'gzip' }),
        });
        res.end(body);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return { ...srv, seen };
}

describe('ControllerClient: gzip answers and the body size limit', () => {
  let ctl: TestController;
  let client: ControllerClient | undefined;
  const stops: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    ctl = await startController();
  });
  afterEach(async () => {
    client?.close();
    client = undefined;
    for (const stop of stops.splice(0)) await stop();
    await ctl.stop();
  });

  it('asks for gzip on every request and reads gzip answers', async () => {
    const front = await gzipFront(ctl.url);
    stops.push(front.stop);
    client = makeClient(front.url);
    const uuids = Array.from({ length: 200 }, (_, i) => ctl.addContainer({ priority: i + 1 }).uuid);
    assert.equal(await client.currentTokenUuid(), ctl.rootTokenUuid);
    const list = await client.listContainers({ filters: [['state', '=', 'Queued']], select: ['uuid', 'state', 'priority', 'locked_by_uuid', 'lock_count'], order: 'uuid', limit: 1000 });
    assert.deepEqual(list.items.map((c) => c.uuid), [...uuids].sort());
    assert.equal((await client.getContainer(uuids[0])).uuid, uuids[0]);
    assert.equal((await client.lockContainer(uuids[0])).state, 'Locked');
    await assert.rejects(client.lockContainer(uuids[0]), (e: ControllerError) => e.status === 422 && e.errors[0] === 'cannot lock when Locked');
    assert.equal(front.seen.length, 5);
    for (const s of front.seen) assert.equal(s.acceptEncoding, 'gzip');
    const page = front.seen[1];
    assert.ok(page.sent * 3 < page.plain, `the list page travelled compressed: ${page.sent} of ${page.plain} bytes`);
  });

  it('stops reading a gzip bomb at the limit: the call fails at once, not retried', async () => {
    // An answer that never ends: zeros, compressed about 1000:1, for as long as the client reads.
    let streaming = false;
    let closed = false;
    const bomb = await countingServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      const gz = createGzip();
      gz.pipe(res);
      streaming = true;
      const zeros = Buffer.alloc(1 << 20);
      const pump = (): void => {
        while (!res.destroyed && gz.write(zeros));
        if (!res.destroyed) gz.once('drain', pump);
      };
      res.on('close', () => {
        closed = true;
        gz.destroy();
      });
      pump();
    });
    stops.push(bomb.stop);
    client = makeClient(bomb.url, { maxResponseBytes: 4 << 20 });
    const started = performance.now();
    await assert.rejects(client.getContainer('zzzzz-dz642-000000000000001'), (e: ControllerError) => {
      assert.ok(e instanceof ControllerError);
      assert.equal(e.status, 200);
      assert.equal(e.temporary, false);
      assert.equal(e.attempts, 1);
      assert.match(e.message, /HTTP 200: the answer's body is larger than 4194304 bytes once decompressed/);
      return true;
    });
    assert.ok(streaming);
    assert.ok(performance.now() - started < 5000);
    await waitFor('the connection to be dropped', () => closed);
  });

  it('applies the same limit to a plain body, declared or chunked', async () => {
    let requests = 0;
    const big = await countingServer((req, res) => {
      requests++;
      const body = Buffer.alloc(2 << 20, 0x20);
      if (req.url?.includes('declared')) res.writeHead(200, { 'Content-Length': body.length }).end(body);
      else res.writeHead(200).end(body);
    });
    stops.push(big.stop);
    client = makeClient(big.url, { maxResponseBytes: 1 << 20 });
    for (const uuid of ['zzzzz-dz642-declared0000001', 'zzzzz-dz642-chunked00000001']) {
      await assert.rejects(client.getContainer(uuid), (e: ControllerError) => e.status === 200 && !e.temporary && /larger than 1048576 bytes$/.test(e.errors[0]));
    }
    assert.equal(requests, 2, 'neither retried');
    // Under the limit all is well.
    const small = makeClient(big.url, { maxResponseBytes: 3 << 20 });
    try {
      await assert.rejects(small.getContainer('zzzzz-dz642-declared0000001'), /HTTP 200: malformed JSON in the response/);
    } finally {
      small.close();
    }
  });

  it('fails an answer whose gzip is broken as it fails a broken connection (retried), and reads an empty body marked gzip as empty', async () => {
    let requests = 0;
    const broken = await countingServer((req, res) => {
      requests++;
      if (req.url?.includes('empty')) res.writeHead(404, { 'Content-Encoding': 'gzip', 'Content-Length': 0 }).end();
      else res.writeHead(200, { 'Content-Encoding': 'gzip' }).end('this is not gzip');
    });
    stops.push(broken.stop);
    client = makeClient(broken.url);
    await assert.rejects(client.getContainer('zzzzz-dz642-notgzip00000001'), (e: ControllerError) => {
      assert.equal(e.temporary, true);
      assert.equal(e.attempts, 3);
      assert.match(e.message, /the answer's gzip body could not be decompressed: incorrect header check/);
      return true;
    });
    assert.equal(requests, 3);
    await assert.rejects(client.getContainer('zzzzz-dz642-empty0000000001'), (e: ControllerError) => e.status === 404 && e.errors[0] === 'no error message');
  });

  it('reads an answer marked x-gzip, or gzip in capitals with blanks around, as gzip', async () => {
    const record = { uuid: 'zzzzz-dz642-xgzip00000000001', state: 'Queued' };
    let n = 0;
    const odd = await countingServer((_req, res) => {
      const encoding = ['x-gzip', ' GZIP '][n++ % 2];
      const body = gzipSync(JSON.stringify(record));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': encoding, 'Content-Length': body.length }).end(body);
    });
    stops.push(odd.stop);
    client = makeClient(odd.url);
    assert.deepEqual(await client.getContainer(record.uuid), record);
    assert.deepEqual(await client.getContainer(record.uuid), record);
  });

  it('refuses a plain answer whose declared length is past the limit at once, without waiting for its body', async () => {
    const declared = await countingServer((_req, res) => {
      // Says more than the limit, sends a little of it, and holds the rest back.
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': (1 << 20) + 1 });
      res.write('{"uuid": ');
    });
    stops.push(declared.stop);
    client = makeClient(declared.url, { maxResponseBytes: 1 << 20, retry: { requestTimeoutMs: 3000 } });
    const started = performance.now();
    await assert.rejects(client.getContainer('zzzzz-dz642-declared0000001'), (e: ControllerError) => e.status === 200 && !e.temporary && /larger than 1048576 bytes$/.test(e.errors[0]));
    assert.ok(performance.now() - started < 2000, 'not after the request timeout');
  });

  it('reads a body of exactly the limit', async () => {
    const record = { uuid: 'zzzzz-dz642-exactly000000001', state: 'Queued' };
    const text = JSON.stringify(record).padEnd(4096, ' ');
    const exact = await countingServer((req, res) => {
      if (req.url?.includes('chunked')) res.writeHead(200).end(text);
      else res.writeHead(200, { 'Content-Length': text.length }).end(text);
    });
    stops.push(exact.stop);
    client = makeClient(exact.url, { maxResponseBytes: 4096 });
    assert.deepEqual(await client.getContainer(record.uuid), record);
    assert.deepEqual(await client.getContainer('zzzzz-dz642-chunked00000001'), record);
  });
});
