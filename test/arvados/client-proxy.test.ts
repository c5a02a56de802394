/**
 * The controller client follows HTTPS_PROXY / HTTP_PROXY / NO_PROXY as the
 * reference's default Go client does, except with TLS.Insecure, whose Go
 * client has a transport of its own without a proxy.
 *
 * The test controller listens on loopback, which is never proxied; so the
 * client names it by a `.invalid` host only the test proxy resolves (see
 * test/fixtures/http-proxy.ts), and gets its environment through the
 * `proxyEnv` option rather than process.env.
 */
import assert from 'node:assert/strict';
import type { TestController } from '../fixtures/controller.js';
import { PROXIED_NAME_SUFFIX, startHttpProxy, type TestHttpProxy } from '../fixtures/http-proxy.js';
import { httpsProxy as httpsFront, makeClient, startController } from './helpers.js';
import { selfSignedCertificate } from './self-signed.js';

const HOST = `controller${PROXIED_NAME_SUFFIX}`;

describe('ControllerClient through an outbound proxy', () => {
  let ctl: TestController;
  let proxy: TestHttpProxy;
  const port = (url: string): string => new URL(url).port;

  beforeEach(async () => {
    ctl = await startController();
    proxy = await startHttpProxy();
  });
  afterEach(async () => {
    await proxy.stop();
    await ctl.stop();
  });

  it('sends http requests to HTTP_PROXY', async () => {
    const c = makeClient(`http://${HOST}:${port(ctl.url)}`, { proxyEnv: { HTTP_PROXY: proxy.url } });
    try {
      assert.equal(await c.currentTokenUuid(), ctl.rootTokenUuid);
      assert.equal(proxy.seen[0]?.method, 'GET');
      assert.match(proxy.seen[0]?.target ?? '', new RegExp(`^http://${HOST}:${port(ctl.url)}/arvados/v1/`));
    } finally {
      c.close();
    }
  });

  it('tunnels https requests through HTTPS_PROXY (the TLS answer is the controller front\'s)', async () => {
    const { cert, key } = selfSignedCertificate({ dnsName: HOST });
    const front = await httpsFront(ctl.url, cert, key);
    const c = makeClient(`https://${HOST}:${port(front.url)}`, { proxyEnv: { HTTPS_PROXY: proxy.url }, retry: { attempts: 1 } });
    try {
      // Reached through the tunnel: the front's certificate, which nothing here trusts, is what fails.
      await assert.rejects(c.currentTokenUuid(), /self-signed certificate/);
      assert.deepEqual(proxy.seen[0], { method: 'CONNECT', target: `${HOST}:${port(front.url)}` });
    } finally {
      c.close();
      await front.close();
    }
  });

  it('with TLS.Insecure, goes direct whatever HTTPS_PROXY says, as the reference\'s insecure client', async () => {
    const c = makeClient(`https://${HOST}:1`, { insecure: true, proxyEnv: { HTTPS_PROXY: proxy.url }, retry: { attempts: 1 } });
    try {
      // Direct, the .invalid name does not resolve.
      await assert.rejects(c.currentTokenUuid(), /ENOTFOUND|EAI_AGAIN/);
      assert.deepEqual(proxy.seen, []);
    } finally {
      c.close();
    }
  });

  it('goes direct to a host NO_PROXY names, and to loopback', async () => {
    const skipped = makeClient(`http://${HOST}:${port(ctl.url)}`, { proxyEnv: { HTTP_PROXY: proxy.url, NO_PROXY: HOST }, retry: { attempts: 1 } });
    const loopback = makeClient(ctl.url, { proxyEnv: { HTTP_PROXY: proxy.url } });
    try {
      await assert.rejects(skipped.currentTokenUuid(), /ENOTFOUND|EAI_AGAIN/);
      assert.equal(await loopback.currentTokenUuid(), ctl.rootTokenUuid);
      assert.deepEqual(proxy.seen, []);
    } finally {
      skipped.close();
      loopback.close();
    }
  });
});
