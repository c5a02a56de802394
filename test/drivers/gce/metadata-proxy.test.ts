/**
 * The metadata server is never reached through a proxy: Gaxios, which
 * google-auth-library's metadata requests go through (gcp-metadata's own
 * copy, beyond the driver's hook), sends them through HTTPS_PROXY or
 * HTTP_PROXY unless NO_PROXY names the host; the driver adds it
 * (drivers/gce/transport.ts keepMetadataServerDirect). Checked against the
 * real libraries: application default credentials on a "VM" whose metadata
 * server is a local fake (GCE_METADATA_HOST), behind a recording proxy.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleAuth } from 'google-auth-library';
import { keepMetadataServerDirect, metadataServerHosts } from '../../../drivers/gce/transport.js';
import { listenOnLoopback } from '../../fixtures/listen.js';
import { startHttpProxy, type TestHttpProxy } from '../../fixtures/http-proxy.js';

const DEFAULT_HOSTS = ['169.254.169.254', 'metadata.google.internal', 'metadata.google.internal.'];

describe('gce driver: the metadata server goes direct', () => {
  describe('keepMetadataServerDirect', () => {
    it('does nothing without a proxy variable', () => {
      const env: Record<string, string | undefined> = { NO_PROXY: 'example.com' };
      assert.equal(keepMetadataServerDirect(env), undefined);
      assert.deepEqual(env, { NO_PROXY: 'example.com' });
    });

    it('adds the hosts NO_PROXY lacks, keeping what it had, once', () => {
      const env: Record<string, string | undefined> = { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'example.com, 169.254.169.254' };
      assert.deepEqual(keepMetadataServerDirect(env), { variable: 'NO_PROXY', added: DEFAULT_HOSTS.slice(1) });
      assert.equal(env.NO_PROXY, 'example.com, 169.254.169.254,metadata.google.internal,metadata.google.internal.');
      assert.equal(keepMetadataServerDirect(env), undefined, 'nothing more the second time');
    });

    it('writes no_proxy when only that one is set (Gaxios reads NO_PROXY first), and NO_PROXY when neither is', () => {
      const lower: Record<string, string | undefined> = { http_proxy: 'http://proxy:3128', no_proxy: '.corp' };
      assert.equal(keepMetadataServerDirect(lower)?.variable, 'no_proxy');
      assert.equal(lower.no_proxy, `.corp,${DEFAULT_HOSTS.join(',')}`);
      assert.equal(lower.NO_PROXY, undefined);
      const none: Record<string, string | undefined> = { HTTP_PROXY: 'http://proxy:3128' };
      keepMetadataServerDirect(none);
      assert.equal(none.NO_PROXY, DEFAULT_HOSTS.join(','));
    });

    it('adds the host GCE_METADATA_HOST or GCE_METADATA_IP names, as gcp-metadata uses it instead', () => {
      assert.deepEqual(metadataServerHosts({ GCE_METADATA_HOST: 'metadata.local:8080', GCE_METADATA_IP: 'http://10.0.0.9' }), [...DEFAULT_HOSTS, '10.0.0.9', 'metadata.local']);
      assert.deepEqual(metadataServerHosts({ GCE_METADATA_HOST: '::not a host' }), DEFAULT_HOSTS);
    });
  });

  describe('with the real libraries', () => {
    let metadata: http.Server;
    let port = 0;
    let proxy: TestHttpProxy;
    let home: string;
    const tokenRequests: string[] = [];
    const saved: Record<string, string | undefined> = {};
    const VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY', 'no_proxy', 'GCE_METADATA_HOST', 'GCE_METADATA_IP', 'GOOGLE_APPLICATION_CREDENTIALS', 'CLOUDSDK_CONFIG', 'METADATA_SERVER_DETECTION'];

    before(async () => {
      metadata = http.createServer((req, res) => {
        const headers = { 'Metadata-Flavor': 'Google' };
        if (req.headers['metadata-flavor'] !== 'Google') return res.writeHead(403, headers).end();
        if ((req.url ?? '').includes('/service-accounts/default/token')) {
          tokenRequests.push(req.url ?? '');
          return res.writeHead(200, { ...headers, 'Content-Type': 'application/json' }).end(JSON.stringify({ access_token: 'vm-token', expires_in: 3599, token_type: 'Bearer' }));
        }
        res.writeHead(200, headers).end('');
      });
      port = await listenOnLoopback(metadata);
      proxy = await startHttpProxy();
      home = mkdtempSync(join(tmpdir(), 'gcloud-'));
      for (const v of VARS) saved[v] = process.env[v];
      for (const v of VARS) delete process.env[v];
      // No credentials but the "VM"'s: an empty gcloud config, the metadata server here.
      process.env.CLOUDSDK_CONFIG = home;
      process.env.GCE_METADATA_HOST = `127.0.0.1:${port}`;
      process.env.HTTP_PROXY = proxy.url;
    });

    after(async () => {
      for (const v of VARS) {
        if (saved[v] === undefined) delete process.env[v];
        else process.env[v] = saved[v];
      }
      await proxy.stop();
      await new Promise<void>((r) => metadata.close(() => r()));
      rmSync(home, { recursive: true, force: true });
    });

    it("sends the VM's token request through the proxy without it, and direct with it", async () => {
      const scopes = ['https://www.googleapis.com/auth/compute'];
      assert.equal(await new GoogleAuth({ scopes }).getAccessToken(), 'vm-token');
      const viaProxy = proxy.seen.filter((r) => r.target.includes(`127.0.0.1:${port}`));
      assert.ok(viaProxy.length > 0, 'Gaxios sent the metadata request through HTTP_PROXY');

      assert.deepEqual(keepMetadataServerDirect(process.env)?.added, [...DEFAULT_HOSTS, '127.0.0.1']);
      proxy.seen.length = 0;
      const before = tokenRequests.length;
      assert.equal(await new GoogleAuth({ scopes }).getAccessToken(), 'vm-token');
      assert.ok(tokenRequests.length > before, 'asked the metadata server again');
      assert.deepEqual(proxy.seen, [], 'and not through the proxy');
    });
  });
});
