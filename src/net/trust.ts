/**
 * Which certificate authorities our TLS clients trust, so that a cluster
 * whose controller (or EC2 endpoint, through an inspecting proxy) has a
 * certificate from a private CA works as it does with the reference.
 *
 * The reference is a Go program: its clients trust the system's roots, read
 * from the file `SSL_CERT_FILE` names or else from the first bundle that
 * exists among the distributions' usual paths. And the Arvados Go SDK sets
 * `SSL_CERT_FILE` to `/etc/arvados/ca-certificates.crt` when that file exists
 * and the variable is unset, which is where Arvados' install guide tells a
 * site with its own CA to put it. Node trusts neither: it has its own copy
 * of Mozilla's roots and reads only `NODE_EXTRA_CA_CERTS`, at start.
 *
 * So the daemon reads the same file the reference would and trusts its
 * certificates in addition to Node's own roots. Adding rather than replacing
 * means that a file holding only the site's CA (which the reference would
 * take as its only root) does not cut us off from public endpoints; nothing
 * the reference trusts is refused. Certificate directories (`SSL_CERT_DIR`,
 * /etc/ssl/certs/*.pem) are not read: on the distributions Arvados supports
 * they hold the same certificates as the bundle.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

/** Where Arvados puts a site's CA bundle; the reference's SDK points SSL_CERT_FILE at it when it exists. */
export const ARVADOS_CA_FILE = '/etc/arvados/ca-certificates.crt';

/** The system bundles Go looks for, in its order (crypto/x509, Linux), the first that exists wins. */
export const SYSTEM_CA_FILES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL 6
  '/etc/ssl/ca-bundle.pem', // OpenSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS, RHEL 7
  '/etc/ssl/cert.pem', // Alpine
];

export interface TrustedRoots {
  /** The PEM certificates to pass as `ca` (Node's roots and the file's), or undefined to keep Node's default. */
  ca: string[] | undefined;
  /** The file read, if any. */
  file?: string;
  /** How many certificates the file added to Node's roots. */
  added: number;
  /** Why the file was not used, when one was named or present but gave nothing. */
  problem?: string;
}

export interface TrustInputs {
  env?: Record<string, string | undefined>;
  /** Reads a file, or throws as readFileSync does (tests inject one). */
  read?: (path: string) => string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle that parse; as Go's AppendCertsFromPEM, others are skipped. */
export function pemCertificates(text: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const m of text.matchAll(PEM_CERTIFICATE)) {
    try {
      out.push(new X509Certificate(m[0]));
    } catch {
      // Not a certificate Node can read: skipped, as Go skips one it cannot parse.
    }
  }
  return out;
}

/** The certificates of `certs` that Node's own roots do not hold (by fingerprint), each once, as PEM. */
function beyondNodeRoots(certs: readonly X509Certificate[]): string[] {
  const seen = new Set(pemCertificates(rootCertificates.join('\n')).map((c) => c.fingerprint256));
  const out: string[] = [];
  for (const c of certs) {
    if (seen.has(c.fingerprint256)) continue;
    seen.add(c.fingerprint256);
    out.push(c.toString());
  }
  return out;
}

/**
 * The roots to trust, by the reference's rules for which file to read:
 * `SSL_CERT_FILE` if set; else /etc/arvados/ca-certificates.crt if it can be
 * read; else the first system bundle that can be read.
 */
export function trustedRoots(inputs: TrustInputs = {}): TrustedRoots {
  const env = inputs.env ?? process.env;
  const read = inputs.read ?? ((p: string) => readFileSync(p, 'utf8'));
  const named = env.SSL_CERT_FILE;
  const candidates = named ? [named] : [ARVADOS_CA_FILE, ...SYSTEM_CA_FILES];
  for (const file of candidates) {
    let text: string;
    try {
      text = read(file);
    } catch (err) {
      if (named) return { ca: undefined, added: 0, file, problem: `SSL_CERT_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
      continue;
    }
    const certs = pemCertificates(text);
    if (certs.length === 0) {
      if (named || file === ARVADOS_CA_FILE) return { ca: undefined, added: 0, file, problem: `${file} holds no certificate that can be read` };
      continue;
    }
    const extra = beyondNodeRoots(certs);
    if (extra.length === 0) return { ca: undefined, added: 0, file };
    return { ca: [...rootCertificates, ...extra], added: extra.length, file };
  }
  return { ca: undefined, added: 0 };
}

let cached: { key: string | undefined; roots: TrustedRoots } | undefined;

/**
 * `trustedRoots()` for this process, read once and shared by every client;
 * read again only if SSL_CERT_FILE changes (tests set it).
 */
export function processTrustedRoots(): TrustedRoots {
  const key = process.env.SSL_CERT_FILE;
  if (!cached || cached.key !== key) cached = { key, roots: trustedRoots() };
  return cached.roots;
}

/** `{ ca }` for a TLS client's options when the process's roots add to Node's, else nothing (Node's default). */
export function caOption(): { ca?: string[] } {
  const ca = processTrustedRoots().ca;
  return ca ? { ca } : {};
}

const contexts = new WeakMap<readonly string[], SecureContext>();

/**
 * `{ secureContext }` holding `ca` (by default the process's roots, as
 * caOption), built once per list: a context with a few hundred roots takes
 * ~30 ms to build, which `{ ca }` would spend on every new connection.
 * Nothing when `ca` is undefined (Node's default context).
 */
export function secureContextOption(ca: readonly string[] | undefined = processTrustedRoots().ca): { secureContext?: SecureContext } {
  if (!ca) return {};
  let ctx = contexts.get(ca);
  if (!ctx) {
    ctx = createSecureContext({ ca: [...ca] });
    contexts.set(ca, ctx);
  }
  return { secureContext: ctx };
}
