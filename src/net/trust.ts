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
 * Go then reads every file of the certificate directories as well: those
 * `SSL_CERT_DIR` names (separated by colons), or else /etc/ssl/certs and
 * /etc/pki/tls/certs, skipping a symbolic link whose target has no slash
 * (the hash links `c_rehash` makes beside the files they name), and trusting
 * whatever certificates the files hold. A site that drops its CA into
 * /etc/ssl/certs without running update-ca-certificates, or points
 * `SSL_CERT_DIR` at its own directory, is trusted by the reference that way.
 *
 * So the daemon reads the same file and directories the reference would and
 * trusts their certificates in addition to Node's own roots. Adding rather
 * than replacing means that a file holding only the site's CA (which the
 * reference would take as its only root) does not cut us off from public
 * endpoints; nothing the reference trusts is refused.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
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

/** The certificate directories Go reads when `SSL_CERT_DIR` is unset (crypto/x509, Linux). */
export const SYSTEM_CA_DIRS = ['/etc/ssl/certs', '/etc/pki/tls/certs'];

export interface TrustedRoots {
  /** The PEM certificates to pass as `ca` (Node's roots, the file's and the directories'), or undefined to keep Node's default. */
  ca: string[] | undefined;
  /** The file read, if any. */
  file?: string;
  /** How many certificates the file added to Node's roots. */
  added: number;
  /** The directories whose files added certificates to Node's roots and the file's, and how many. */
  dirs?: { dirs: string[]; added: number; named: boolean };
  /** Why the file was not used, when one was named or present but gave nothing. */
  problem?: string;
  /** Why a directory `SSL_CERT_DIR` names could not be read. */
  dirProblems?: string[];
}

export interface TrustInputs {
  env?: Record<string, string | undefined>;
  /** Reads a file, or throws as readFileSync does (tests inject one). */
  read?: (path: string) => string;
  /** The files of a directory to read, as Go picks them, or throws as readdirSync does (tests inject one). */
  list?: (dir: string) => string[];
}

/**
 * The entries of `dir` Go reads for certificates: all of them but the
 * symbolic links whose target has no slash (they name a file of the same
 * directory, read under its own name). Subdirectories are listed too; reading
 * one fails and it is skipped, as in Go.
 */
export function certDirEntries(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isSymbolicLink()) {
      let target: string | undefined;
      try {
        target = readlinkSync(path);
      } catch {
        // Gone between the listing and now: read (and fail) as Go would.
      }
      if (target !== undefined && !target.includes('/')) continue;
    }
    out.push(path);
  }
  return out;
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

/** The certificates of `certs` that `seen` (fingerprints: Node's own roots, and those taken already) does not hold, each once, as PEM; `seen` gets them. */
function beyondNodeRoots(certs: readonly X509Certificate[], seen: Set<string>): string[] {
  const out: string[] = [];
  for (const c of certs) {
    if (seen.has(c.fingerprint256)) continue;
    seen.add(c.fingerprint256);
    out.push(c.toString());
  }
  return out;
}

/**
 * The roots to trust, by the reference's rules for which file to read
 * (`SSL_CERT_FILE` if set; else /etc/arvados/ca-certificates.crt if it can be
 * read; else the first system bundle that can be read) and which
 * directories (`SSL_CERT_DIR`'s, else the system's).
 */
export function trustedRoots(inputs: TrustInputs = {}): TrustedRoots {
  const env = inputs.env ?? process.env;
  const read = inputs.read ?? ((p: string) => readFileSync(p, 'utf8'));
  const seen = new Set(pemCertificates(rootCertificates.join('\n')).map((c) => c.fingerprint256));
  const fromFile = trustedFile(env.SSL_CERT_FILE, read, seen);
  const fromDirs = trustedDirs(env.SSL_CERT_DIR, read, inputs.list ?? certDirEntries, seen, fromFile.file);
  const extra = [...fromFile.extra, ...fromDirs.extra];
  const out: TrustedRoots = { ca: extra.length > 0 ? [...rootCertificates, ...extra] : undefined, added: fromFile.extra.length };
  if (fromFile.file !== undefined) out.file = fromFile.file;
  if (fromFile.problem !== undefined) out.problem = fromFile.problem;
  if (fromDirs.extra.length > 0) out.dirs = { dirs: fromDirs.dirs, added: fromDirs.extra.length, named: Boolean(env.SSL_CERT_DIR) };
  if (fromDirs.problems.length > 0) out.dirProblems = fromDirs.problems;
  return out;
}

/** The file's certificates beyond `seen` (which it extends). */
function trustedFile(named: string | undefined, read: (path: string) => string, seen: Set<string>): { extra: string[]; file?: string; problem?: string } {
  const candidates = named ? [named] : [ARVADOS_CA_FILE, ...SYSTEM_CA_FILES];
  for (const file of candidates) {
    let text: string;
    try {
      text = read(file);
    } catch (err) {
      if (named) return { extra: [], file, problem: `SSL_CERT_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
      continue;
    }
    const certs = pemCertificates(text);
    // Go stops at the first file it can read, whatever it holds: a system bundle without certificates is not passed over for the next.
    if (certs.length === 0) return named || file === ARVADOS_CA_FILE ? { extra: [], file, problem: `${file} holds no certificate that can be read` } : { extra: [], file };
    return { extra: beyondNodeRoots(certs, seen), file };
  }
  return { extra: [] };
}

/**
 * The directories' certificates beyond `seen` (which it extends), and which
 * directories gave some. A directory that does not exist is skipped quietly,
 * as Go skips it; one `SSL_CERT_DIR` names that cannot be read otherwise is
 * a problem to report. `file`, the bundle already read (on Debian it sits in
 * /etc/ssl/certs), is not read again: its certificates are in `seen`.
 */
function trustedDirs(
  named: string | undefined,
  read: (path: string) => string,
  list: (dir: string) => string[],
  seen: Set<string>,
  file: string | undefined,
): { extra: string[]; dirs: string[]; problems: string[] } {
  const out = { extra: [] as string[], dirs: [] as string[], problems: [] as string[] };
  for (const dir of named ? named.split(':') : SYSTEM_CA_DIRS) {
    let paths: string[];
    try {
      paths = list(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (named && code !== 'ENOENT') out.problems.push(`SSL_CERT_DIR ${dir}: ${code ?? (err as Error).message}`);
      continue;
    }
    const before = out.extra.length;
    for (const path of paths) {
      if (path === file) continue;
      let text: string;
      try {
        text = read(path);
      } catch {
        continue; // a subdirectory, a dangling link, a file we may not read: skipped, as Go skips it
      }
      out.extra.push(...beyondNodeRoots(pemCertificates(text), seen));
    }
    if (out.extra.length > before) out.dirs.push(dir);
  }
  return out;
}

let cached: { key: string | undefined; roots: TrustedRoots } | undefined;

/**
 * `trustedRoots()` for this process, read once and shared by every client;
 * read again only if SSL_CERT_FILE or SSL_CERT_DIR changes (tests set them).
 */
export function processTrustedRoots(): TrustedRoots {
  const key = `${process.env.SSL_CERT_FILE ?? ''}\n${process.env.SSL_CERT_DIR ?? ''}`;
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
