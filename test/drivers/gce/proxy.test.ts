/**
 * The Compute API clients follow HTTPS_PROXY / HTTP_PROXY / NO_PROXY by
 * Go's rules and trust the site CA file (SSL_CERT_FILE), as the daemon's
 * other clients do: the real clients against the local Compute fake.
 *
 * The fake listens on loopback, which is never proxied; so a proxied
 * endpoint is named by a `.invalid` host that only the test proxies resolve
 * (test/fixtures/http-proxy.ts). The proxy variables are the driver's `env`
 * option; SSL_CERT_FILE is set by withSslCertFile, which puts it back. The
 * https cases use a service account key file, so the OAuth token request is
 * made too, and answered by google-front.ts: alone, or behind a proxy that
 * inspects TLS as a site's egress proxy may.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate, type SelfSigned } from '../../arvados/self-signed.js';
import type { FakeGCE } from '../../fixtures/gce/server.js';
import { PROXIED_NAME_SUFFIX, startHttpProxy, type TestHttpProxy } from '../../fixtures/http-proxy.js';
import { withSslCertFile } from '../../fixtures/ssl-cert-file.js';
import { ACCESS_TOKEN, GoogleFront, TOKEN_HOST } from './google-front.js';
import { createArgs, DISPATCH_KEY, type DriverHarness, type DriverOpts, fakeParams, IMAGE, makeDriver, N2, PROJECT, startFake } from './helpers.js';

const HOST = `gce${PROXIED_NAME_SUFFIX}`;

/** A service account key file as the Cloud console gives it, with a key of our own. */
function serviceAccountKey(dir: string): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(dir, 'key.json');
  const key = {
    type: 'service_account',
    project_id: PROJECT,
    private_key_id: 'test-key',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: `dispatcher@${PROJECT}.iam.gserviceaccount.com`,
    client_id: '1',
  };
  writeFileSync(file, JSON.stringify(key));
  return file;
}

/** A create and a listing by this driver's instance set: the calls a dispatcher makes most. */
async function createAndList(h: DriverHarness): Promise<void> {
  const { tags, init } = createArgs(h.ctx.instanceSetId);
  const inst = await h.driver.create(N2, IMAGE, tags, init, DISPATCH_KEY.public);
  const listed = await h.driver.instances({ ArvadosInstanceSetID: h.ctx.instanceSetId });
  assert.deepEqual(listed.map((i) => i.id), [inst.id]);
}

describe('gce driver: outbound proxy and site CA', function () {
  let fake: FakeGCE;
  let proxy: TestHttpProxy;
  let front: GoogleFront;
  let dir: string;
  let keyFile: string;
  let tokenCert: SelfSigned;
  let hostCert: SelfSigned;
  let ipCert: SelfSigned;
  const drivers: DriverHarness[] = [];

  async function driver(opts: DriverOpts): Promise<DriverHarness> {
    const h = await makeDriver(fake, { ...opts, options: { attempts: 1, ...opts.options } });
    drivers.push(h);
    return h;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gce-proxy-'));
    keyFile = serviceAccountKey(dir);
    tokenCert = selfSignedCertificate({ dnsName: TOKEN_HOST });
    hostCert = selfSignedCertificate({ dnsName: HOST });
    ipCert = selfSignedCertificate();
    fake = await startFake();
    proxy = await startHttpProxy();
    front = await GoogleFront.start({ computePort: fake.port, defaultCert: ipCert, certs: { [TOKEN_HOST]: tokenCert, [HOST]: hostCert } });
  });
  after(async () => {
    await front.stop();
    await proxy.stop();
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.seen.length = 0;
    front.connects.length = 0;
    front.computeAuthorizations.length = 0;
    front.tokenRequests = 0;
  });
  afterEach(() => {
    for (const h of drivers.splice(0)) h.driver.stop();
  });

  it('sends http calls to HTTP_PROXY whole, as Go does, and logs the settings at start without the password', async () => {
    const env = { HTTP_PROXY: proxy.url.replace('http://', 'http://user:pw@'), HTTPS_PROXY: proxy.url };
    const h = await driver({ params: fakeParams(fake, { Endpoint: `http://${HOST}:${fake.port}` }), env });
    await createAndList(h);
    assert.ok(proxy.seen.length >= 3, 'insert, the operation wait and the listing went through the proxy');
    for (const r of proxy.seen) {
      assert.match(r.target, new RegExp(`^http://${HOST.replaceAll('.', '\\.')}:${fake.port}/compute/v1/projects/${PROJECT}/`));
      assert.equal(r.proxyAuthorization, `Basic ${Buffer.from('user:pw').toString('base64')}`);
    }
    const line = h.logs.lines.find((l) => l.includes('GCE API requests follow the outbound proxy settings'));
    assert.ok(line, 'the settings are logged at start');
    assert.ok(!line.includes('pw'), 'without the proxy password');
    assert.equal(JSON.parse(line).ComputeAPI, `via ${proxy.url}`);
  });

  it('goes direct to a loopback endpoint, and to one NO_PROXY names', async () => {
    const env = { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url };
    const local = await driver({ env });
    await createAndList(local);
    assert.deepEqual(proxy.seen, [], 'a loopback endpoint is never proxied');
    const line = local.logs.lines.find((l) => l.includes('outbound proxy settings'));
    assert.equal(JSON.parse(line ?? '{}').ComputeAPI, 'direct');

    const skipped = await driver({ params: fakeParams(fake, { Endpoint: `http://${HOST}:${fake.port}` }), env: { ...env, NO_PROXY: 'example.com, .proxy-test.invalid' } });
    // Direct, the .invalid name does not resolve.
    await assert.rejects(skipped.driver.instances({}), /ENOTFOUND|EAI_AGAIN/);
    assert.deepEqual(proxy.seen, []);
  });

  it('through a TLS-inspecting proxy: the token and Compute calls tunnel through HTTPS_PROXY and trust its certificates in SSL_CERT_FILE', async () => {
    await withSslCertFile(tokenCert.cert + hostCert.cert, async () => {
      const h = await driver({ params: fakeParams(fake, { Endpoint: `https://${HOST}`, CredentialsFile: keyFile }), env: { HTTPS_PROXY: front.proxyUrl } });
      await createAndList(h);
    });
    assert.deepEqual([...new Set(front.connects)].sort(), [`${HOST}:443`, `${TOKEN_HOST}:443`]);
    assert.ok(front.tokenRequests >= 1, 'the token was asked for through the proxy');
    assert.ok(front.computeAuthorizations.length >= 3);
    for (const a of front.computeAuthorizations) assert.equal(a, `Bearer ${ACCESS_TOKEN}`);
  });

  it('with application default credentials (GOOGLE_APPLICATION_CREDENTIALS), the same holds for the client the library picks', async () => {
    // The library reads this variable from process.env only; it is put back below.
    const before = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = keyFile;
    try {
      await withSslCertFile(tokenCert.cert + hostCert.cert, async () => {
        await createAndList(await driver({ params: fakeParams(fake, { Endpoint: `https://${HOST}` }), env: { HTTPS_PROXY: front.proxyUrl } }));
      });
    } finally {
      if (before === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = before;
    }
    assert.deepEqual([...new Set(front.connects)].sort(), [`${HOST}:443`, `${TOKEN_HOST}:443`]);
    assert.ok(front.tokenRequests >= 1);
    for (const a of front.computeAuthorizations) assert.equal(a, `Bearer ${ACCESS_TOKEN}`);
  });

  it("refuses the inspecting proxy's certificates when SSL_CERT_FILE does not hold them", async () => {
    await withSslCertFile(ipCert.cert, async () => {
      const h = await driver({ params: fakeParams(fake, { Endpoint: `https://${HOST}`, CredentialsFile: keyFile }), env: { HTTPS_PROXY: front.proxyUrl } });
      await assert.rejects(h.driver.instances({}), /self-signed certificate/);
    });
    assert.equal(front.connects[0], `${TOKEN_HOST}:443`);
    assert.equal(front.tokenRequests, 0);
    assert.deepEqual(front.computeAuthorizations, []);
  });

  it('an https endpoint with a self-signed certificate is trusted when SSL_CERT_FILE holds it, and refused when not', async () => {
    // The endpoint is 127.0.0.1, so direct; only the token request goes through the proxy.
    const opts = { params: fakeParams(fake, { Endpoint: `https://127.0.0.1:${front.tlsPort}`, CredentialsFile: keyFile }), env: { HTTPS_PROXY: front.proxyUrl } };
    await withSslCertFile(tokenCert.cert + ipCert.cert, async () => {
      await createAndList(await driver(opts));
    });
    assert.deepEqual([...new Set(front.connects)], [`${TOKEN_HOST}:443`]);
    assert.ok(front.computeAuthorizations.length >= 3);

    front.computeAuthorizations.length = 0;
    await withSslCertFile(tokenCert.cert, async () => {
      const h = await driver(opts);
      await assert.rejects(h.driver.instances({}), /self-signed certificate/);
    });
    assert.deepEqual(front.computeAuthorizations, [], 'no Compute request got through');
  });
});
