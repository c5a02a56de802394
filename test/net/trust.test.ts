/**
 * The roots our TLS clients trust: the file the reference's Go clients would
 * read (SSL_CERT_FILE, else /etc/arvados/ca-certificates.crt, else the
 * system bundle), on top of Node's own roots.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { ARVADOS_CA_FILE, pemCertificates, secureContextOption, SYSTEM_CA_FILES, trustedRoots } from '../../src/net/trust.js';
import { selfSignedCertificate } from '../arvados/self-signed.js';
import { withSslCertFile } from '../fixtures/ssl-cert-file.js';

const siteCA = selfSignedCertificate({ dnsName: 'ca.example' }).cert;
const otherCA = selfSignedCertificate({ dnsName: 'other.example' }).cert;
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

/** A file system of these files only; reading anything else fails with ENOENT. */
function files(contents: Record<string, string>): (path: string) => string {
  return (path) => {
    if (path in contents) return contents[path];
    throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
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
    const read = files({ '/site/ca.pem': siteCA, [ARVADOS_CA_FILE]: otherCA, [SYSTEM_CA_FILES[0]]: otherCA });
    const r = trustedRoots({ env: { SSL_CERT_FILE: '/site/ca.pem' }, read });
    assert.equal(r.file, '/site/ca.pem');
    assert.deepEqual(added(r.ca), [fp(siteCA)]);
    assert.equal(r.added, 1);
  });

  it('says why when SSL_CERT_FILE cannot be read, and keeps Node roots', () => {
    const r = trustedRoots({ env: { SSL_CERT_FILE: '/nope.pem' }, read: files({ [ARVADOS_CA_FILE]: siteCA }) });
    assert.equal(r.ca, undefined);
    assert.equal(r.problem, 'SSL_CERT_FILE /nope.pem: ENOENT');
  });

  it('takes /etc/arvados/ca-certificates.crt before the system bundle, as the reference SDK sets SSL_CERT_FILE to it', () => {
    const r = trustedRoots({ env: {}, read: files({ [ARVADOS_CA_FILE]: siteCA, [SYSTEM_CA_FILES[0]]: otherCA }) });
    assert.equal(r.file, ARVADOS_CA_FILE);
    assert.deepEqual(added(r.ca), [fp(siteCA)]);
  });

  it('falls back to the first system bundle that can be read, in Go order', () => {
    const r = trustedRoots({ env: {}, read: files({ [SYSTEM_CA_FILES[2]]: otherCA, [SYSTEM_CA_FILES[4]]: siteCA }) });
    assert.equal(r.file, SYSTEM_CA_FILES[2]);
    assert.deepEqual(added(r.ca), [fp(otherCA)]);
  });

  it('keeps Node defaults when no file exists, or when the file adds nothing Node has not', () => {
    assert.deepEqual(trustedRoots({ env: {}, read: files({}) }), { ca: undefined, added: 0 });
    const r = trustedRoots({ env: {}, read: files({ [SYSTEM_CA_FILES[0]]: rootCertificates.slice(0, 5).join('\n') }) });
    assert.equal(r.ca, undefined);
    assert.equal(r.file, SYSTEM_CA_FILES[0]);
  });

  it('skips what is not a certificate, adds each certificate once, and says when a named file holds none', () => {
    const bundle = ['junk', siteCA, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----', siteCA, rootCertificates[0], otherCA].join('\n');
    const r = trustedRoots({ env: { SSL_CERT_FILE: '/b.pem' }, read: files({ '/b.pem': bundle }) });
    assert.deepEqual(added(r.ca), [fp(siteCA), fp(otherCA)]);
    const empty = trustedRoots({ env: {}, read: files({ [ARVADOS_CA_FILE]: 'no certificates here' }) });
    assert.equal(empty.ca, undefined);
    assert.equal(empty.problem, `${ARVADOS_CA_FILE} holds no certificate that can be read`);
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
