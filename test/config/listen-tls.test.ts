/**
 * The keys that say where and how the daemon listens: each InternalURL's
 * ListenURL, TLS.Certificate, TLS.Key and TLS.ACME.Server, and the API request limits;
 * check-config shows where the key file is but never inline key text.
 */
import assert from 'node:assert/strict';
import { clusterForDisplay, REDACTED } from '../../src/config/index.js';
import { loadUnlocated as loadConfigText } from './load-helpers.js';

const config = (extra: string): string => `
Clusters:
  zzzzz:
    Services:
      DispatchCloud:
        InternalURLs:
          "https://dispatch.example:9006": {ListenURL: "http://0.0.0.0:9006"}
          "http://10.0.0.2:9006": {}
          "http://10.0.0.3:9006":
${extra}`;

describe('config: listening', () => {
  it('reads each InternalURL\'s ListenURL beside the InternalURLs list; an entry with a null value is none, as in Arvados', () => {
    const { cluster, warnings } = loadConfigText(config(''));
    assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, ['https://dispatch.example:9006', 'http://10.0.0.2:9006']);
    assert.deepEqual(cluster.Services.DispatchCloud.ListenURLs, { 'https://dispatch.example:9006': 'http://0.0.0.0:9006' });
    assert.deepEqual(
      warnings.filter((w) => /^Clusters\.zzzzz\.(Services\.DispatchCloud|TLS|API)\./.test(w)),
      [],
      'known Arvados keys',
    );
  });

  it('rejects a ListenURL that is not an http(s) URL, with its path', () => {
    assert.throws(
      () => loadConfigText(config('').replace('http://0.0.0.0:9006', '0.0.0.0:9006')),
      (err: Error) => /Clusters\.zzzzz\.Services\.DispatchCloud\.InternalURLs\.https:\/\/dispatch\.example:9006\.ListenURL: expected an http:\/\/ or https:\/\/ URL/.test(err.message),
    );
  });

  it('takes a ListenURL or InternalURL with a port and no host (http://:9006), which the reference binds on every address', () => {
    const text = config('').replace('http://0.0.0.0:9006', 'http://:9006').replace('"http://10.0.0.2:9006"', '"https://:9007/"');
    const { cluster, warnings } = loadConfigText(text);
    assert.deepEqual(warnings.filter((w) => /URL/.test(w) && !/ExternalURL/.test(w)), [], 'nothing said about the listen URLs');
    assert.deepEqual(cluster.Services.DispatchCloud.ListenURLs, { 'https://dispatch.example:9006': 'http://:9006' });
    assert.ok(cluster.Services.DispatchCloud.InternalURLs.includes('https://:9007/'));
    // Only the host may be missing: no port, or garbage after it, is still refused.
    assert.throws(() => loadConfigText(config('').replace('http://0.0.0.0:9006', 'http://:')), /ListenURL: expected an http:\/\/ or https:\/\/ URL/);
    assert.throws(() => loadConfigText(config('').replace('http://0.0.0.0:9006', 'http://:90x6')), /ListenURL: expected an http:\/\/ or https:\/\/ URL/);
  });

  it('reads TLS.Certificate, TLS.Key, TLS.ACME.Server and the API limits, with the reference\'s defaults', () => {
    const defaults = loadConfigText(config('')).cluster;
    assert.deepEqual(defaults.TLS, { Insecure: false, Certificate: '', Key: '', ACME: { Server: '' } });
    assert.deepEqual(defaults.API, { MaxConcurrentRequests: 64, MaxQueuedRequests: 128, MaxGatewayTunnels: 1000, RequestTimeout: 300_000 });
    const set = loadConfigText(
      config(`    TLS:
      Certificate: file:///etc/arvados/cert.pem
      Key: /etc/arvados/key.pem
      ACME:
        Server: LE
    API:
      MaxConcurrentRequests: 8
      MaxQueuedRequests: 0
      RequestTimeout: 90s
`),
    ).cluster;
    assert.deepEqual(set.TLS, { Insecure: false, Certificate: 'file:///etc/arvados/cert.pem', Key: '/etc/arvados/key.pem', ACME: { Server: 'LE' } });
    assert.equal(set.API.MaxConcurrentRequests, 8);
    assert.equal(set.API.MaxQueuedRequests, 0);
    assert.equal(set.API.RequestTimeout, 90_000);
  });

  it('check-config shows ListenURL and a key file\'s path, and redacts an inline key', () => {
    const path = loadConfigText(config(`    TLS:\n      Key: file:///etc/arvados/key.pem\n`)).cluster;
    const shown = clusterForDisplay(path).Clusters as Record<string, { TLS: { Key: string }; Services: { DispatchCloud: { InternalURLs: Record<string, unknown> } } }>;
    assert.equal(shown.zzzzz.TLS.Key, 'file:///etc/arvados/key.pem');
    assert.deepEqual(shown.zzzzz.Services.DispatchCloud.InternalURLs['https://dispatch.example:9006'], { ListenURL: 'http://0.0.0.0:9006' });
    assert.deepEqual(shown.zzzzz.Services.DispatchCloud.InternalURLs['http://10.0.0.2:9006'], {});
    const inline = loadConfigText(config(`    TLS:\n      Key: |\n        -----BEGIN PRIVATE KEY-----\n        AAAA\n        -----END PRIVATE KEY-----\n`)).cluster;
    const shownInline = clusterForDisplay(inline).Clusters as Record<string, { TLS: { Key: string } }>;
    assert.equal(shownInline.zzzzz.TLS.Key, REDACTED);
  });
});
