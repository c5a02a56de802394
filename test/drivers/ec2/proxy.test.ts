/**
 * The EC2 client follows HTTPS_PROXY / HTTP_PROXY / NO_PROXY and trusts
 * AWS_CA_BUNDLE, as the reference's Go SDK does: the real SDK, pointed at
 * the local EC2 fake through a local proxy.
 *
 * The fake listens on loopback, which is never proxied; so the endpoint is
 * named by a `.invalid` host that only the test proxy resolves (see
 * test/fixtures/http-proxy.ts). The environment is the driver's `env`
 * option, so nothing here touches process.env. For https, a TLS front with a
 * self-signed certificate for that name sits before the fake, and
 * AWS_CA_BUNDLE names the certificate.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { buildClient } from '../../../drivers/ec2/index.js';
import { parseEc2Params } from '../../../drivers/ec2/params.js';
import { selfSignedCertificate } from '../../arvados/self-signed.js';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
import { PROXIED_NAME_SUFFIX, startHttpProxy, type TestHttpProxy } from '../../fixtures/http-proxy.js';
import { withSslCertFile } from '../../fixtures/ssl-cert-file.js';
import { listenOnLoopback } from '../../fixtures/listen.js';
import { createArgs, DISPATCH_KEY, fakeParams, M5, makeDriver, startFake } from './helpers.js';

const IMAGE = 'ami-0123456789abcdef0';
const HOST = `ec2${PROXIED_NAME_SUFFIX}`;

/** A TLS server for HOST on loopback that passes the decrypted bytes to the fake. */
async function tlsFront(fakePort: number, cert: string, key: string): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert, key }, (s) => {
    const up = net.connect(fakePort, '127.0.0.1');
    for (const x of [s, up]) {
      sockets.add(x);
      x.on('close', () => sockets.delete(x));
      x.on('error', () => undefined);
    }
    s.pipe(up).pipe(s);
  });
  const port = await listenOnLoopback(server as unknown as import('node:http').Server);
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('ec2 driver: outbound proxy and AWS_CA_BUNDLE', function () {
  let fake: FakeEC2;
  let proxy: TestHttpProxy;
  let front: { port: number; close: () => Promise<void> };
  let dir: string;
  let bundle: string;
  const fakePort = (): number => Number(new URL(fake.url).port);

  before(async () => {
    const { cert, key } = selfSignedCertificate({ dnsName: HOST });
    dir = mkdtempSync(join(tmpdir(), 'ec2-proxy-'));
    bundle = join(dir, 'ca.pem');
    writeFileSync(bundle, cert);
    fake = await startFake();
    proxy = await startHttpProxy();
    front = await tlsFront(fakePort(), cert, key);
  });
  after(async () => {
    await front.close();
    await proxy.stop();
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.seen.length = 0;
  });

  it('tunnels https calls through HTTPS_PROXY (CONNECT) and trusts the AWS_CA_BUNDLE certificate', async () => {
    const env = { HTTPS_PROXY: proxy.url.replace('http://', 'http://user:pw@'), AWS_CA_BUNDLE: bundle, NO_PROXY: 'other.example' };
    const { driver, ctx, logs } = makeDriver(fake, { params: fakeParams(fake, { Endpoint: `https://${HOST}:${front.port}` }), options: { env } });
    const { tags, init } = createArgs(ctx.instanceSetId);
    const inst = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    const listed = await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    assert.deepEqual(listed.map((i) => i.id), [inst.id]);
    assert.ok(proxy.seen.length > 0, 'the proxy saw the calls');
    for (const r of proxy.seen) {
      assert.deepEqual(r, { method: 'CONNECT', target: `${HOST}:${front.port}`, proxyAuthorization: `Basic ${Buffer.from('user:pw').toString('base64')}` });
    }
    const line = logs.lines.find((l) => l.includes('outbound proxy'));
    assert.ok(line, 'the settings are logged at start');
    assert.ok(!line.includes('pw'), 'without the proxy password');
    driver.client.destroy();
  });

  it('without AWS_CA_BUNDLE the same endpoint is refused: its certificate is not trusted', async () => {
    const { driver } = makeDriver(fake, {
      params: fakeParams(fake, { Endpoint: `https://${HOST}:${front.port}` }),
      options: { env: { HTTPS_PROXY: proxy.url }, createAttempts: 1 },
    });
    await assert.rejects(driver.instances({}), /self-signed certificate/);
    assert.equal(proxy.seen[0]?.method, 'CONNECT');
    driver.client.destroy();
  });

  it('without AWS_CA_BUNDLE, trusts the site CA file the reference would (SSL_CERT_FILE, /etc/arvados/ca-certificates.crt)', async () => {
    await withSslCertFile(readFileSync(bundle, 'utf8'), async () => {
      const { driver } = makeDriver(fake, {
        params: fakeParams(fake, { Endpoint: `https://${HOST}:${front.port}` }),
        options: { env: { HTTPS_PROXY: proxy.url }, createAttempts: 1 },
      });
      assert.deepEqual(await driver.instances({ ArvadosInstanceSetID: 'none-such' }), []);
      assert.equal(proxy.seen[0]?.method, 'CONNECT');
      driver.client.destroy();
    });
  });

  it('sends http calls to HTTP_PROXY whole, as Go does (no CONNECT)', async () => {
    const { driver } = makeDriver(fake, { params: fakeParams(fake, { Endpoint: `http://${HOST}:${fakePort()}` }), options: { env: { HTTP_PROXY: proxy.url } } });
    await driver.instances({});
    assert.ok(proxy.seen.length > 0);
    for (const r of proxy.seen) assert.deepEqual(r, { method: 'POST', target: `http://${HOST}:${fakePort()}/` });
    driver.client.destroy();
  });

  it('goes direct to a loopback endpoint, and to one NO_PROXY names', async () => {
    const { driver } = makeDriver(fake, { options: { env: { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url } } });
    await driver.instances({});
    assert.deepEqual(proxy.seen, [], 'a loopback endpoint is never proxied');
    driver.client.destroy();
    const skipped = makeDriver(fake, {
      params: fakeParams(fake, { Endpoint: `http://${HOST}:${fakePort()}` }),
      options: { env: { HTTP_PROXY: proxy.url, NO_PROXY: `.proxy-test.invalid` }, createAttempts: 1 },
    });
    // Direct, the .invalid name does not resolve.
    await assert.rejects(skipped.driver.instances({}), /ENOTFOUND|EAI_AGAIN/);
    assert.deepEqual(proxy.seen, []);
    skipped.driver.client.destroy();
  });

  it('refuses to start on an AWS_CA_BUNDLE it cannot use, naming it', () => {
    const { params } = parseEc2Params(fakeParams(fake));
    assert.throws(() => buildClient(params, undefined, { AWS_CA_BUNDLE: join(dir, 'missing.pem') }), /AWS_CA_BUNDLE .*missing\.pem: ENOENT/);
    const empty = join(dir, 'empty.pem');
    writeFileSync(empty, 'not a certificate\n');
    assert.throws(() => buildClient(params, undefined, { AWS_CA_BUNDLE: empty }), /AWS_CA_BUNDLE .*empty\.pem: holds no certificate/);
  });
});
