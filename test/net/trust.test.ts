/**
 * The roots our TLS clients trust: the file the reference's Go clients would
 * read (SSL_CERT_FILE, else /etc/arvados/ca-certificates.crt, else the
 * system bundle) and the certificate directories (SSL_CERT_DIR, else the
 * system's), on top of Node's own roots.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARVADOS_CA_FILE, certDirEntries, pemCertificates, secureContextOption, SYSTEM_CA_DIRS, SYSTEM_CA_FILES, trustedRoots, type TrustInputs } from '../../src/net/trust.js';
import { selfSignedCertificate } from '../arvados/self-signed.js';
import { withSslCertFile } from '../fixtures/ssl-cert-file.js';

const siteCA = selfSignedCertificate({ dnsName: 'ca.example' }).cert;
const otherCA = selfSignedCertificate({ dnsName: 'other.example' }).cert;
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

const enoent = (path: string) => Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });

/** A file system of these files only (a directory lists the files under it); anything else fails with ENOENT. */
function files(contents: Record<string, string>): Required<Pick<TrustInputs, 'read' | 'list'>> {
  return {
    read: (path) => {
      if (path in contents) return contents[path];
      throw enoent(path);
    },
    list: (dir) => {
      const under = Object.keys(contents).filter((p) => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/'));
      if (under.length === 0) throw enoent(dir);
      return under;
    },
  };
}

/** The fingerprints of what `ca` adds to Node's roots. */
function added(ca: string[] | undefined): string[] {
  assert.ok(ca, 'a ca list');
  assert.deepEqual(ca.slice(0, rootCertificates.length), [...rootCertificates], "Node's roots first, all of them");
  return ca.slice(rootCertificates.length).map(fp);
}

describe('trusted roots (src/net/trust.ts)', () => {
  it('reads the file SSL_CERT_FILE names, and only that one', () => {
    const fs = files({ '/site/ca.pem': siteCA, [ARVADOS_CA_FILE]: otherCA, '/elsewhere/bundle.crt': otherCA });
    const r = trustedRoots({ env: { SSL_CERT_FILE: '/site/ca.pem' }, ...fs });
    assert.equal(r.file, '/site/ca.pem');
    assert.deepEqual(added(r.ca), [fp(siteCA)]);
    assert.equal(r.added, 1);
    assert.equal(r.dirs, undefined);
  });

  it('says why when SSL_CERT_FILE cannot be read, and keeps Node roots', () => {
    const r = trustedRoots({ env: { SSL_CERT_FILE: '/nope.pem' }, ...files({ [ARVADOS_CA_FILE]: siteCA }) });
    assert.equal(r.ca, undefined);
    assert.equal(r.problem, 'SSL_CERT_FILE /nope.pem: ENOENT');
  });

  it('takes /etc/arvados/ca-certificates.crt before the system bundle, as the reference SDK sets SSL_CERT_FILE to it', () => {
    const r = trustedRoots({ env: {}, ...files({ [ARVADOS_CA_FILE]: siteCA, [SYSTEM_CA_FILES[2]]: otherCA }) });
    assert.equal(r.file, ARVADOS_CA_FILE);
    assert.deepEqual(added(r.ca), [fp(siteCA)]);
    // The Debian bundle sits in /etc/ssl/certs, which Go reads as a directory whatever file it took.
    const debian = trustedRoots({ env: {}, ...files({ [ARVADOS_CA_FILE]: siteCA, [SYSTEM_CA_FILES[0]]: otherCA }) });
    assert.deepEqual(added(debian.ca), [fp(siteCA), fp(otherCA)]);
    assert.equal(debian.added, 1, 'one from the file');
    assert.deepEqual(debian.dirs, { dirs: ['/etc/ssl/certs'], added: 1, named: false });
  });

  it('falls back to the first system bundle that can be read, in Go order', () => {
    const r = trustedRoots({ env: {}, ...files({ [SYSTEM_CA_FILES[2]]: otherCA, [SYSTEM_CA_FILES[4]]: siteCA }) });
    assert.equal(r.file, SYSTEM_CA_FILES[2]);
    assert.deepEqual(added(r.ca), [fp(otherCA)]);
  });

  it('stops at the first system bundle that can be read even when it holds no certificate, as Go does: a later one is not read', () => {
    const r = trustedRoots({ env: {}, ...files({ [SYSTEM_CA_FILES[0]]: 'no certificates here', [SYSTEM_CA_FILES[2]]: otherCA }) });
    assert.equal(r.file, SYSTEM_CA_FILES[0]);
    assert.equal(r.ca, undefined);
    assert.equal(r.problem, undefined, 'Go says nothing of it either');
  });

  it('keeps Node defaults when no file exists, or when the file adds nothing Node has not', () => {
    assert.deepEqual(trustedRoots({ env: {}, ...files({}) }), { ca: undefined, added: 0 });
    const r = trustedRoots({ env: {}, ...files({ [SYSTEM_CA_FILES[0]]: rootCertificates.slice(0, 5).join('\n') }) });
    assert.equal(r.ca, undefined);
    assert.equal(r.file, SYSTEM_CA_FILES[0]);
  });

  it('skips what is not a certificate, adds each certificate once, and says when a named file holds none', () => {
    const bundle = ['junk', siteCA, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----', siteCA, rootCertificates[0], otherCA].join('\n');
    const r = trustedRoots({ env: { SSL_CERT_FILE: '/b.pem' }, ...files({ '/b.pem': bundle }) });
    assert.deepEqual(added(r.ca), [fp(siteCA), fp(otherCA)]);
    const empty = trustedRoots({ env: {}, ...files({ [ARVADOS_CA_FILE]: 'no certificates here' }) });
    assert.equal(empty.ca, undefined);
    assert.equal(empty.problem, `${ARVADOS_CA_FILE} holds no certificate that can be read`);
  });

  it('reads every file of the system certificate directories, as Go, besides the file', () => {
    const r = trustedRoots({ env: {}, ...files({ [SYSTEM_CA_FILES[2]]: siteCA, [`${SYSTEM_CA_DIRS[0]}/site.pem`]: otherCA, [`${SYSTEM_CA_DIRS[1]}/site.crt`]: siteCA }) });
    assert.equal(r.file, SYSTEM_CA_FILES[2]);
    assert.deepEqual(added(r.ca), [fp(siteCA), fp(otherCA)], 'each certificate once');
    assert.deepEqual(r.dirs, { dirs: [SYSTEM_CA_DIRS[0]], added: 1, named: false });
  });

  it('reads the directories SSL_CERT_DIR names (colon-separated) instead of the system ones, skipping what cannot be read', () => {
    const fs = files({ '/a/one.pem': siteCA, '/b/two.pem': otherCA, '/b/notes.txt': 'no certificate', [`${SYSTEM_CA_DIRS[0]}/x.pem`]: rootCertificates[0] });
    const read = (p: string) => (p === '/b/locked.pem' ? (() => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); })() : fs.read(p));
    const list = (d: string) => (d === '/b' ? [...fs.list(d), '/b/locked.pem'] : d === '/denied' ? (() => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); })() : fs.list(d));
    const r = trustedRoots({ env: { SSL_CERT_DIR: '/a:/missing::/b:/denied' }, read, list });
    assert.deepEqual(added(r.ca), [fp(siteCA), fp(otherCA)]);
    assert.deepEqual(r.dirs, { dirs: ['/a', '/b'], added: 2, named: true });
    assert.deepEqual(r.dirProblems, ['SSL_CERT_DIR /denied: EACCES'], 'a missing directory is skipped quietly, as Go does; one it may not read is worth saying');
  });

  it('still reads the directories when SSL_CERT_FILE cannot be read, as Go does', () => {
    const r = trustedRoots({ env: { SSL_CERT_FILE: '/nope.pem', SSL_CERT_DIR: '/site' }, ...files({ '/site/ca.pem': siteCA }) });
    assert.equal(r.problem, 'SSL_CERT_FILE /nope.pem: ENOENT');
    assert.equal(r.added, 0);
    assert.deepEqual(added(r.ca), [fp(siteCA)]);
  });

  it('lists a real directory as Go does: the hash links beside the files they name are skipped, links elsewhere followed', () => {
    const base = mkdtempSync(join(tmpdir(), 'cert-dir-'));
    try {
      const dir = join(base, 'certs');
      mkdirSync(dir);
      mkdirSync(join(base, 'share'));
      writeFileSync(join(dir, 'site.pem'), siteCA);
      symlinkSync('site.pem', join(dir, 'abcd1234.0'));
      writeFileSync(join(base, 'share', 'other.crt'), otherCA);
      symlinkSync('../share/other.crt', join(dir, 'other.pem'));
      mkdirSync(join(dir, 'sub'));
      assert.deepEqual(certDirEntries(dir).sort(), [join(dir, 'other.pem'), join(dir, 'site.pem'), join(dir, 'sub')]);
      const r = trustedRoots({ env: { SSL_CERT_FILE: join(dir, 'site.pem'), SSL_CERT_DIR: dir } });
      assert.deepEqual(added(r.ca), [fp(siteCA), fp(otherCA)]);
      assert.deepEqual(r.dirs, { dirs: [dir], added: 1, named: true });
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('builds one TLS context per list of roots, and none for the default', async () => {
    const ca = [...rootCertificates, siteCA];
    const a = secureContextOption(ca).secureContext;
    assert.ok(a);
    assert.equal(secureContextOption(ca).secureContext, a, 'the same list, the same context');
    assert.notEqual(secureContextOption([...ca]).secureContext, a, 'another list, another context');
    // A CA file that adds nothing to Node's roots: Node's default context.
    await withSslCertFile(rootCertificates[0], () => assert.deepEqual(secureContextOption(), {}));
  });

  it('reads PEM with CRLF line ends and text between certificates, as bundles often have', () => {
    const crlf = `# Site CA\r\n${siteCA.replace(/\n/g, '\r\n')}\r\n`;
    assert.deepEqual(pemCertificates(crlf).map((c) => c.fingerprint256), [fp(siteCA)]);
  });
});
