/**
 * TLS.ACME.Server: certificates read from the autocert cache that
 * `arvados-server boot` keeps, as the reference's services read them, with
 * real handshakes against a cache directory written here in autocert's
 * format (the key, then the chain; "<name>" for ECDSA, "<name>+rsa" for RSA).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { ManualClock } from '../../src/clock/index.js';
import { loadConfigText } from '../../src/config/index.js';
import { AutocertCache, cacheName, ServerNameError } from '../../src/http/autocert.js';
import { type DispatcherSource, startManagementServer } from '../../src/http/server.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { type SelfSigned, selfSignedCertificate } from '../arvados/self-signed.js';

const NAME = 'dispatch.example.com';

/** What a handshake gave: the server's certificate, or the error. */
type Outcome = { fingerprint: string } | { error: Error };

function handshake(port: number, servername: string | undefined, extra: ConnectionOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ...extra }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve({ fingerprint });
    });
    socket.on('error', (error) => resolve({ error }));
  });
}

const fingerprint = (c: SelfSigned): string => new X509Certificate(c.cert).fingerprint256;

describe('TLS.ACME.Server: certificates from the autocert cache', () => {
  let dir: string;
  let clock: ManualClock;
  let logs: LineCollector;
  let server: Server;
  let port: number;
  const ecdsa = selfSignedCertificate({ dnsName: NAME });
  const rsa = selfSignedCertificate({ dnsName: NAME, rsa: true });

  /** Writes a cache file as autocert does: SEC1 or PKCS#1 key, then the chain, replaced by a rename. */
  function cache(file: string, c: SelfSigned): void {
    const key = createPrivateKey(c.key);
    const keyPEM = key.export(key.asymmetricKeyType === 'rsa' ? { type: 'pkcs1', format: 'pem' } : { type: 'sec1', format: 'pem' }).toString();
    writeFileSync(join(dir, `${file}.tmp`), keyPEM + c.cert);
    renameSync(join(dir, `${file}.tmp`), join(dir, file));
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'autocert-test-'));
    clock = new ManualClock();
    logs = new LineCollector();
    const autocert = new AutocertCache({ dir, clock, log: createLogger({ stream: logs, level: 'info' }) });
    server = createServer(autocert.serverOptions(), (_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the certificate of the file named for the server the client asks for, which the client can verify', async () => {
    cache(NAME, ecdsa);
    assert.deepEqual(await handshake(port, NAME, { rejectUnauthorized: true, ca: [ecdsa.cert] }), { fingerprint: fingerprint(ecdsa) });
    assert.deepEqual(await handshake(port, 'Dispatch.Example.COM'), { fingerprint: fingerprint(ecdsa) }, 'the name in lower case');
    assert.deepEqual(logs.records(), []);
  });

  it('fails the handshake while the file is missing, with the reference\'s warning once a minute, and serves the file once the supervisor writes it', async () => {
    for (let i = 0; i < 3; i++) assert.ok('error' in (await handshake(port, NAME)), 'no certificate, no handshake');
    const warnings = logs.records();
    assert.equal(warnings.length, 1, 'rate-limited');
    assert.equal(warnings[0].msg, 'certificate unavailable, waiting for supervisor to update cache');
    assert.equal(warnings[0].level, 'warning');
    assert.equal(warnings[0].ServerName, NAME);
    await clock.advance(60_000);
    assert.ok('error' in (await handshake(port, NAME)));
    assert.equal(logs.records()[1]?.Suppressed, 2, 'the next line says how many were held back');
    cache(NAME, ecdsa);
    assert.deepEqual(await handshake(port, NAME), { fingerprint: fingerprint(ecdsa) });
  });

  it('fails the handshake of a client that sends no server name, as the reference does: no name, no file', async () => {
    cache(NAME, ecdsa);
    assert.ok('error' in (await handshake(port, undefined)));
  });

  it('serves "<name>+rsa" (what boot writes) to any client while there is no ECDSA file, and the ECDSA file once there is one', async () => {
    cache(`${NAME}+rsa`, rsa);
    assert.deepEqual(await handshake(port, NAME), { fingerprint: fingerprint(rsa) });
    assert.deepEqual(await handshake(port, NAME, { sigalgs: 'rsa_pss_rsae_sha256:RSA+SHA256' }), { fingerprint: fingerprint(rsa) });
    cache(NAME, ecdsa);
    assert.deepEqual(await handshake(port, NAME), { fingerprint: fingerprint(ecdsa) });
    // One certificate per SNI context: a client that takes only RSA is then
    // refused (the reference would serve it the RSA file).
    assert.ok('error' in (await handshake(port, NAME, { sigalgs: 'rsa_pss_rsae_sha256:RSA+SHA256' })));
  });

  it('falls back to the RSA file while the ECDSA one is unusable, saying why', async () => {
    cache(`${NAME}+rsa`, rsa);
    cache(NAME, selfSignedCertificate({ dnsName: NAME, notAfter: '251231000000Z' }));
    assert.deepEqual(await handshake(port, NAME), { fingerprint: fingerprint(rsa) });
    const [w] = logs.records();
    assert.equal(w.msg, 'unusable certificate in autocert cache');
    assert.equal(w.File, join(dir, NAME));
    assert.match(String(w.error), /expired certificate/);
  });

  it('picks up a renewed file at the next handshake', async () => {
    cache(NAME, ecdsa);
    assert.deepEqual(await handshake(port, NAME), { fingerprint: fingerprint(ecdsa) });
    const renewed = selfSignedCertificate({ dnsName: NAME });
    cache(NAME, renewed);
    assert.deepEqual(await handshake(port, NAME), { fingerprint: fingerprint(renewed) });
  });

  it('stops serving a certificate once it expires, with a warning saying why', async () => {
    cache(NAME, selfSignedCertificate({ dnsName: NAME, notAfter: '260201000000Z' }));
    assert.ok('fingerprint' in (await handshake(port, NAME)));
    await clock.advance(31 * 24 * 3600_000 + 1);
    assert.ok('error' in (await handshake(port, NAME)));
    const [w] = logs.records();
    assert.equal(w.msg, 'unusable certificate in autocert cache');
    assert.match(String(w.error), /expired certificate/);
  });

  it('refuses a file whose certificate is for another name, or whose key is not of the type its name says', async () => {
    cache(NAME, selfSignedCertificate({ dnsName: 'other.example.com' }));
    assert.ok('error' in (await handshake(port, NAME)));
    assert.match(String(logs.records()[0].error), /certificate is not for dispatch\.example\.com/);
    const other = 'rsa.example.com';
    cache(other, selfSignedCertificate({ dnsName: other, rsa: true }));
    assert.ok('error' in (await handshake(port, other)));
    await clock.advance(60_000);
    assert.ok('error' in (await handshake(port, other)));
    assert.match(String(logs.records()[1].error), /rsa key where the file name says ECDSA/);
  });

  it('reports a file it cannot read as unusable, with the error, not as missing', async () => {
    mkdirSync(join(dir, NAME));
    assert.ok('error' in (await handshake(port, NAME)));
    const [w] = logs.records();
    assert.equal(w.msg, 'unusable certificate in autocert cache');
    assert.match(String(w.error), /EISDIR/);
  });

  it('refuses a handshake for a server name that is no DNS name, with a warning naming it and why', async () => {
    cache(NAME, ecdsa);
    assert.ok('error' in (await handshake(port, 'localhost')));
    const [w] = logs.records();
    assert.equal(w.msg, 'TLS handshake refused: no certificate for this server name');
    assert.equal(w.ServerName, 'localhost');
    assert.equal(w.error, 'server name component count invalid');
  });

  it('reports a file whose PEM blocks do not parse as unusable, saying so', async () => {
    writeFileSync(join(dir, NAME), '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n');
    assert.ok('error' in (await handshake(port, NAME)));
    const [w] = logs.records();
    assert.equal(w.msg, 'unusable certificate in autocert cache');
    assert.match(String(w.error), new RegExp(`^${join(dir, NAME).replace(/[.+]/g, '\\$&')}: cannot parse: `));
  });

  it('takes the cache name as autocert does: lower case, punycode, no final dot, and nothing that could leave the directory', () => {
    assert.equal(cacheName('Dispatch.Example.COM.'), 'dispatch.example.com');
    assert.equal(cacheName('bücher.example'), 'xn--bcher-kva.example');
    assert.throws(() => cacheName('localhost'), /server name component count invalid/);
    assert.throws(() => cacheName('../../etc/passwd.x'), /server name contains invalid character/);
    assert.throws(() => cacheName('a/b.example'), /server name contains invalid character/);
  });

  it('checks the name again after the conversion, which maps other full stops to dots (found by the fuzz test)', () => {
    // "。.。" was "..": the parent directory as a file name.
    for (const name of ['。.。', '．.．', 'a。.b', '。a.b', 'a.b。。']) {
      assert.throws(() => cacheName(name), (e: unknown) => e instanceof ServerNameError, JSON.stringify(name));
    }
    assert.equal(cacheName('dispatch。example.com'), 'dispatch.example.com', 'one full stop of another script is a dot');
  });

  it('serves the ECDSA file once it becomes valid, with the RSA one meanwhile', async () => {
    const validFrom = clock.now() + 24 * 3600_000;
    const notBefore = new Date(validFrom).toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
    const later = selfSignedCertificate({ dnsName: NAME, notBefore });
    cache(`${NAME}+rsa`, rsa);
    cache(NAME, later);
    assert.deepEqual(await handshake(port, NAME), { fingerprint: fingerprint(rsa) });
    await clock.advance(24 * 3600_000);
    assert.deepEqual(await handshake(port, NAME), { fingerprint: fingerprint(later) });
  });

  it('refuses a certificate that is not valid yet, saying so', async () => {
    cache(NAME, selfSignedCertificate({ dnsName: NAME, notBefore: '490101000000Z' }));
    assert.ok('error' in (await handshake(port, NAME)), 'no handshake with a certificate from the future');
    assert.match(String(logs.records()[0].error), /certificate is not valid yet/);
  });

  it('refuses a file whose key is not the certificate\'s, and falls back to the RSA file', async () => {
    cache(`${NAME}+rsa`, rsa);
    cache(NAME, { cert: ecdsa.cert, key: selfSignedCertificate({ dnsName: NAME }).key });
    assert.deepEqual(await handshake(port, NAME), { fingerprint: fingerprint(rsa) });
    assert.match(String(logs.records()[0].error), /private key does not match public key/);
  });
});

describe('management server with TLS.ACME.Server', () => {
  it('serves https from the autocert cache, with no TLS.Certificate or TLS.Key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autocert-test-'));
    const cert = selfSignedCertificate({ dnsName: NAME });
    writeFileSync(join(dir, NAME), createPrivateKey(cert.key).export({ type: 'sec1', format: 'pem' }).toString() + cert.cert);
    const { cluster } = loadConfigText('Clusters:\n  zzzzz:\n    TLS: {ACME: {Server: LE}}\n');
    assert.deepEqual(cluster.TLS.ACME, { Server: 'LE' });
    const source: DispatcherSource = {
      cluster,
      logger: createLogger({ stream: new LineCollector(), level: 'info' }),
      current: () => undefined,
      notCurrent: () => 'not dispatching',
      checkHealth: () => undefined,
      metricsText: async () => '',
    };
    const server = await startManagementServer(source, { listen: '127.0.0.1:0', tls: cluster.TLS, autocertDir: dir });
    try {
      assert.match(server.url, /^https:/);
      assert.deepEqual(await handshake(server.address.port, NAME, { rejectUnauthorized: true, ca: [cert.cert] }), { fingerprint: fingerprint(cert) });
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads no TLS.Certificate or TLS.Key files with TLS.ACME.Server: no reload on SIGHUP or by the hour', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autocert-test-'));
    const { cluster } = loadConfigText('Clusters:\n  zzzzz:\n    TLS: {ACME: {Server: LE}}\n');
    const logs = new LineCollector();
    const clock = new ManualClock();
    const source: DispatcherSource = {
      cluster,
      logger: createLogger({ stream: logs, level: 'info' }),
      current: () => undefined,
      notCurrent: () => 'not dispatching',
      checkHealth: () => undefined,
      metricsText: async () => '',
    };
    const hupListeners = process.listenerCount('SIGHUP');
    const server = await startManagementServer(source, { listen: '127.0.0.1:0', tls: cluster.TLS, autocertDir: dir, clock });
    try {
      assert.equal(process.listenerCount('SIGHUP'), hupListeners);
      await clock.advance(3_600_000);
      assert.deepEqual(logs.records(), []);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
