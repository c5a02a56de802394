/**
 * TLS.Certificate and TLS.Key as the reference's service command reads
 * them: file paths (with or without file://), checked at start, read again
 * on SIGHUP and every hour, a failed reload keeping the previous pair.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createTLSServer } from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock/index.js';
import { type KeyPair, loadKeyPair, reloadable, startKeyPairReloader, TLS_RELOAD_INTERVAL_MS } from '../../src/http/tls.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { selfSignedCertificate } from '../arvados/self-signed.js';

describe('TLS certificate and key', () => {
  let dir: string;
  const pair = selfSignedCertificate();
  const other = selfSignedCertificate();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tls-test-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function files(p = pair): { Certificate: string; Key: string } {
    writeFileSync(join(dir, 'cert.pem'), p.cert);
    writeFileSync(join(dir, 'key.pem'), p.key);
    return { Certificate: `file://${join(dir, 'cert.pem')}`, Key: join(dir, 'key.pem') };
  }

  it('reads file:///path and /path, as the reference (which drops "file://")', () => {
    const loaded = loadKeyPair(files());
    assert.equal(loaded.cert, pair.cert);
    assert.equal(loaded.key, pair.key);
    assert.equal(loaded.minVersion, 'TLSv1.2');
  });

  it('takes PEM text as well, which cannot be reloaded', () => {
    assert.equal(loadKeyPair({ Certificate: pair.cert, Key: pair.key }).cert, pair.cert);
    assert.equal(reloadable({ Certificate: pair.cert, Key: pair.key }), false);
    assert.equal(reloadable(files()), true);
  });

  it('fails with "error loading X509 key pair" on a missing file, no file, or a key of another certificate', () => {
    assert.throws(() => loadKeyPair({ Certificate: join(dir, 'nope.pem'), Key: join(dir, 'nope.key') }), /^Error: error loading X509 key pair: ENOENT/);
    assert.throws(() => loadKeyPair({ Certificate: '', Key: '' }), /^Error: error loading X509 key pair: no file configured/);
    assert.throws(() => loadKeyPair({ Certificate: pair.cert, Key: other.key }), /^Error: error loading X509 key pair: .*key values mismatch/);
  });

  it('reloads on SIGHUP and every hour; a failed reload is logged and the old pair kept', async () => {
    const clock = new ManualClock();
    const signals = new EventEmitter();
    const logs = new LineCollector();
    const applied: KeyPair[] = [];
    const tls = files();
    const stop = startKeyPairReloader({ tls, apply: (p) => applied.push(p), clock, log: createLogger({ stream: logs, level: 'info' }), signals });
    try {
      files(other);
      signals.emit('SIGHUP');
      assert.deepEqual(
        applied.map((p) => p.cert),
        [other.cert],
      );
      files(pair);
      await clock.advance(TLS_RELOAD_INTERVAL_MS - 1);
      assert.equal(applied.length, 1, 'not before the hour');
      await clock.advance(1);
      assert.deepEqual(
        applied.map((p) => p.cert),
        [other.cert, pair.cert],
      );
      // Half-written renewal: the certificate is new, the key is not yet.
      writeFileSync(join(dir, 'cert.pem'), other.cert);
      signals.emit('SIGHUP');
      assert.equal(applied.length, 2, 'a bad pair is not applied');
      const [w] = logs.records();
      assert.equal(w.msg, 'error updating TLS certificate');
      assert.equal(w.level, 'warning');
    } finally {
      stop();
    }
    assert.equal(signals.listenerCount('SIGHUP'), 0, 'stop() lets go of SIGHUP');
    await clock.advance(TLS_RELOAD_INTERVAL_MS);
    assert.equal(applied.length, 2, 'stop() ends the hourly reload');
  });

  it("refuses TLS 1.2 cipher suites outside the reference's ECDHE AEAD list", async () => {
    const rsa = selfSignedCertificate({ rsa: true });
    const server = createTLSServer(loadKeyPair({ Certificate: rsa.cert, Key: rsa.key }), (s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const hello = (ciphers: string): Promise<string> =>
      new Promise((resolve) => {
        const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2', ciphers }, () => {
          resolve(s.getCipher().standardName);
          s.end();
        });
        s.on('error', (err) => resolve(`refused: ${err.message}`));
      });
    try {
      assert.equal(await hello('ECDHE-RSA-AES128-GCM-SHA256'), 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
      assert.match(await hello('AES128-SHA256'), /^refused: /);
      assert.match(await hello('ECDHE-RSA-AES128-SHA'), /^refused: /);
    } finally {
      server.close();
    }
  });

  it('can reload when only one of the two names a file, the other PEM text', () => {
    const { Certificate } = files();
    assert.equal(reloadable({ Certificate, Key: pair.key }), true);
    assert.equal(reloadable({ Certificate: pair.cert, Key: join(dir, 'key.pem') }), true);
  });

  it('takes PEM text after blank lines (as a YAML block may start) as the text, not as a file name', () => {
    const tls = { Certificate: `\n${pair.cert}`, Key: ` \n\n${pair.key}` };
    assert.equal(reloadable(tls), false);
    assert.equal(loadKeyPair(tls).cert, pair.cert);
  });

  it('takes PEM text whose BEGIN line is indented (a quoted YAML value) as the text from that line', () => {
    const loaded = loadKeyPair({ Certificate: `  ${pair.cert}`, Key: `\t${pair.key}` });
    assert.equal(loaded.cert, pair.cert);
    assert.equal(loaded.key, pair.key);
  });

  it('reloads every hour, not only after the first', async () => {
    const clock = new ManualClock();
    const applied: KeyPair[] = [];
    const stop = startKeyPairReloader({ tls: files(), apply: (p) => applied.push(p), clock, log: createLogger({ stream: new LineCollector() }), signals: new EventEmitter() });
    try {
      await clock.advance(3 * TLS_RELOAD_INTERVAL_MS);
      assert.equal(applied.length, 3);
    } finally {
      stop();
    }
  });
});
