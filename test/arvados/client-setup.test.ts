/**
 * How the controller client is set up, against the test controller over
 * real HTTP (and HTTPS): built from the cluster config by fromCluster (its
 * token, the scheme and host of the ExternalURL, at most a quarter of
 * API.MaxConcurrentRequests in flight, TLS.Insecure, the dispatch-lock
 * fence), a window kept while the controller answers, the URLs it refuses,
 * and TLS with a self-signed certificate (insecure, SSL_CERT_FILE, refused
 * otherwise). What each call sends and returns is client-calls.test.ts.
 */
import assert from 'node:assert/strict';
import { ControllerClient as Client, type ControllerError, controllerConcurrencyCap } from '../../src/arvados/client.js';
import { ManualClock, systemClock } from '../../src/clock/index.js';
import { loadConfigText } from '../../src/config/index.js';
import type { TestController } from '../fixtures/controller.js';
import { captureLogger, drive, httpsProxy, makeClient, ROOT_TOKEN, startController, waitFor } from './helpers.js';
import { withSslCertFile } from '../fixtures/ssl-cert-file.js';
import { selfSignedCertificate } from './self-signed.js';
import { DispatchLockLostError, isDispatchLockLostError } from '../../src/dblock/fence.js';

describe('ControllerClient setup', () => {
  let ctl: TestController;

  beforeEach(async () => {
    ctl = await startController();
  });

  afterEach(async () => {
    await ctl.stop();
  });

  const last = () => ctl.requestLog().at(-1)!;

  it('is built from the cluster config by fromCluster', async () => {
    const yaml = `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    Services:\n      Controller:\n        ExternalURL: ${ctl.url}/\n`;
    const { cluster } = loadConfigText(yaml);
    const c = Client.fromCluster(cluster, systemClock, captureLogger().logger);
    try {
      assert.equal(await c.currentTokenUuid(), ctl.rootTokenUuid);
    } finally {
      c.close();
    }
  });

  describe('fromCluster: at most a quarter of API.MaxConcurrentRequests in flight, starting at 8 or that cap', () => {
    const clusterWith = (url: string, maxConcurrentRequests: number | undefined) => {
      const api = maxConcurrentRequests === undefined ? '' : `    API:\n      MaxConcurrentRequests: ${maxConcurrentRequests}\n`;
      return loadConfigText(`Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n${api}    Services:\n      Controller:\n        ExternalURL: ${url}/\n`).cluster;
    };

    it('computes the cap as the reference does, but never 0, and bounded when the controller has no limit', () => {
      assert.equal(controllerConcurrencyCap(64), 16);
      assert.equal(controllerConcurrencyCap(16), 4);
      assert.equal(controllerConcurrencyCap(257), 64);
      assert.equal(controllerConcurrencyCap(3), 1, 'the reference would have no cap here (3 / 4 = 0)');
      assert.equal(controllerConcurrencyCap(0), 256);
    });

    for (const [mcr, cap, start] of [
      [undefined, 16, 8],
      [16, 4, 4],
      [256, 64, 8],
      [0, 256, 8],
    ] as const) {
      it(`MaxConcurrentRequests ${mcr ?? '64 (default)'}: cap ${cap}, ${start} in flight at first`, async () => {
        const clock = new ManualClock();
        const slow = await startController({ clock });
        const c = Client.fromCluster(clusterWith(slow.url, mcr), clock, captureLogger().logger);
        try {
          assert.deepEqual([c.window?.cap, c.window?.current], [cap, start]);
          const uuids = Array.from({ length: start + 4 }, () => slow.addContainer().uuid);
          slow.setLatency(1000);
          const reads = Promise.all(uuids.map((u) => c.getContainer(u)));
          await waitFor(`${start} reads at the controller`, () => (slow.stats['GET /arvados/v1/containers/{uuid}'] ?? 0) === start);
          await new Promise((resolve) => setTimeout(resolve, 50));
          assert.equal(slow.stats['GET /arvados/v1/containers/{uuid}'], start, 'the rest wait in the client');
          await drive(clock, reads, 1000);
          assert.equal(slow.requestCounts().maxInFlight, start);
        } finally {
          c.close();
          await slow.stop();
        }
      });
    }
  });

  it('uses only the scheme and host of the ExternalURL, as the reference does: a path is not a prefix', async () => {
    const yaml = `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    Services:\n      Controller:\n        ExternalURL: ${ctl.url}/arvados/\n`;
    const c = Client.fromCluster(loadConfigText(yaml).cluster, systemClock, captureLogger().logger);
    try {
      assert.equal(await c.currentTokenUuid(), ctl.rootTokenUuid);
      assert.equal(last().path, '/arvados/v1/api_client_authorizations/current');
    } finally {
      c.close();
    }
  });

  it('refuses a URL that is not http or https', () => {
    assert.throws(() => makeClient('ftp://example.com'), /must be http:\/\/ or https:\/\//);
  });

  describe('over TLS with a self-signed certificate', () => {
    const { cert, key } = selfSignedCertificate();

    it('works with insecure (TLS.Insecure)', async () => {
      const proxy = await httpsProxy(ctl.url, cert, key);
      const c = makeClient(proxy.url, { insecure: true });
      try {
        assert.equal(await c.currentTokenUuid(), ctl.rootTokenUuid);
      } finally {
        c.close();
        await proxy.close();
      }
    });

    it('trusts it when SSL_CERT_FILE names it, as the reference would (a site CA)', async () => {
      await withSslCertFile(cert, async () => {
        const proxy = await httpsProxy(ctl.url, cert, key);
        const c = makeClient(proxy.url, { retry: { attempts: 1 } });
        try {
          assert.equal(await c.currentTokenUuid(), ctl.rootTokenUuid);
        } finally {
          c.close();
          await proxy.close();
        }
      });
    });

    it('refuses the certificate without insecure', async () => {
      const proxy = await httpsProxy(ctl.url, cert, key);
      const c = makeClient(proxy.url, { retry: { attempts: 1 } });
      try {
        await assert.rejects(c.currentTokenUuid(), (e: ControllerError) => {
          assert.equal(e.status, undefined);
          assert.match(e.message, /self-signed certificate/);
          return true;
        });
      } finally {
        c.close();
        await proxy.close();
      }
    });
  });

  it('fromCluster follows TLS.Insecure: a self-signed controller is reached', async () => {
    const { cert, key } = selfSignedCertificate();
    const proxy = await httpsProxy(ctl.url, cert, key);
    const yaml = `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    TLS:\n      Insecure: true\n    Services:\n      Controller:\n        ExternalURL: ${proxy.url}/\n`;
    const c = Client.fromCluster(loadConfigText(yaml).cluster, systemClock, captureLogger().logger);
    try {
      assert.equal(await c.currentTokenUuid(), ctl.rootTokenUuid);
    } finally {
      c.close();
      await proxy.close();
    }
  });

  it('fromCluster hands the fence to the client: after the dispatch lock is lost, a lock is refused unsent', async () => {
    const yaml = `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    Services:\n      Controller:\n        ExternalURL: ${ctl.url}/\n`;
    const fence = {
      check: () => {
        throw new DispatchLockLostError('dispatch lock lost');
      },
    };
    const c = Client.fromCluster(loadConfigText(yaml).cluster, systemClock, captureLogger().logger, undefined, fence);
    try {
      const ctr = ctl.addContainer();
      await assert.rejects(c.lockContainer(ctr.uuid), (e: unknown) => isDispatchLockLostError(e));
      assert.equal(ctl.get(ctr.uuid)?.state, 'Queued');
      assert.equal(ctl.stats['POST /arvados/v1/containers/{uuid}/lock'], undefined, 'nothing was sent');
    } finally {
      c.close();
    }
  });

  it('keeps its window while the controller answers: only an overload verdict cuts it', async () => {
    const c = makeClient(ctl.url, { maxConnections: 4 });
    try {
      const uuids = Array.from({ length: 6 }, () => ctl.addContainer().uuid);
      for (const u of uuids) await c.getContainer(u);
      ctl.setLatency(100);
      await Promise.all(uuids.map((u) => c.getContainer(u)));
      assert.deepEqual([c.window?.cap, c.window?.current], [4, 4]);
      assert.equal(ctl.requestCounts().maxInFlight, 4);
    } finally {
      c.close();
    }
  });
});
