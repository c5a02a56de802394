/**
 * The dispatch lock over TLS, against a real PostgreSQL server with ssl=on:
 * what each sslmode of `PostgreSQL.Connection` accepts and refuses, as the
 * reference's driver does (lib/pq: `require`, the default, encrypts without
 * checking; `verify-ca` checks the chain against `sslrootcert`; `verify-full`
 * checks the name too), and that a refused connection says why in the lock's
 * status (what /_health/ping and the log show), naming the keywords that
 * decide it; and a client certificate (sslcert, sslkey) in place of a password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from '../arvados/self-signed.js';
import { suiteServer, type TestPostgres, testLock } from '../fixtures/postgres.js';

/**
 * Tries to take the lock on `server` with these Connection keywords (sslmode
 * and the like; `password` too unless `noPassword`) for up to `ms`.
 */
async function tryLock(server: TestPostgres, keywords: Record<string, string>, o: { noPassword?: boolean; ms?: number } = {}): Promise<Outcome> {
  const { host, port, user, password, dbname } = server.connection;
  const lock = testLock({ host, port, user, ...(o.noPassword ? {} : { password }), dbname, ...keywords }, { level: 'error', secret: password });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), o.ms ?? 3_000);
  try {
    await lock.acquire(abort.signal);
    const rows = await server.query<{ ssl: boolean }>(
      `SELECT s.ssl FROM pg_locks l JOIN pg_stat_ssl s ON s.pid = l.pid WHERE l.locktype = 'advisory' AND l.objid = 10005 AND l.granted`,
    );
    assert.equal(rows.length, 1);
    return { held: true, ssl: rows[0]!.ssl, detail: lock.current().detail };
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    return { held: false, detail: lock.current().detail };
  } finally {
    clearTimeout(timer);
    abort.abort();
    await lock.release();
  }
}

/** Restarts `server` serving TLS with this certificate. */
async function serveTls(server: TestPostgres, pair: { cert: string; key: string }): Promise<void> {
  await server.stopServer();
  await server.useCertificate(pair);
  await server.startServer();
}

interface Outcome {
  /** The lock was taken. */
  held: boolean;
  /** Whether the session holding it is encrypted (pg_stat_ssl), when held. */
  ssl?: boolean;
  /** The lock's status detail when not held: why. */
  detail: string;
}

describe('dispatch lock over TLS (PostgreSQL with ssl=on)', function () {
  this.timeout(30_000);
  const forIP = selfSignedCertificate();
  const forName = selfSignedCertificate({ dnsName: 'db.internal' });
  const stranger = selfSignedCertificate();
  const server = suiteServer((s) => serveTls(s, forIP));
  let dir: string;
  const pem = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dblock-tls-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const lockWith = (keywords: Record<string, string>): Promise<Outcome> => tryLock(server, keywords);

  it('without sslmode (require, as lib/pq): encrypted, and the certificate is not checked', async () => {
    assert.deepEqual(await lockWith({}), { held: true, ssl: true, detail: 'held' });
  });

  it('sslmode disable: not encrypted', async () => {
    assert.deepEqual(await lockWith({ sslmode: 'disable' }), { held: true, ssl: false, detail: 'held' });
  });

  it('verify-full with the server\'s certificate as sslrootcert: encrypted and checked', async () => {
    const ca = pem('right.pem', forIP.cert);
    assert.deepEqual(await lockWith({ sslmode: 'verify-full', sslrootcert: ca }), { held: true, ssl: true, detail: 'held' });
    assert.deepEqual(await lockWith({ sslmode: 'verify-ca', sslrootcert: ca }), { held: true, ssl: true, detail: 'held' });
  });

  it('verify-full, verify-ca, and require with a root certificate refuse a certificate the root did not sign, saying so', async () => {
    const ca = pem('stranger.pem', stranger.cert);
    for (const sslmode of ['verify-full', 'verify-ca', 'require']) {
      const out = await lockWith({ sslmode, sslrootcert: ca });
      assert.equal(out.held, false, sslmode);
      assert.match(out.detail, /^cannot reach the database: self[- ]signed certificate \(the server's TLS certificate is not trusted: sslmode and sslrootcert in PostgreSQL.Connection say what is\)$/, sslmode);
    }
  });

  describe('a certificate for another name', () => {
    before(async function () {
      this.timeout(60_000);
      await serveTls(server, forName);
    });

    it('verify-full refuses it, naming the mismatch; verify-ca takes it', async () => {
      const ca = pem('name.pem', forName.cert);
      const full = await lockWith({ sslmode: 'verify-full', sslrootcert: ca });
      assert.equal(full.held, false);
      assert.match(full.detail, /^cannot reach the database: Hostname\/IP does not match certificate's altnames: .* \(the server's TLS certificate is not trusted: /);
      assert.deepEqual(await lockWith({ sslmode: 'verify-ca', sslrootcert: ca }), { held: true, ssl: true, detail: 'held' });
    });
  });
});

describe('dispatch lock with a client certificate (sslcert, sslkey; pg_hba cert)', function () {
  this.timeout(30_000);
  // The user's certificate, its own CA: CN=postgres, the user it logs in as.
  const client = selfSignedCertificate({ dnsName: 'postgres' });
  const server = suiteServer(async (s) => {
    await s.requireClientCertificates(client.cert);
    await serveTls(s, selfSignedCertificate());
  });
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dblock-client-cert-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('logs in with the certificate and no password; without it, the server refuses', async () => {
    writeFileSync(join(dir, 'client.crt'), client.cert);
    writeFileSync(join(dir, 'client.key'), client.key, { mode: 0o600 });
    assert.deepEqual(await tryLock(server, { sslcert: join(dir, 'client.crt'), sslkey: join(dir, 'client.key') }, { noPassword: true }), { held: true, ssl: true, detail: 'held' });
    const without = await tryLock(server, {}, { noPassword: true });
    assert.equal(without.held, false);
    assert.equal(without.detail, 'cannot reach the database: connection requires a valid client certificate');
  });
});

describe('dispatch lock over TLS to a server without it', function () {
  this.timeout(30_000);
  const server = suiteServer();

  it('sslmode require (the default) does not fall back to plain text, and says the server has no TLS', async () => {
    const out = await tryLock(server, {}, { ms: 2_000 });
    assert.equal(out.held, false);
    assert.match(out.detail, /^cannot reach the database: The server does not support SSL connections \(sslmode asks for TLS \(require when not set, as with the reference\); sslmode: disable connects without it\)$/);
  });
});
